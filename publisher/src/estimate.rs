//! What a publication will cost before anything is posted: blobs, shares,
//! bytes, the fee and the time, from a plan and the layer's limits.

use modelda_da::{FeeParams, LayerKind, Limits};
use serde::Serialize;

use crate::Plan;

/// Seconds between Celestia blocks on mainnet.
pub const CELESTIA_BLOCK_SECONDS: u64 = 6;

/// Seconds of EigenDA dispersal per blob, roughly.
pub const EIGENDA_SECONDS_PER_BLOB: u64 = 10;

/// What the estimate depends on besides the plan.
#[derive(Clone, Copy, Debug)]
pub struct EstimateParams {
    /// The layer.
    pub layer: LayerKind,
    /// Its limits (the batch limit decides how blobs group into
    /// transactions).
    pub limits: Limits,
    /// Celestia gas price, utia per gas.
    pub gas_price: f64,
    /// Width of a full Celestia square, in shares.
    pub square_width: u64,
    /// Submissions in flight at once.
    pub jobs: usize,
    /// Avail's runtime (matrix, block time), read from the node or its
    /// documented defaults.
    pub avail: modelda_da::avail::Runtime,
}

/// The fee of a publication: the layer kind's fee model
/// ([`LayerKind::fee`]).
pub use modelda_da::Fee;

/// The estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Blobs of shards (the record comes on top).
    pub blobs: usize,
    /// Shards.
    pub shards: usize,
    /// Celestia shares the blobs take.
    pub celestia_shares: u64,
    /// Blob bytes.
    pub bytes: u64,
    /// The fee.
    pub fee: Fee,
    /// Seconds, at the layer's capacity.
    pub estimated_seconds: u64,
    /// How the time was estimated.
    pub time_basis: String,
}

/// Estimates the cost of posting `plan`.
pub fn estimate(plan: &Plan, p: &EstimateParams) -> Estimate {
    let sizes: Vec<usize> = plan.blobs.iter().map(|b| b.size).collect();
    let shares: u64 = sizes
        .iter()
        .map(|&s| modelda_da::square::shares_for(s) as u64)
        .sum();
    let fee = p.layer.fee(
        &sizes,
        &FeeParams {
            gas_price: p.gas_price,
            max_batch_bytes: p.limits.max_batch_bytes,
            avail: p.avail,
        },
    );
    let jobs = p.jobs.max(1) as u64;
    let (estimated_seconds, time_basis) = match p.layer {
        LayerKind::Celestia | LayerKind::Local => {
            let width = p.square_width.max(1);
            let blocks = shares.div_ceil(width * width);
            (
                blocks * CELESTIA_BLOCK_SECONDS,
                format!(
                    "{blocks} full blocks of {width}x{width} shares at {CELESTIA_BLOCK_SECONDS} s (Celestia mainnet)"
                ),
            )
        }
        LayerKind::Avail => {
            let r = &p.avail;
            let bytes: u64 = sizes.iter().map(|&s| s as u64).sum();
            let blocks = bytes.div_ceil(r.block_data_bytes().max(1)).max(1);
            // Finality: about 3 blocks (60 s on mainnet).
            let finality_ms = 3 * r.block_ms;
            let source = match (r.matrix_from_node, r.block_time_from_node) {
                (true, true) => "read from the node",
                (true, false) => "matrix read from the node, Avail mainnet's block time",
                _ => "Avail mainnet's defaults: the node could not be read",
            };
            (
                (blocks * r.block_ms + finality_ms).div_ceil(1000),
                format!(
                    "{blocks} blocks of {} KiB of data ({}x{} cells) at {:.1} s, then about {:.0} s to finality ({source})",
                    r.block_data_bytes() / 1024,
                    r.rows,
                    r.cols,
                    r.block_ms as f64 / 1000.0,
                    finality_ms as f64 / 1000.0
                ),
            )
        }
        LayerKind::Eigenda => (
            sizes.len() as u64 * EIGENDA_SECONDS_PER_BLOB / jobs,
            format!("about {EIGENDA_SECONDS_PER_BLOB} s of dispersal per blob, {jobs} at a time"),
        ),
    };
    Estimate {
        blobs: plan.blobs.len(),
        shards: plan.slots.len(),
        celestia_shares: shares,
        bytes: plan.bytes(),
        fee,
        estimated_seconds,
        time_basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Geometry;
    use modelda_manifest::{FileEntry, FileFormat, ModelManifest};
    use modelda_merkle::{FileRoot, LeafSize};

    fn manifest(size: u64) -> ModelManifest {
        ModelManifest {
            version: 1,
            files: vec![FileEntry {
                path: "w.bin".into(),
                size,
                root: FileRoot::from_bytes([1; 32]),
                leaf_size: LeafSize::from_bytes(64 << 10).unwrap(),
                format: FileFormat::Other,
                tensors: Vec::new(),
            }],
            lineage: vec![],
            training: None,
            card: Default::default(),
        }
    }

    #[test]
    fn fees_follow_the_layers_formulas() {
        let m = manifest(10 << 20);
        let plan = Plan::new(&m, Geometry::default(), 1 << 20, &Vec::new(), 0).unwrap();
        let limits = Limits {
            max_blob_bytes: 1 << 20,
            max_batch_bytes: 2 << 20,
        };
        let mut p = EstimateParams {
            layer: LayerKind::Celestia,
            limits,
            gas_price: 0.004,
            square_width: 128,
            jobs: 4,
            avail: Default::default(),
        };
        let e = estimate(&plan, &p);
        assert_eq!(e.blobs, plan.blobs.len());
        assert!(e.bytes > 10 << 20, "parity and envelopes on top");
        let Fee::Gas {
            utia,
            gas,
            transactions,
            ..
        } = e.fee
        else {
            panic!("a gas fee on Celestia")
        };
        // Transactions of at most 2 MiB of blobs, at least one blob each.
        assert!(transactions as u64 >= e.bytes.div_ceil(2 << 20));
        assert!(transactions <= plan.blobs.len());
        assert_eq!(utia, (gas as f64 * 0.004).ceil() as u64);
        assert!(gas > e.celestia_shares * 512 * 8);
        p.layer = LayerKind::Eigenda;
        let e = estimate(&plan, &p);
        let Fee::Billed { billed_bytes } = e.fee else {
            panic!("billed bytes on EigenDA")
        };
        assert!(billed_bytes >= e.bytes);
        assert_eq!(e.estimated_seconds, plan.blobs.len() as u64 * 10 / 4);
    }
}
