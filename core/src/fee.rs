//! What blobs cost on each kind of layer: one model, so the publisher's
//! estimate, the API's cost of a publication and the CLI's advisory fee
//! agree.
//!
//! - Celestia, and the embedded chain, which prices like it so that a
//!   rehearsal on it predicts the Celestia bill: gas per PayForBlobs
//!   transaction ([`crate::celestia`]), blobs batched as the publisher
//!   batches them, at a gas price;
//! - EigenDA: billed bytes ([`crate::eigenda::billed_bytes`]);
//! - Avail: one `submit_data` per blob ([`crate::avail::Runtime::fee_nano`]).

use serde::Serialize;

use crate::avail::Runtime;
use crate::{celestia, eigenda, LayerKind};

/// What a fee depends on besides the blobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeeParams {
    /// Celestia gas price, utia per gas. Default:
    /// [`celestia::MIN_GAS_PRICE`].
    pub gas_price: f64,
    /// Largest PayForBlobs batch, in bytes: blobs are grouped into
    /// transactions up to it. Default: unbounded (one transaction).
    pub max_batch_bytes: usize,
    /// Avail's runtime (matrix size). Default: Avail mainnet's.
    pub avail: Runtime,
}

impl Default for FeeParams {
    fn default() -> Self {
        FeeParams {
            gas_price: celestia::MIN_GAS_PRICE,
            max_batch_bytes: usize::MAX,
            avail: Runtime::default(),
        }
    }
}

/// The fee of some blobs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fee {
    /// Celestia (and the embedded chain, which prices like it): gas per
    /// PayForBlobs transaction at a gas price.
    Gas {
        /// Fee in utia.
        utia: u64,
        /// Gas in all.
        gas: u64,
        /// utia per gas.
        gas_price: f64,
        /// Transactions, blobs batched as the publisher batches them.
        transactions: usize,
    },
    /// EigenDA: bytes billed (symbols of 31 payload bytes, padded to a
    /// power of two, at least 4096 symbols per blob).
    Billed {
        /// Billed bytes.
        billed_bytes: u64,
    },
    /// Avail: base, length and matrix-weight fees of each `submit_data`,
    /// before the chain's multipliers.
    Avail {
        /// Fee in nano-AVAIL.
        nano_avail: u64,
        /// `submit_data` transactions (one per blob).
        submissions: usize,
    },
}

impl LayerKind {
    /// The fee of posting blobs of `blob_sizes` bytes, in order.
    pub fn fee(self, blob_sizes: &[usize], p: &FeeParams) -> Fee {
        match self {
            LayerKind::Celestia | LayerKind::Local => {
                let txs = celestia::batches(blob_sizes, p.max_batch_bytes);
                let gas: u64 = txs.iter().map(|t| celestia::estimate_gas(t)).sum();
                Fee::Gas {
                    utia: (gas as f64 * p.gas_price).ceil() as u64,
                    gas,
                    gas_price: p.gas_price,
                    transactions: txs.len(),
                }
            }
            LayerKind::Eigenda => Fee::Billed {
                billed_bytes: blob_sizes.iter().map(|&s| eigenda::billed_bytes(s)).sum(),
            },
            LayerKind::Avail => Fee::Avail {
                nano_avail: blob_sizes.iter().map(|&s| p.avail.fee_nano(s)).sum(),
                submissions: blob_sizes.len(),
            },
        }
    }

    /// What a blob of `size` bytes weighs against the layer's
    /// `max_batch_bytes` when blobs are grouped into one submission: on
    /// square layers, the payload of the shares it fills
    /// ([`celestia::batch_weight`]); elsewhere its bytes.
    pub fn batch_weight(self, size: usize) -> usize {
        match self {
            LayerKind::Celestia | LayerKind::Local => celestia::batch_weight(size),
            LayerKind::Eigenda | LayerKind::Avail => size,
        }
    }

    /// What the fees a layer reports for posted blobs are counted in, and
    /// who pays.
    pub fn fee_unit(self) -> &'static str {
        match self {
            LayerKind::Celestia => "utia",
            LayerKind::Local => "(local chain: free)",
            LayerKind::Eigenda => "(EigenDA: paid off-chain by reservation or on-demand deposit)",
            LayerKind::Avail => "(Avail: paid by the light client's account)",
        }
    }
}

impl Fee {
    /// The fee in utia, on Celestia-style layers.
    pub fn utia(&self) -> Option<u64> {
        match self {
            Fee::Gas { utia, .. } => Some(*utia),
            _ => None,
        }
    }

    /// The billed bytes, on EigenDA.
    pub fn billed_bytes(&self) -> Option<u64> {
        match self {
            Fee::Billed { billed_bytes } => Some(*billed_bytes),
            _ => None,
        }
    }

    /// The fee in nano-AVAIL, on Avail.
    pub fn nano_avail(&self) -> Option<u64> {
        match self {
            Fee::Avail { nano_avail, .. } => Some(*nano_avail),
            _ => None,
        }
    }
}

impl std::fmt::Display for Fee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fee::Gas {
                utia,
                gas,
                gas_price,
                transactions,
            } => write!(
                f,
                "{utia} utia ({gas} gas at {gas_price} utia/gas, {transactions} transaction{})",
                if *transactions == 1 { "" } else { "s" }
            ),
            Fee::Billed { billed_bytes } => write!(
                f,
                "{billed_bytes} billed bytes (each blob padded to at least 128 KiB)"
            ),
            Fee::Avail {
                nano_avail,
                submissions,
            } => write!(
                f,
                "{:.4} AVAIL for {submissions} submit_data (before the chain's multipliers)",
                *nano_avail as f64 / 1e9
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::square;

    #[test]
    fn each_kind_has_its_model() {
        let sizes = [1000usize, 2 << 20, 10];
        let p = FeeParams {
            max_batch_bytes: 1 << 20,
            ..FeeParams::default()
        };
        // Batches: [1000], [2 MiB], [10]: three transactions.
        let Fee::Gas {
            utia,
            gas,
            transactions,
            ..
        } = LayerKind::Celestia.fee(&sizes, &p)
        else {
            panic!("gas on Celestia")
        };
        assert_eq!(transactions, 3);
        let want: u64 = [1000usize, 2 << 20, 10]
            .iter()
            .map(|&s| celestia::estimate_gas(&[s]))
            .sum();
        assert_eq!(gas, want);
        assert_eq!(utia, (want as f64 * celestia::MIN_GAS_PRICE).ceil() as u64);
        assert_eq!(
            LayerKind::Local.fee(&sizes, &p),
            LayerKind::Celestia.fee(&sizes, &p)
        );
        assert_eq!(
            LayerKind::Eigenda.fee(&sizes, &p).billed_bytes(),
            Some(sizes.iter().map(|&s| eigenda::billed_bytes(s)).sum())
        );
        let avail = LayerKind::Avail.fee(&sizes, &p);
        assert_eq!(
            avail.nano_avail(),
            Some(sizes.iter().map(|&s| Runtime::default().fee_nano(s)).sum())
        );
        assert_eq!(avail.utia(), None);
        assert!(avail.to_string().contains("3 submit_data"), "{avail}");
    }

    #[test]
    fn batches_of_small_blobs_fit_the_square_they_go_to() {
        // A full 128x128 square's payload, the embedded chain's batch limit.
        let shares = 128 * 128;
        let max = square::FIRST_SHARE_PAYLOAD + (shares - 1) * square::CONTINUATION_SHARE_PAYLOAD;
        // 479 bytes take two shares: by bytes, 16,486 of them would be
        // one batch of 32,972 shares.
        for size in [479usize, 1000, 200_000, max] {
            let sizes = vec![size; 20_000.min(3 * max / size + 1)];
            let txs = celestia::batches(&sizes, max);
            assert_eq!(txs.iter().map(Vec::len).sum::<usize>(), sizes.len());
            for tx in &txs {
                let used: usize = tx.iter().map(|&s| square::shares_for(s)).sum();
                assert!(
                    used <= shares,
                    "{size}: {} blobs take {used} shares",
                    tx.len()
                );
            }
            assert!(
                LayerKind::Local.batch_weight(size) >= size
                    && LayerKind::Eigenda.batch_weight(size) == size
            );
        }
    }
}
