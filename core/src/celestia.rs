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

/// What a blob of `size` bytes weighs in a batch: the payload its shares
/// hold. Each blob starts on a share of its own, so a batch whose blobs'
/// bytes fit a square may still need more shares than it has (many small
/// blobs); weighed by shares, a batch within a layer's `max_batch_bytes`
/// (the payload of a full square) always fits.
pub fn batch_weight(size: usize) -> usize {
    square::shares_for(size).saturating_mul(square::CONTINUATION_SHARE_PAYLOAD)
}

/// Blobs grouped into PayForBlobs transactions as the publisher sends them:
/// in order, each transaction's blobs weighing ([`batch_weight`]) up to
/// `max_batch_bytes` (a heavier blob goes alone).
pub fn batches(blob_sizes: &[usize], max_batch_bytes: usize) -> Vec<Vec<usize>> {
    let mut txs: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_weight = 0usize;
    for &s in blob_sizes {
        let w = batch_weight(s);
        if !cur.is_empty() && cur_weight.saturating_add(w) > max_batch_bytes {
            txs.push(std::mem::take(&mut cur));
            cur_weight = 0;
        }
        cur.push(s);
        cur_weight = cur_weight.saturating_add(w);
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
