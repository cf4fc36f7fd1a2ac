//! Commitments: leaf chaining values and the BLAKE3 tree over them.
//!
//! BLAKE3 is itself a binary Merkle tree over 1 KiB chunks whose left subtree
//! always holds the largest power of two of chunks smaller than the total. A
//! leaf of `2^k` KiB aligned to a file offset is therefore a complete BLAKE3
//! subtree, and the tree over leaves uses the same split rule (the one of
//! RFC 6962): the root over all leaves is exactly `blake3::hash(file)`.

use std::ops::Range;

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};
use rayon::prelude::*;

use crate::{Error, FileRoot, LeafCv, LeafSize, NodeCv, RangeProof, Result};

/// The chaining value of leaf `index` whose bytes are `data`.
///
/// `data` must be the whole leaf: `leaf_size` bytes, or fewer for the last
/// leaf of a file. It must not be empty.
pub fn leaf_cv(leaf_size: LeafSize, index: u64, data: &[u8]) -> LeafCv {
    debug_assert!(!data.is_empty() && data.len() as u64 <= leaf_size.bytes());
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index << leaf_size.log2());
    hasher.update(data);
    LeafCv::from_bytes(hasher.finalize_non_root())
}

/// Chaining values of the consecutive whole leaves in `data`, the first of
/// which is leaf `first_index`, computed in parallel across cores.
pub fn leaf_cvs_par(leaf_size: LeafSize, first_index: u64, data: &[u8]) -> Vec<LeafCv> {
    let mut out = Vec::with_capacity(data.len().div_ceil(leaf_size.bytes() as usize));
    data.par_chunks(leaf_size.bytes() as usize)
        .enumerate()
        .map(|(j, chunk)| leaf_cv(leaf_size, first_index + j as u64, chunk))
        .collect_into_vec(&mut out);
    out
}

/// Number of leaves in the left subtree of a node over `n >= 2` leaves: the
/// largest power of two smaller than `n`.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Chaining value of the (non-root) subtree over `leaves`.
pub(crate) fn subtree_cv(leaves: &[LeafCv]) -> [u8; 32] {
    match leaves.len() {
        0 => unreachable!("subtrees are never empty"),
        1 => *leaves[0].as_bytes(),
        n => {
            let k = split(n as u64) as usize;
            merge_subtrees_non_root(
                &subtree_cv(&leaves[..k]),
                &subtree_cv(&leaves[k..]),
                Mode::Hash,
            )
        }
    }
}

/// The root over two or more leaf chaining values.
fn root_of(leaves: &[LeafCv]) -> FileRoot {
    debug_assert!(leaves.len() >= 2);
    let k = split(leaves.len() as u64) as usize;
    let root = merge_subtrees_root(
        &subtree_cv(&leaves[..k]),
        &subtree_cv(&leaves[k..]),
        Mode::Hash,
    );
    FileRoot::from(root)
}

/// The commitment to one file: its length, leaf size, root and every leaf's
/// chaining value.
///
/// Memory is 32 bytes per leaf (2 MiB for a 64 GiB file at the default 1 MiB
/// leaf), whatever the file size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    file_len: u64,
    leaf_size: LeafSize,
    root: FileRoot,
    leaves: Vec<LeafCv>,
}

impl Commitment {
    /// Commits to `data` held in memory, hashing leaves in parallel.
    pub fn from_bytes(data: &[u8], leaf_size: LeafSize) -> Self {
        let mut builder = CommitmentBuilder::new(data.len() as u64, leaf_size);
        builder
            .add_window(0, data)
            .expect("a single window holding the whole file is always in order");
        builder.finish().expect("the whole file was given")
    }

    /// A commitment over leaf chaining values (two or more), its root
    /// computed from them: what a file of those leaves would commit to.
    /// For synthetic records in tests and benchmarks, where no bytes exist.
    pub fn from_leaves(file_len: u64, leaf_size: LeafSize, leaves: Vec<LeafCv>) -> Result<Self> {
        if leaves.len() < 2 {
            return Err(Error::DataLength {
                offset: 0,
                expected: 2,
                actual: leaves.len() as u64,
            });
        }
        let root = root_of(&leaves);
        Commitment::from_parts(file_len, leaf_size, root, leaves)
    }

    /// Rebuilds a commitment from stored parts, checking that the leaves
    /// hash to `root` (when the file has two or more leaves) and that their
    /// number matches the length.
    pub fn from_parts(
        file_len: u64,
        leaf_size: LeafSize,
        root: FileRoot,
        leaves: Vec<LeafCv>,
    ) -> Result<Self> {
        let expected = leaf_size.leaf_count(file_len);
        if leaves.len() as u64 != expected {
            return Err(Error::DataLength {
                offset: 0,
                expected,
                actual: leaves.len() as u64,
            });
        }
        if leaves.len() >= 2 && root_of(&leaves) != root {
            return Err(Error::RootMismatch {
                leaves: 0..expected,
                root: root.to_hex(),
            });
        }
        Ok(Commitment {
            file_len,
            leaf_size,
            root,
            leaves,
        })
    }

    /// The file's root: its BLAKE3 hash.
    pub fn root(&self) -> FileRoot {
        self.root
    }

    /// Length of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Leaf size the commitment uses.
    pub fn leaf_size(&self) -> LeafSize {
        self.leaf_size
    }

    /// Chaining value of every leaf, in order.
    pub fn leaves(&self) -> &[LeafCv] {
        &self.leaves
    }

    /// A proof for leaf `index`.
    pub fn prove_leaf(&self, index: u64) -> Result<RangeProof> {
        let bytes = self.leaf_size.leaf_bytes(self.file_len, index);
        if bytes.is_empty() {
            return Err(Error::RangeOutOfBounds {
                start: index.saturating_mul(self.leaf_size.bytes()),
                end: index
                    .saturating_add(1)
                    .saturating_mul(self.leaf_size.bytes()),
                file_len: self.file_len,
            });
        }
        self.prove(bytes)
    }

    /// A proof for the byte range `bytes` (a tensor, say): it covers the
    /// leaves that hold the range.
    pub fn prove(&self, bytes: Range<u64>) -> Result<RangeProof> {
        let leaves = self.leaf_size.leaves_of(self.file_len, bytes.clone())?;
        let mut siblings = Vec::new();
        let n = self.leaves.len() as u64;
        if n >= 2 {
            let k = split(n);
            self.collect(0, k, &leaves, &mut siblings);
            self.collect(k, n, &leaves, &mut siblings);
        }
        Ok(RangeProof::new_unchecked(
            self.leaf_size,
            self.file_len,
            bytes,
            siblings,
        ))
    }

    fn collect(&self, lo: u64, hi: u64, range: &Range<u64>, out: &mut Vec<NodeCv>) {
        if hi <= range.start || range.end <= lo {
            out.push(NodeCv::from_bytes(subtree_cv(
                &self.leaves[lo as usize..hi as usize],
            )));
        } else if range.start <= lo && hi <= range.end {
            // Inside the proven range: the verifier computes it from the data.
        } else {
            let k = lo + split(hi - lo);
            self.collect(lo, k, range, out);
            self.collect(k, hi, range, out);
        }
    }
}

/// Builds a [`Commitment`] from windows of a file handed over in order, so a
/// file never needs to be in memory whole.
///
/// Each window must start where the previous one ended and hold whole leaves
/// (only the window that ends the file may end mid-leaf).
#[derive(Debug)]
pub struct CommitmentBuilder {
    file_len: u64,
    leaf_size: LeafSize,
    next_offset: u64,
    leaves: Vec<LeafCv>,
    single_leaf_root: Option<FileRoot>,
}

impl CommitmentBuilder {
    /// A builder for a file of `file_len` bytes.
    pub fn new(file_len: u64, leaf_size: LeafSize) -> Self {
        let n = leaf_size.leaf_count(file_len);
        CommitmentBuilder {
            file_len,
            leaf_size,
            next_offset: 0,
            // Bounded by the caller's real file length: 32 bytes per leaf.
            leaves: Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 24)),
            single_leaf_root: None,
        }
    }

    /// Offset of the next window the builder expects.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Hashes the whole leaves in `data`, which starts at file offset `offset`.
    pub fn add_window(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        if offset != self.next_offset {
            return Err(Error::WindowOrder {
                offset,
                expected: self.next_offset,
            });
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&e| e <= self.file_len);
        let Some(end) = end else {
            return Err(Error::DataLength {
                offset,
                expected: self.file_len - offset,
                actual: data.len() as u64,
            });
        };
        if end != self.file_len && !(data.len() as u64).is_multiple_of(self.leaf_size.bytes()) {
            return Err(Error::DataLength {
                offset,
                expected: (data.len() as u64 / self.leaf_size.bytes()) * self.leaf_size.bytes(),
                actual: data.len() as u64,
            });
        }
        if offset == 0 && end == self.file_len && self.file_len <= self.leaf_size.bytes() {
            self.single_leaf_root = Some(FileRoot::from(blake3::hash(data)));
        }
        let first = offset >> self.leaf_size.log2();
        self.leaves
            .extend(leaf_cvs_par(self.leaf_size, first, data));
        self.next_offset = end;
        Ok(())
    }

    /// Finishes the commitment once every byte was added.
    pub fn finish(self) -> Result<Commitment> {
        if self.next_offset != self.file_len {
            return Err(Error::DataLength {
                offset: self.next_offset,
                expected: self.file_len - self.next_offset,
                actual: 0,
            });
        }
        let root = match self.single_leaf_root {
            Some(root) => root,
            None if self.file_len == 0 => FileRoot::from(blake3::hash(&[])),
            None => root_of(&self.leaves),
        };
        Ok(Commitment {
            file_len: self.file_len,
            leaf_size: self.leaf_size,
            root,
            leaves: self.leaves,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
            .collect()
    }

    /// Boundary lengths for a leaf size: 0, 1, one leaf -1/0/+1 and power-of-two
    /// leaf counts -1/0/+1.
    fn boundaries(l: u64) -> Vec<u64> {
        let mut v = vec![0, 1, l - 1, l, l + 1];
        for k in [2u64, 4, 8] {
            v.extend([k * l - 1, k * l, k * l + 1]);
        }
        v
    }

    #[test]
    fn root_equals_blake3_hash_at_boundaries_for_every_leaf_size() {
        let buf = data(8 * (8 << 20) + 1);
        for ls in LeafSize::all() {
            for len in boundaries(ls.bytes()) {
                let d = &buf[..len as usize];
                let c = Commitment::from_bytes(d, ls);
                assert_eq!(
                    c.root(),
                    FileRoot::from(blake3::hash(d)),
                    "len {len} leaf {ls}"
                );
                assert_eq!(c.leaves().len() as u64, ls.leaf_count(len));
            }
        }
    }

    #[test]
    fn windows_give_the_same_commitment() {
        let ls = LeafSize::MIN;
        let d = data(37 * ls.bytes() as usize + 5);
        let whole = Commitment::from_bytes(&d, ls);
        let mut b = CommitmentBuilder::new(d.len() as u64, ls);
        for w in d.chunks(3 * ls.bytes() as usize) {
            b.add_window(b.next_offset(), w).unwrap();
        }
        assert_eq!(b.finish().unwrap(), whole);
        let again =
            Commitment::from_parts(d.len() as u64, ls, whole.root(), whole.leaves().to_vec())
                .unwrap();
        assert_eq!(again, whole);
    }

    #[test]
    fn builder_rejects_misuse() {
        let ls = LeafSize::MIN;
        let d = data(3 * ls.bytes() as usize);
        let mut b = CommitmentBuilder::new(d.len() as u64, ls);
        assert!(matches!(
            b.add_window(5, &d[..10]),
            Err(Error::WindowOrder { .. })
        ));
        assert!(matches!(
            b.add_window(0, &d[..10]),
            Err(Error::DataLength { .. })
        ));
        b.add_window(0, &d[..ls.bytes() as usize]).unwrap();
        assert!(b.finish().is_err());
    }

    #[test]
    fn from_parts_rejects_wrong_leaves() {
        let ls = LeafSize::MIN;
        let d = data(3 * ls.bytes() as usize);
        let c = Commitment::from_bytes(&d, ls);
        let mut leaves = c.leaves().to_vec();
        leaves.swap(0, 1);
        assert!(Commitment::from_parts(d.len() as u64, ls, c.root(), leaves).is_err());
        assert!(
            Commitment::from_parts(d.len() as u64, ls, c.root(), c.leaves()[..2].to_vec()).is_err()
        );
    }
}
