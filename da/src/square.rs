//! Data squares: laying a block's blobs out as Celestia shares, extending
//! them into an extended data square (EDS), its data availability header
//! (DAH), and NMT inclusion proofs. Built with `celestia-types`, so proofs
//! verify exactly as on Celestia.
//!
//! Layout (a devnet simplification of celestia-app's, see `DESIGN.md`):
//! blobs stable-sorted by namespace, packed contiguously from share 0, tail
//! padding up to `k*k` with `k` the smallest power of two that fits. There are
//! no transaction shares. Each blob's NMT proof covers exactly its own shares,
//! one proof per row it touches.

use celestia_types::consts::appconsts::SHARE_SIZE;
use std::ops::Range;

use celestia_types::nmt::{
    Namespace as CNamespace, NamespaceProof, NamespacedHash, NamespacedHashExt, NS_SIZE,
};
use celestia_types::{Blob, DataAvailabilityHeader, ExtendedDataSquare, InfoByte, ShareProof};

use crate::{Error, Result};

mod dah_tree;
pub mod kept;
#[cfg(test)]
#[path = "square/parts_tests.rs"]
mod parts_tests;
pub use dah_tree::DahTree;
pub use modelda_core::square::{
    commitment, nmt_range, parts, share_commitment, shares_for, CONTINUATION_SHARE_PAYLOAD,
    FIRST_SHARE_PAYLOAD,
};

/// Where a blob sits in the original data square.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Index of the blob in the block's blob list.
    pub blob: usize,
    /// First share, row-major in the original square.
    pub start: usize,
    /// Number of shares.
    pub len: usize,
}

/// A block's extended square with its header and blob placements.
pub struct Square {
    /// Width of the original square (`k`).
    pub k: usize,
    /// The extended square.
    pub eds: ExtendedDataSquare,
    /// Its data availability header.
    pub dah: DataAvailabilityHeader,
    /// Where each blob sits, in square order.
    pub placements: Vec<Placement>,
}

pub(crate) fn padding_share(ns: CNamespace) -> Vec<u8> {
    let mut s = Vec::with_capacity(SHARE_SIZE);
    s.extend_from_slice(ns.as_bytes());
    s.push(InfoByte::new(0, true).expect("version 0 is valid").as_u8());
    s.resize(SHARE_SIZE, 0);
    s
}

/// Width `k` of the smallest square holding `shares` shares.
pub fn square_width(shares: usize) -> usize {
    let mut k = 1;
    while k * k < shares {
        k *= 2;
    }
    k
}

/// Where blobs of these namespaces and sizes go, without building the
/// square: the original square width `k` and each blob's placement.
pub fn layout(blobs: &[(CNamespace, usize)]) -> (usize, Vec<Placement>) {
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| blobs[i].0);
    let mut placements = Vec::with_capacity(blobs.len());
    let mut next = 0;
    for i in order {
        let len = shares_for(blobs[i].1);
        placements.push(Placement {
            blob: i,
            start: next,
            len,
        });
        next += len;
    }
    (square_width(next.max(1)), placements)
}

/// Extended-square index (`row * 2k + col`) of a placement in a square of width `k`.
pub fn eds_index(k: usize, p: Placement) -> u64 {
    ((p.start / k) * 2 * k + p.start % k) as u64
}

/// Lays out `blobs` of block `height` and extends the square; fails when they
/// need a square wider than `max_k`.
pub fn build(height: u64, blobs: &[Blob], max_k: usize) -> Result<Square> {
    let bad = |detail: String| Error::Square { height, detail };
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| blobs[i].namespace);
    let total: usize = blobs.iter().map(|b| shares_for(b.data.len())).sum();
    let k = square_width(total.max(1));
    if k > max_k {
        return Err(bad(format!(
            "{total} shares need a {k}x{k} square, larger than the limit {max_k}x{max_k}"
        )));
    }
    let mut ods: Vec<Vec<u8>> = Vec::with_capacity(k * k);
    let mut placements = Vec::with_capacity(blobs.len());
    for i in order {
        let shares = blobs[i]
            .to_shares()
            .map_err(|e| bad(format!("blob {i}: {e}")))?;
        placements.push(Placement {
            blob: i,
            start: ods.len(),
            len: shares.len(),
        });
        ods.extend(shares.iter().map(|s| s.to_vec()));
    }
    ods.resize_with(k * k, || padding_share(CNamespace::TAIL_PADDING));
    let eds =
        ExtendedDataSquare::from_ods(ods).map_err(|e| bad(format!("extending the square: {e}")))?;
    let dah = DataAvailabilityHeader::from_eds(&eds);
    Ok(Square {
        k,
        eds,
        dah,
        placements,
    })
}

impl Square {
    /// The placement of blob `index` of the block.
    pub fn placement(&self, index: usize) -> Option<Placement> {
        self.placements.iter().copied().find(|p| p.blob == index)
    }

    /// Index of a blob's first share in extended-square coordinates
    /// (`row * 2k + col`), as a Celestia node reports `Blob.index`.
    pub fn eds_index(&self, p: Placement) -> u64 {
        eds_index(self.k, p)
    }

    /// One NMT proof per row the blob touches, each covering exactly the
    /// blob's shares in that row (the shape `blob.GetProof` returns).
    pub fn prove(&self, height: u64, p: Placement) -> Result<Vec<NamespaceProof>> {
        let k = self.k;
        let first_row = p.start / k;
        let last_row = (p.start + p.len - 1) / k;
        let mut proofs = Vec::with_capacity(last_row - first_row + 1);
        for r in first_row..=last_row {
            let from = p.start.max(r * k) - r * k;
            let to = (p.start + p.len).min((r + 1) * k) - r * k;
            let mut nmt = self.eds.row_nmt(r as u16).map_err(|e| Error::Square {
                height,
                detail: format!("row {r}: {e}"),
            })?;
            let (_, proof) = nmt.get_range_with_proof(from..to);
            proofs.push(proof.into());
        }
        Ok(proofs)
    }
}

impl Square {
    /// Shares `ods` (row-major indexes in the original square) with their
    /// proof up to the data root: what celestia-node's `share.GetRange`
    /// answers. The shares must all be of one namespace.
    pub fn share_proof(&self, height: u64, ods: Range<usize>) -> Result<ShareProof> {
        let k = self.k;
        let bad = |detail: String| Error::Square { height, detail };
        if ods.start >= ods.end || ods.end > k * k {
            return Err(bad(format!(
                "shares {}..{} are not a range of the {k}x{k} square",
                ods.start, ods.end
            )));
        }
        let (r0, r1) = (ods.start / k, (ods.end - 1) / k);
        let mut data = Vec::with_capacity(ods.end - ods.start);
        let mut proofs = Vec::with_capacity(r1 - r0 + 1);
        let mut namespace = None;
        for r in r0..=r1 {
            let from = ods.start.max(r * k) - r * k;
            let to = ods.end.min((r + 1) * k) - r * k;
            let mut nmt = self
                .eds
                .row_nmt(r as u16)
                .map_err(|e| bad(format!("row {r}: {e}")))?;
            let (_, proof) = nmt.get_range_with_proof(from..to);
            proofs.push(proof.into());
            for c in from..to {
                let share = self
                    .eds
                    .share(r as u16, c as u16)
                    .map_err(|e| bad(format!("share ({r}, {c}): {e}")))?;
                if *namespace.get_or_insert(share.namespace()) != share.namespace() {
                    return Err(bad(format!(
                        "shares {}..{} span namespaces",
                        ods.start, ods.end
                    )));
                }
                data.push(*share.data());
            }
        }
        Ok(ShareProof {
            data,
            namespace_id: namespace.expect("a non-empty range"),
            share_proofs: proofs,
            row_proof: self
                .dah
                .row_proof(r0 as u16..=r1 as u16)
                .map_err(|e| bad(format!("row proof: {e}")))?,
        })
    }

    /// The root of each row's parity half (its NMT node over columns
    /// `k..2k`): with the row's original shares, all a range proof in the
    /// row needs.
    pub fn parity_roots(&self, height: u64) -> Result<Vec<NamespacedHash>> {
        let k = self.k;
        let bad = |detail: String| Error::Square { height, detail };
        (0..k)
            .map(|r| {
                let root = nmt_range::tree_root(k, &mut |i| {
                    let c = k + i;
                    let share = self
                        .eds
                        .share(r as u16, c as u16)
                        .map_err(|e| format!("share ({r}, {c}): {e}"))?;
                    Ok(nmt_range::leaf(ns_bytes(&share.namespace()), share.data()))
                })
                .map_err(|e| bad(format!("row {r} parity: {e}")))?;
                NamespacedHash::from_raw(&root).map_err(|e| bad(format!("row {r} parity: {e}")))
            })
            .collect()
    }
}

/// A range proof of columns `range` of a row whose original shares are
/// `shares` (all `k` of them, with their namespaces) and whose parity half
/// has the root `parity`: the same proof the whole row's NMT gives, without
/// the parity shares.
pub fn row_range_proof<S: AsRef<[u8]>>(
    shares: &[(CNamespace, S)],
    parity: &NamespacedHash,
    range: Range<usize>,
) -> std::result::Result<NamespaceProof, String> {
    // Only the shares outside the range are hashed: the verifier hashes
    // those in it.
    let mut siblings = nmt_range::siblings(shares.len(), range.clone(), &mut |i| {
        let (ns, s) = &shares[i];
        Ok(nmt_range::leaf(ns_bytes(ns), s.as_ref()))
    })?;
    // The parity half is the root's right child: the last sibling.
    siblings.push(parity.to_array());
    nmt_range::presence_proof(&siblings, range)
}

/// The 29 bytes of a namespace.
fn ns_bytes(ns: &CNamespace) -> &[u8; NS_SIZE] {
    ns.as_bytes()
        .try_into()
        .expect("a namespace is NS_SIZE bytes")
}

/// Verifies a blob's per-row proofs against `dah`: the blob's shares, split
/// by the proofs' ranges, must sit at those ranges of consecutive rows.
pub fn verify_blob(
    dah: &DataAvailabilityHeader,
    blob: &Blob,
    first_row: u16,
    proofs: &[NamespaceProof],
) -> Result<(), String> {
    verify_blob_rows(|row| dah.row_root(row), blob, first_row, proofs)
}

/// [`verify_blob`] against row roots from `row_root` (roots a row proof
/// brought, checked against a data root).
pub fn verify_blob_rows(
    row_root: impl Fn(u16) -> Option<NamespacedHash>,
    blob: &Blob,
    first_row: u16,
    proofs: &[NamespaceProof],
) -> Result<(), String> {
    let shares = blob
        .to_shares()
        .map_err(|e| format!("blob does not split into shares: {e}"))?;
    if proofs.is_empty() {
        return Err("no proofs".into());
    }
    let mut off = 0usize;
    for (i, p) in proofs.iter().enumerate() {
        if !p.is_of_presence() {
            return Err(format!("proof {i} is not a presence proof"));
        }
        let n = p.end_idx().saturating_sub(p.start_idx()) as usize;
        let Some(leaves) = shares.get(off..off + n) else {
            return Err(format!(
                "proofs cover more shares than the blob's {}",
                shares.len()
            ));
        };
        let row = first_row
            .checked_add(i as u16)
            .ok_or_else(|| "row index overflows".to_string())?;
        let root = row_root(row).ok_or_else(|| format!("row {row} is outside the square"))?;
        p.verify_range(&root, leaves, blob.namespace.into())
            .map_err(|e| format!("row {row}: {e:?}"))?;
        off += n;
    }
    if off != shares.len() {
        return Err(format!(
            "proofs cover {off} of the blob's {} shares",
            shares.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(id: u8, len: usize) -> Blob {
        let ns = CNamespace::new_v0(&[1, id]).unwrap();
        Blob::new(
            ns,
            (0..len).map(|i| (i * 7 + id as usize) as u8).collect(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn share_counts_match_celestia_types() {
        for len in [1, 477, 478, 479, 960, 961, 100_000] {
            assert_eq!(
                shares_for(len),
                blob(3, len).to_shares().unwrap().len(),
                "len {len}"
            );
        }
    }

    #[test]
    fn proofs_verify_and_tampering_fails() {
        let blobs = vec![blob(9, 3000), blob(2, 100), blob(5, 70_000)];
        let sq = build(7, &blobs, 128).unwrap();
        for (i, b) in blobs.iter().enumerate() {
            let p = sq.placement(i).unwrap();
            let proofs = sq.prove(7, p).unwrap();
            verify_blob(&sq.dah, b, (p.start / sq.k) as u16, &proofs).unwrap();
            let mut other = b.clone();
            other.data[0] ^= 1;
            let other = Blob::new(other.namespace, other.data, None).unwrap();
            assert!(verify_blob(&sq.dah, &other, (p.start / sq.k) as u16, &proofs).is_err());
            assert!(verify_blob(&sq.dah, b, (p.start / sq.k) as u16 + 1, &proofs).is_err());
        }
        assert!(build(1, &[blob(1, 8_000_000)], 64).is_err());
    }
}
