//! A whole blob's place in its square, kept compact: with the blob's bytes
//! it proves any run of the blob's shares up to the data root, as the
//! layer's `share.GetRange` would, long after the layer pruned the square.
//!
//! A [`ShareProof`] of every share of a blob carries, per row, the NMT
//! siblings of the blob's shares and the row's root with its Merkle path
//! to the data root. Most of that is recomputed from the blob itself: the
//! shares in a row hash to the row's part of the tree, the row roots to
//! the data root tree's nodes over the blob's rows. What the blob cannot
//! give is what lies outside it, and only that is kept:
//!
//! - in the first and last rows the blob touches, the NMT siblings of its
//!   shares there (a row the blob fills needs none: its one sibling, the
//!   parity half's root, is the Reed-Solomon extension of the blob's own
//!   shares, recomputed with the layer's codec, leopard);
//! - the siblings of the blob's rows in the data root tree.
//!
//! That is at most a few KiB a blob, whatever its size.
//! [`BlobSquareProof::prove`] rebuilds the proof of
//! any run from them; the tests check it is the layer's own proof, byte for
//! byte. Nothing kept is trusted: the rebuilt proof is checked against the
//! data root before it is given out.

use std::collections::HashMap;
use std::ops::Range;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use celestia_proto::celestia::core::v1::proof::RowProof as RawRowProof;
use celestia_types::nmt::{NamespacedHashExt, NS_SIZE};
use celestia_types::{MerkleProof, RowProof, ShareProof};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::commitment::{self, Node, NODE_LEN};
use super::nmt_range;
use super::parts::{MAX_BLOB_SHARES, SHARE_BYTES};
use crate::chain::to_celestia;
use crate::Namespace;

/// Widest original square (Celestia app v6: 512).
pub const MAX_WIDTH: u16 = 512;

/// What is kept of a whole blob's share proof (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobSquareProof {
    /// Width of the original square (rows and columns).
    pub width: u16,
    /// Index of the blob's first share in the original square, row-major.
    pub start: u64,
    /// Shares of the blob.
    pub shares: u32,
    /// Per row the blob touches, top to bottom: the NMT siblings of its
    /// shares there, left to right, 90 bytes each, base64.
    pub rows: Vec<String>,
    /// The siblings of those rows in the data root tree, left to right,
    /// 32 bytes each, base64.
    pub dah: String,
}

fn bad(reason: impl Into<String>) -> String {
    reason.into()
}

/// The leaf ranges of the siblings of `range` in a perfect tree over `n`
/// leaves, left to right (as `nmt_range::siblings` and a range proof list
/// them).
fn sibling_ranges(n: usize, range: Range<usize>) -> Vec<Range<usize>> {
    fn walk(lo: usize, hi: usize, range: &Range<usize>, out: &mut Vec<Range<usize>>) {
        if hi <= range.start || lo >= range.end {
            out.push(lo..hi);
        } else if !(range.start <= lo && hi <= range.end) {
            let mid = lo + (hi - lo) / 2;
            walk(lo, mid, range, out);
            walk(mid, hi, range, out);
        }
    }
    let mut out = Vec::new();
    walk(0, n, &range, &mut out);
    out
}

/// The root of the parity half of a row whose original shares are all
/// `shares` (a row the blob fills): the row's Reed-Solomon extension, as
/// the layer computes it (leopard), hashed in the parity namespace.
fn parity_root(shares: &[[u8; SHARE_BYTES]]) -> Result<Node, String> {
    let k = shares.len();
    let mut row: Vec<[u8; SHARE_BYTES]> = Vec::with_capacity(2 * k);
    row.extend_from_slice(shares);
    row.resize(2 * k, [0u8; SHARE_BYTES]);
    leopard_codec::encode(&mut row, k).map_err(|e| format!("extending a row: {e}"))?;
    const PARITY: [u8; NS_SIZE] = [0xff; NS_SIZE];
    nmt_range::tree_root(k, &mut |i| Ok(nmt_range::leaf(&PARITY, &row[k + i])))
}

fn dah_leaf(root: &Node) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(root);
    h.finalize().into()
}

fn dah_inner(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

impl BlobSquareProof {
    /// Keeps what `full` (the proof of every share of a blob of `shares`
    /// shares, from the layer) holds that the blob cannot give. Checked
    /// against `data_root` as far as what is kept goes: the rows' roots
    /// and paths, and the NMT proofs of the rows the blob does not fill
    /// (their siblings are kept). The rows it fills are not hashed here:
    /// nothing of them is kept, and a proof rebuilt later is checked
    /// against the data root whole before it is given out.
    pub fn keep(full: &ShareProof, shares: u32, data_root: &[u8; 32]) -> Result<Self, String> {
        let root = celestia_types::hash::Hash::Sha256(*data_root);
        let rp = &full.row_proof;
        if rp.proofs().is_empty() || full.share_proofs.len() != rp.row_roots().len() {
            return Err("the layer's proof has no rows, or rows without proofs".into());
        }
        rp.verify(root)
            .map_err(|e| format!("the layer's rows do not prove to the data root: {e}"))?;
        let total = rp.proofs()[0].total;
        let width = u16::try_from(total / 4)
            .ok()
            .filter(|w| w.is_power_of_two() && *w <= MAX_WIDTH && usize::from(*w) * 4 == total)
            .ok_or_else(|| format!("a data root tree of {total} leaves"))?;
        let w = usize::from(width);
        let start = usize::from(rp.start_row()) * w + full.share_proofs[0].start_idx() as usize;
        let kept = BlobSquareProof {
            width,
            start: start as u64,
            shares,
            rows: Vec::new(),
            dah: String::new(),
        };
        let geometry = kept.geometry()?;
        if geometry.len() != full.share_proofs.len()
            || full.data.len() != shares as usize
            || geometry[0].0 != usize::from(rp.start_row())
        {
            return Err(format!(
                "the layer proved {} shares over {} rows, not the blob's {shares}",
                full.data.len(),
                full.share_proofs.len()
            ));
        }
        let ns = full.namespace_id;
        let mut rows = Vec::with_capacity(geometry.len());
        let mut at = 0usize;
        for (((_, cols), p), row_root) in
            geometry.iter().zip(&full.share_proofs).zip(rp.row_roots())
        {
            if p.is_of_absence() || (p.start_idx() as usize..p.end_idx() as usize) != *cols {
                return Err("the layer proved other shares of a row than the blob's".into());
            }
            let mine = &full.data[at..at + cols.len()];
            at += cols.len();
            // A row the blob fills: its one sibling, the parity half's
            // root, is the blob's to compute.
            if *cols == (0..w) {
                rows.push(String::new());
                continue;
            }
            p.verify_range(row_root, mine, *ns)
                .map_err(|e| format!("the layer's proof of a row does not verify: {e:?}"))?;
            let mut raw = Vec::with_capacity(p.siblings().len() * NODE_LEN);
            for s in p.siblings() {
                raw.extend_from_slice(&s.to_array());
            }
            rows.push(B64.encode(raw));
        }
        // The data root tree's siblings of the rows, from the first and
        // last rows' paths.
        let (s, e) = (usize::from(rp.start_row()), usize::from(rp.end_row()));
        let (first, last) = (&rp.proofs()[0], rp.proofs().last().expect("a row"));
        let mut dah = Vec::new();
        for r in sibling_ranges(total, s..e + 1) {
            let d = (r.end - r.start).trailing_zeros() as usize;
            let path = if r.end <= s { first } else { last };
            let aunt = path
                .aunts
                .get(d)
                .ok_or_else(|| bad("a row's path is too short"))?;
            dah.extend_from_slice(aunt);
        }
        Ok(BlobSquareProof {
            rows,
            dah: B64.encode(dah),
            ..kept
        })
    }

    /// The rows the blob touches, and the columns it holds in each.
    fn geometry(&self) -> Result<Vec<(usize, Range<usize>)>, String> {
        let w = u64::from(self.width);
        if !self.width.is_power_of_two() || self.width > MAX_WIDTH {
            return Err(format!("a square {} wide", self.width));
        }
        if self.shares == 0
            || self.shares > MAX_BLOB_SHARES
            || self.start + u64::from(self.shares) > w * w
        {
            return Err(format!(
                "shares {}..+{} of a {w}x{w} square",
                self.start, self.shares
            ));
        }
        let end = self.start + u64::from(self.shares);
        Ok((self.start / w..(end - 1) / w + 1)
            .map(|r| {
                let lo = (r * w).max(self.start);
                let hi = ((r + 1) * w).min(end);
                (r as usize, (lo - r * w) as usize..(hi - r * w) as usize)
            })
            .collect())
    }

    /// The proof of shares `want` of the blob `data` in `namespace` (the
    /// blob this was kept for), as the layer gives it; checked against
    /// `data_root`.
    pub fn prove(
        &self,
        namespace: Namespace,
        data: &[u8],
        want: Range<u32>,
        data_root: &[u8; 32],
    ) -> Result<ShareProof, String> {
        let geometry = self.geometry()?;
        if super::shares_for(data.len()) as u32 != self.shares {
            return Err(format!(
                "a blob of {} bytes is not the kept blob of {} shares",
                data.len(),
                self.shares
            ));
        }
        if want.start >= want.end || want.end > self.shares {
            return Err(format!(
                "shares {want:?} are not shares of a {}-share blob",
                self.shares
            ));
        }
        let w = usize::from(self.width);
        let n = 2 * w;
        if self.rows.len() != geometry.len() {
            return Err(format!(
                "{} rows kept for a blob over {} rows",
                self.rows.len(),
                geometry.len()
            ));
        }
        let ns = namespace.as_bytes();
        // Each row's kept siblings, by the leaves they stand for; counts
        // are checked against the geometry before anything is decoded.
        let mut kept: Vec<HashMap<(usize, usize), Node>> = Vec::with_capacity(geometry.len());
        for ((row, cols), text) in geometry.iter().zip(&self.rows) {
            let ranges = sibling_ranges(n, cols.clone());
            if text.is_empty() && *cols == (0..w) {
                let mine: Vec<[u8; SHARE_BYTES]> = (0..w)
                    .map(|c| {
                        let mut sh = [0u8; SHARE_BYTES];
                        commitment::share(ns, data, row * w + c - self.start as usize, &mut sh);
                        sh
                    })
                    .collect();
                kept.push(HashMap::from([((w, n), parity_root(&mine)?)]));
                continue;
            }
            if text.len() != (ranges.len() * NODE_LEN).div_ceil(3) * 4 {
                return Err("a row's kept siblings are not as many as its geometry".into());
            }
            let raw = B64
                .decode(text)
                .map_err(|e| format!("a row's siblings: {e}"))?;
            if raw.len() != ranges.len() * NODE_LEN {
                return Err("a row's kept siblings are not as many as its geometry".into());
            }
            kept.push(
                ranges
                    .iter()
                    .zip(raw.chunks_exact(NODE_LEN))
                    .map(|(r, c)| ((r.start, r.end), c.try_into().expect("node-sized")))
                    .collect(),
            );
        }
        let (first_row, last_row) = (geometry[0].0, geometry.last().expect("a row").0);
        let total = 4 * w;
        let dah_ranges = sibling_ranges(total, first_row..last_row + 1);
        if self.dah.len() != (dah_ranges.len() * 32).div_ceil(3) * 4 {
            return Err("the kept data root siblings are not as many as the rows need".into());
        }
        let raw = B64
            .decode(&self.dah)
            .map_err(|e| format!("the data root siblings: {e}"))?;
        if raw.len() != dah_ranges.len() * 32 {
            return Err("the kept data root siblings are not as many as the rows need".into());
        }
        let dah_kept: HashMap<(usize, usize), [u8; 32]> = dah_ranges
            .iter()
            .zip(raw.chunks_exact(32))
            .map(|(r, c)| ((r.start, r.end), c.try_into().expect("32 bytes")))
            .collect();

        let mut share = [0u8; SHARE_BYTES];
        let start = self.start as usize;
        // The root of leaves lo..hi of row `k` (an index into `geometry`).
        let mut row_node = |k: usize, lo: usize, hi: usize| -> Result<Node, String> {
            fn go(
                lo: usize,
                hi: usize,
                cols: &Range<usize>,
                row: usize,
                kept: &HashMap<(usize, usize), Node>,
                leaf: &mut dyn FnMut(usize) -> Result<Node, String>,
            ) -> Result<Node, String> {
                if cols.start <= lo && hi <= cols.end {
                    return nmt_range::tree_root(hi - lo, &mut |i| leaf(lo + i));
                }
                if let Some(n) = kept.get(&(lo, hi)) {
                    return Ok(*n);
                }
                if hi - lo == 1 {
                    return Err(format!(
                        "row {row}: leaf {lo} is neither kept nor the blob's"
                    ));
                }
                let mid = lo + (hi - lo) / 2;
                let l = go(lo, mid, cols, row, kept, leaf)?;
                let r = go(mid, hi, cols, row, kept, leaf)?;
                nmt_range::parent(&l, &r)
            }
            let (row, cols) = &geometry[k];
            let base = row * w;
            go(lo, hi, cols, *row, &kept[k], &mut |col| {
                commitment::share(ns, data, base + col - start, &mut share);
                Ok(nmt_range::leaf(ns, &share))
            })
        };
        // Row roots, computed as needed.
        let mut roots: HashMap<usize, Node> = HashMap::new();
        let mut root_of =
            |k: usize,
             row_node: &mut dyn FnMut(usize, usize, usize) -> Result<Node, String>|
             -> Result<Node, String> {
                if let Some(r) = roots.get(&k) {
                    return Ok(*r);
                }
                let r = row_node(k, 0, n)?;
                roots.insert(k, r);
                Ok(r)
            };

        // The runs of `want` in each row.
        let (ws, we) = (start + want.start as usize, start + want.end as usize);
        let mut share_proofs = Vec::new();
        let mut row_roots = Vec::new();
        let mut wanted_rows = Vec::new();
        for (k, (row, _)) in geometry.iter().enumerate() {
            let (lo, hi) = (ws.max(row * w), we.min((row + 1) * w));
            if lo >= hi {
                continue;
            }
            let range = lo - row * w..hi - row * w;
            let mut siblings = Vec::new();
            for r in sibling_ranges(n, range.clone()) {
                siblings.push(row_node(k, r.start, r.end)?);
            }
            share_proofs.push(nmt_range::presence_proof(&siblings, range)?);
            row_roots.push(root_of(k, &mut row_node)?);
            wanted_rows.push((k, *row));
        }
        // The rows' paths to the data root.
        let mut dah_node = |lo: usize, hi: usize| -> Result<[u8; 32], String> {
            fn go(
                lo: usize,
                hi: usize,
                rows: &Range<usize>,
                kept: &HashMap<(usize, usize), [u8; 32]>,
                leaf: &mut dyn FnMut(usize) -> Result<[u8; 32], String>,
            ) -> Result<[u8; 32], String> {
                if let Some(n) = kept.get(&(lo, hi)) {
                    return Ok(*n);
                }
                if hi - lo == 1 {
                    if rows.contains(&lo) {
                        return leaf(lo);
                    }
                    return Err(format!("data root tree leaf {lo} is not kept"));
                }
                let mid = lo + (hi - lo) / 2;
                Ok(dah_inner(
                    &go(lo, mid, rows, kept, leaf)?,
                    &go(mid, hi, rows, kept, leaf)?,
                ))
            }
            go(lo, hi, &(first_row..last_row + 1), &dah_kept, &mut |row| {
                Ok(dah_leaf(&root_of(row - first_row, &mut row_node)?))
            })
        };
        let depth = total.trailing_zeros() as usize;
        let mut raw = RawRowProof {
            row_roots: Vec::with_capacity(wanted_rows.len()),
            proofs: Vec::with_capacity(wanted_rows.len()),
            root: Vec::new(),
            start_row: wanted_rows[0].1 as u32,
            end_row: wanted_rows.last().expect("a row").1 as u32,
        };
        for ((_, row), root) in wanted_rows.iter().zip(&row_roots) {
            let mut aunts = Vec::with_capacity(depth);
            for d in 0..depth {
                let j = (row >> d) ^ 1;
                aunts.push(dah_node(j << d, (j + 1) << d)?);
            }
            raw.row_roots.push(root.to_vec());
            raw.proofs.push(
                MerkleProof {
                    index: *row,
                    total,
                    leaf_hash: dah_leaf(root),
                    aunts,
                }
                .into(),
            );
        }
        let row_proof = RowProof::try_from(raw).map_err(|e| format!("row proof: {e}"))?;
        let mut shares = Vec::with_capacity((want.end - want.start) as usize);
        for i in want.clone() {
            commitment::share(ns, data, i as usize, &mut share);
            shares.push(share);
        }
        let proof = ShareProof {
            data: shares,
            namespace_id: to_celestia(namespace),
            share_proofs,
            row_proof,
        };
        let covered = proof
            .covered_range(celestia_types::hash::Hash::Sha256(*data_root))
            .map_err(|e| {
                format!(
                    "the rebuilt proof does not verify (the kept proof is not this blob's): {e}"
                )
            })?;
        let expect = self.start + u64::from(want.start)..self.start + u64::from(want.end);
        if covered != expect {
            return Err(format!(
                "the rebuilt proof covers {covered:?}, not {expect:?}"
            ));
        }
        Ok(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::square;
    use celestia_types::nmt::Namespace as CNamespace;
    use celestia_types::Blob;

    /// A square with other blobs around ours: ours' data, where it starts,
    /// the square and its data root.
    fn setup(len: usize) -> (square::Square, Namespace, Vec<u8>, usize, [u8; 32]) {
        let ns = Namespace::new_v0(b"keptprf").unwrap();
        let before = Blob::new(CNamespace::new_v0(b"aaa").unwrap(), vec![1u8; 3000], None).unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 511) as u8).collect();
        let ours = Blob::new(to_celestia(ns), data.clone(), None).unwrap();
        let after = Blob::new(CNamespace::new_v0(b"zzz").unwrap(), vec![2u8; 5000], None).unwrap();
        let sq = square::build(1, &[before, ours, after], 128).unwrap();
        let start = sq.placements.iter().find(|p| p.blob == 1).unwrap().start;
        let root: [u8; 32] = sq.dah.hash().as_bytes().try_into().unwrap();
        (sq, ns, data, start, root)
    }

    /// The proof of shares `run` of the blob at `start`, from
    /// celestia-types' own trees (the rows' NMTs and the DAH).
    fn theirs(sq: &square::Square, ns: Namespace, start: usize, run: Range<u32>) -> ShareProof {
        let k = sq.k;
        let (a, b) = (start + run.start as usize, start + run.end as usize);
        let (r0, r1) = (a / k, (b - 1) / k);
        let mut data = Vec::new();
        let mut share_proofs = Vec::new();
        for r in r0..=r1 {
            let (lo, hi) = (a.max(r * k) - r * k, b.min((r + 1) * k) - r * k);
            let mut nmt = sq.eds.row_nmt(r as u16).unwrap();
            let (_, p) = nmt.get_range_with_proof(lo..hi);
            share_proofs.push(p.into());
            for c in lo..hi {
                let s = sq.eds.share(r as u16, c as u16).unwrap();
                data.push(s.as_ref().try_into().unwrap());
            }
        }
        ShareProof {
            data,
            namespace_id: to_celestia(ns),
            share_proofs,
            row_proof: sq.dah.row_proof(r0 as u16..=r1 as u16).unwrap(),
        }
    }

    #[test]
    fn rebuilds_the_layers_proof_of_every_run() {
        for len in [100usize, 20_000, 300_000] {
            let (sq, ns, data, start, root) = setup(len);
            let n = square::shares_for(len) as u32;
            let full = theirs(&sq, ns, start, 0..n);
            let kept = BlobSquareProof::keep(&full, n, &root).unwrap();
            let json = serde_json::to_string(&kept).unwrap();
            let kept: BlobSquareProof = serde_json::from_str(&json).unwrap();
            let mut runs = vec![0..n, 0..1, n - 1..n, n / 2..n / 2 + 1];
            if n > 3 {
                runs.push(1..n - 1);
                runs.push(n / 3..2 * n / 3 + 1);
            }
            for run in runs {
                let ours = kept.prove(ns, &data, run.clone(), &root).unwrap();
                assert_eq!(
                    ours,
                    theirs(&sq, ns, start, run.clone()),
                    "len {len}, run {run:?}"
                );
            }
            // Compact: the rows the blob fills keep nothing.
            if len > 100_000 {
                assert!(json.len() < 2048, "{} bytes kept", json.len());
            }
        }
    }

    #[test]
    fn refuses_another_blob_and_damaged_kept_proofs() {
        let (sq, ns, data, start, root) = setup(20_000);
        let n = square::shares_for(data.len()) as u32;
        let full = theirs(&sq, ns, start, 0..n);
        let kept = BlobSquareProof::keep(&full, n, &root).unwrap();
        let mut other = data.clone();
        other[5000] ^= 1;
        assert!(kept
            .prove(ns, &other, 0..2, &root)
            .unwrap_err()
            .contains("does not verify"));
        assert!(kept.prove(ns, &data[..100], 0..1, &root).is_err());
        assert!(kept.prove(ns, &data, 0..n + 1, &root).is_err());
        let mut k = kept.clone();
        k.dah = B64.encode([0u8; 32 * 3]);
        assert!(k.prove(ns, &data, 0..1, &root).is_err());
        let mut k = kept.clone();
        k.rows.pop();
        assert!(k.prove(ns, &data, 0..1, &root).is_err());
        let mut k = kept.clone();
        k.width = 3;
        assert!(k.prove(ns, &data, 0..1, &root).is_err());
        let mut k = kept;
        k.start = u64::MAX / 2;
        assert!(k.prove(ns, &data, 0..1, &root).is_err());
        assert!(BlobSquareProof::keep(&full, n, &[0u8; 32]).is_err());
    }
}
