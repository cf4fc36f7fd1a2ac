//! Celestia's fee model: gas per PayForBlobs transaction, and how the
//! publisher batches blobs into transactions.

use crate::square;

/// Smallest gas price Celestia validators accept, in utia per gas.
pub const MIN_GAS_PRICE: f64 = 0.004;

/// Gas a PayForBlobs transaction of blobs of these sizes uses:
/// `shares * 512 * 8 + 10 * 70 * blobs + 75_000`.
pub fn estimate_gas(blob_sizes: &[usize]) -> u64 {
    let shares: u64 = blob_sizes
        .iter()
        .map(|&s| square::shares_for(s) as u64)
        .sum();
    shares * 512 * 8 + 10 * 70 * blob_sizes.len() as u64 + 75_000
}

/// Blobs grouped into PayForBlobs transactions as the publisher sends them:
/// in order, each transaction up to `max_batch_bytes` (a larger blob goes
/// alone).
pub fn batches(blob_sizes: &[usize], max_batch_bytes: usize) -> Vec<Vec<usize>> {
    let mut txs: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_bytes = 0usize;
    for &s in blob_sizes {
        if !cur.is_empty() && cur_bytes.saturating_add(s) > max_batch_bytes {
            txs.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur.push(s);
        cur_bytes = cur_bytes.saturating_add(s);
    }
    if !cur.is_empty() {
        txs.push(cur);
    }
    txs
}

/// Fee in utia at `gas_price` utia per gas, rounded up.
pub fn estimate_fee(blob_sizes: &[usize], gas_price: f64) -> u64 {
    (estimate_gas(blob_sizes) as f64 * gas_price).ceil() as u64
}
