//! The Merkle tree over a DAH's row and column roots, kept so that rows
//! are proven to the data root without hashing it again.
//!
//! celestia-types' `DataAvailabilityHeader::row_proof` hashes the whole
//! tree once for every row it proves (a proof of 17 rows of a 128x128
//! square hashes its 512 roots 17 times). This keeps the tree's levels and
//! reads each row's aunts from them: the same proofs (the tests check).

use std::ops::RangeInclusive;

use celestia_proto::celestia::core::v1::proof::RowProof as RawRowProof;
use celestia_types::nmt::NamespacedHashExt;
use celestia_types::{DataAvailabilityHeader, MerkleProof, RowProof};
use sha2::{Digest, Sha256};

/// The levels of the RFC 6962 tree over a DAH's row then column roots,
/// leaves first; `None` when their count is not a power of two (a DAH's
/// always is: four times a power of two).
pub struct DahTree {
    levels: Vec<Vec<[u8; 32]>>,
}

fn leaf_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

fn inner_hash(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

impl DahTree {
    /// The tree of `dah`, or `None` when its roots do not make a
    /// power-of-two tree.
    pub fn new(dah: &DataAvailabilityHeader) -> Option<DahTree> {
        let leaves: Vec<[u8; 32]> = dah
            .row_roots()
            .iter()
            .chain(dah.column_roots())
            .map(|r| leaf_hash(&r.to_array()))
            .collect();
        if !leaves.len().is_power_of_two() || leaves.len() < 2 {
            return None;
        }
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = levels
                .last()
                .expect("a level")
                .chunks_exact(2)
                .map(|p| inner_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Some(DahTree { levels })
    }

    /// The data root (the tree's root).
    pub fn root(&self) -> [u8; 32] {
        self.levels.last().expect("a root")[0]
    }

    /// The proof of rows `rows` of `dah` (the DAH this tree was built from)
    /// to its data root, as `DataAvailabilityHeader::row_proof` gives it.
    pub fn row_proof(
        &self,
        dah: &DataAvailabilityHeader,
        rows: RangeInclusive<u16>,
    ) -> Result<RowProof, String> {
        let total = self.levels[0].len();
        let width = dah.row_roots().len();
        if rows.is_empty() || usize::from(*rows.end()) >= width || width * 2 != total {
            return Err(format!(
                "rows {}..={} of a DAH of {width} rows",
                rows.start(),
                rows.end()
            ));
        }
        let mut raw = RawRowProof {
            row_roots: Vec::with_capacity(rows.len()),
            proofs: Vec::with_capacity(rows.len()),
            root: Vec::new(),
            start_row: u32::from(*rows.start()),
            end_row: u32::from(*rows.end()),
        };
        for row in rows {
            let i = usize::from(row);
            let aunts = self.levels[..self.levels.len() - 1]
                .iter()
                .enumerate()
                .map(|(d, level)| level[(i >> d) ^ 1])
                .collect();
            let proof = MerkleProof {
                index: i,
                total,
                leaf_hash: self.levels[0][i],
                aunts,
            };
            raw.row_roots.push(dah.row_roots()[i].to_vec());
            raw.proofs.push(proof.into());
        }
        RowProof::try_from(raw).map_err(|e| format!("row proof: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::square;
    use celestia_types::nmt::Namespace as CNamespace;
    use celestia_types::Blob;

    #[test]
    fn gives_celestia_types_row_proofs() {
        let ns = CNamespace::new_v0(b"dahtree").unwrap();
        for len in [100usize, 40_000, 300_000] {
            let blob = Blob::new(ns, vec![7u8; len], None).unwrap();
            let sq = square::build(1, &[blob], 128).unwrap();
            let tree = DahTree::new(&sq.dah).unwrap();
            assert_eq!(tree.root().as_slice(), sq.dah.hash().as_bytes());
            let w = sq.dah.row_roots().len() as u16;
            for rows in [0..=0, 0..=w - 1, w / 2..=w - 1, w - 1..=w - 1] {
                let ours = tree.row_proof(&sq.dah, rows.clone()).unwrap();
                assert_eq!(ours, sq.dah.row_proof(rows).unwrap(), "len {len}");
                ours.verify(sq.dah.hash()).unwrap();
            }
            assert!(tree.row_proof(&sq.dah, w..=w).is_err());
        }
    }
}
