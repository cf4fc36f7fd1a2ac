//! Range proofs: the sibling chaining values on the paths of a run of leaves.
//!
//! # Encoding (version 1)
//!
//! All integers are big-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MDAP` |
//! | 4 | 1 | version, `1` |
//! | 5 | 1 | log2 of the leaf size (14..=23) |
//! | 6 | 8 | file length |
//! | 14 | 8 | start of the proven byte range |
//! | 22 | 8 | end of the proven byte range (exclusive) |
//! | 30 | 2 | number of sibling chaining values, `k` |
//! | 32 | 32k | sibling chaining values, left to right |
//!
//! The proof covers leaves `start / leaf .. ceil(end / leaf)`. Siblings are
//! the roots of the maximal subtrees that lie wholly outside that run, in
//! left-to-right order; their number is fixed by the geometry, so a decoder
//! knows it before reading them and rejects any other count. A file of one
//! leaf has no siblings: its root is the BLAKE3 hash of its bytes.

use std::fmt::Display;
use std::ops::Range;

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, Mode};

use crate::tree::{leaf_cv, split};
use crate::{Error, FileRoot, LeafCv, LeafSize, NodeCv, Result};

const MAGIC: &[u8; 4] = b"MDAP";
const HEADER_LEN: usize = 32;

/// A proof that some bytes sit at a byte range of a file with a given root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeProof {
    leaf_size: LeafSize,
    file_len: u64,
    bytes: Range<u64>,
    siblings: Vec<NodeCv>,
}

/// Number of siblings a proof of `range` in a tree of `n` leaves holds: the
/// maximal subtrees wholly outside `range`. The same count holds for a span of
/// chunks in one leaf's subtree of `n` chunks (the span is never empty).
pub(crate) fn sibling_count(n: u64, range: &Range<u64>) -> usize {
    fn walk(lo: u64, hi: u64, r: &Range<u64>) -> usize {
        if hi <= r.start || r.end <= lo {
            1
        } else if r.start <= lo && hi <= r.end {
            0
        } else {
            let k = lo + split(hi - lo);
            walk(lo, k, r) + walk(k, hi, r)
        }
    }
    if n < 2 {
        0
    } else {
        let k = split(n);
        walk(0, k, range) + walk(k, n, range)
    }
}

impl RangeProof {
    /// The encoding version this build writes and reads.
    pub const VERSION: u8 = 1;

    pub(crate) fn new_unchecked(
        leaf_size: LeafSize,
        file_len: u64,
        bytes: Range<u64>,
        siblings: Vec<NodeCv>,
    ) -> Self {
        RangeProof {
            leaf_size,
            file_len,
            bytes,
            siblings,
        }
    }

    /// Leaf size of the committed file.
    pub fn leaf_size(&self) -> LeafSize {
        self.leaf_size
    }

    /// Length of the committed file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The proven byte range.
    pub fn bytes(&self) -> Range<u64> {
        self.bytes.clone()
    }

    /// The leaves the proof covers.
    pub fn leaves(&self) -> Range<u64> {
        self.leaf_size
            .leaves_of(self.file_len, self.bytes.clone())
            .expect("a constructed proof has a valid range")
    }

    /// The byte span of the covered leaves: the data a verifier must supply.
    pub fn covered(&self) -> Range<u64> {
        self.leaf_size.bytes_of(self.file_len, self.leaves())
    }

    /// Sibling chaining values, left to right.
    pub fn siblings(&self) -> &[NodeCv] {
        &self.siblings
    }

    /// Encodes the proof (see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 32 * self.siblings.len());
        out.extend_from_slice(MAGIC);
        out.push(Self::VERSION);
        out.push(self.leaf_size.log2());
        out.extend_from_slice(&self.file_len.to_be_bytes());
        out.extend_from_slice(&self.bytes.start.to_be_bytes());
        out.extend_from_slice(&self.bytes.end.to_be_bytes());
        // At most two siblings per level of a 64-level tree: always fits.
        out.extend_from_slice(&(self.siblings.len() as u16).to_be_bytes());
        for s in &self.siblings {
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    /// Decodes a proof, checking its structure; never panics, and allocates
    /// at most what the input's own length allows.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let bad = |at, reason| Error::MalformedProof { at, reason };
        if buf.len() < HEADER_LEN {
            return Err(bad(
                buf.len(),
                "truncated header: a proof is at least 32 bytes",
            ));
        }
        if &buf[0..4] != MAGIC {
            return Err(bad(0, "bad magic: not a modelda proof"));
        }
        if buf[4] != Self::VERSION {
            return Err(Error::UnsupportedVersion {
                version: buf[4],
                supported: Self::VERSION,
            });
        }
        let leaf_size =
            LeafSize::from_log2(buf[5]).map_err(|_| bad(5, "leaf size out of range"))?;
        let u64_at = |at: usize| u64::from_be_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
        let file_len = u64_at(6);
        let bytes = u64_at(14)..u64_at(22);
        let leaves = leaf_size
            .leaves_of(file_len, bytes.clone())
            .map_err(|_| bad(14, "byte range is empty or outside the file"))?;
        let count = u16::from_be_bytes([buf[30], buf[31]]) as usize;
        let expected = sibling_count(leaf_size.leaf_count(file_len), &leaves);
        if count != expected {
            return Err(Error::ProofShape {
                leaves,
                found: count,
                expected,
            });
        }
        let body = &buf[HEADER_LEN..];
        if body.len() != 32 * count {
            return Err(bad(
                HEADER_LEN + body.len().min(32 * count),
                "sibling list length does not match its count",
            ));
        }
        let siblings = body
            .chunks_exact(32)
            .map(|c| NodeCv::from_bytes(c.try_into().expect("32 bytes")))
            .collect();
        Ok(RangeProof {
            leaf_size,
            file_len,
            bytes,
            siblings,
        })
    }

    /// Verifies `data`, the bytes of the covered leaves ([`Self::covered`]),
    /// against `root`, and checks the proof is for the file length, leaf size
    /// and byte range the caller expects. Returns the bytes of the proven range.
    pub fn verify<'a>(
        &self,
        root: &FileRoot,
        file_len: u64,
        leaf_size: LeafSize,
        bytes: Range<u64>,
        data: &'a [u8],
    ) -> Result<&'a [u8]> {
        self.check_params(file_len, leaf_size, &bytes)?;
        let leaves = self.leaves();
        let covered = self.covered();
        if data.len() as u64 != covered.end - covered.start {
            return Err(Error::DataLength {
                offset: covered.start,
                expected: covered.end - covered.start,
                actual: data.len() as u64,
            });
        }
        if leaf_size.leaf_count(file_len) == 1 {
            if !self.siblings.is_empty() {
                return Err(Error::ProofShape {
                    leaves,
                    found: self.siblings.len(),
                    expected: 0,
                });
            }
            if &FileRoot::from(blake3::hash(data)) != root {
                return Err(Error::RootMismatch {
                    leaves,
                    root: root.to_hex(),
                });
            }
        } else {
            let cvs: Vec<LeafCv> = data
                .chunks(leaf_size.bytes() as usize)
                .enumerate()
                .map(|(j, c)| leaf_cv(leaf_size, leaves.start + j as u64, c))
                .collect();
            self.verify_leaf_cvs(root, &cvs)?;
        }
        let from = (self.bytes.start - covered.start) as usize;
        let to = (self.bytes.end - covered.start) as usize;
        Ok(&data[from..to])
    }

    /// Checks the proof is for the file length, leaf size and byte range the
    /// caller expects.
    pub(crate) fn check_params(
        &self,
        file_len: u64,
        leaf_size: LeafSize,
        bytes: &Range<u64>,
    ) -> Result<()> {
        let mismatch = |what, found: &dyn Display, expected: &dyn Display| {
            Err(Error::ProofMismatch {
                what,
                found: found.to_string(),
                expected: expected.to_string(),
            })
        };
        if file_len != self.file_len {
            return mismatch("file length", &self.file_len, &file_len);
        }
        if leaf_size != self.leaf_size {
            return mismatch("leaf size", &self.leaf_size, &leaf_size);
        }
        if *bytes != self.bytes {
            return mismatch(
                "byte range",
                &format!("{:?}", self.bytes),
                &format!("{bytes:?}"),
            );
        }
        Ok(())
    }

    /// Recomputes the root of a file of two or more leaves from the covered
    /// leaves' chaining values and the siblings, and compares it with `root`.
    pub(crate) fn verify_leaf_cvs(&self, root: &FileRoot, cvs: &[LeafCv]) -> Result<()> {
        let leaves = self.leaves();
        if cvs.len() as u64 != leaves.end - leaves.start {
            return Err(Error::CvCount {
                leaves,
                found: cvs.len(),
            });
        }
        let n = self.leaf_size.leaf_count(self.file_len);
        let expected = sibling_count(n, &leaves);
        if self.siblings.len() != expected {
            return Err(Error::ProofShape {
                leaves,
                found: self.siblings.len(),
                expected,
            });
        }
        let mut walk = Walk {
            range: leaves.clone(),
            cvs,
            siblings: self.siblings.iter(),
        };
        let k = split(n);
        let left = walk.node(0, k);
        let right = walk.node(k, n);
        if &FileRoot::from(merge_subtrees_root(&left, &right, Mode::Hash)) != root {
            return Err(Error::RootMismatch {
                leaves,
                root: root.to_hex(),
            });
        }
        Ok(())
    }
}

/// Recomputes node chaining values from the covered leaves and the siblings.
struct Walk<'a> {
    range: Range<u64>,
    cvs: &'a [LeafCv],
    siblings: std::slice::Iter<'a, NodeCv>,
}

impl Walk<'_> {
    fn node(&mut self, lo: u64, hi: u64) -> [u8; 32] {
        if hi <= self.range.start || self.range.end <= lo {
            // The count was checked against the geometry before walking.
            *self
                .siblings
                .next()
                .expect("sibling count checked")
                .as_bytes()
        } else if hi - lo == 1 {
            *self.cvs[(lo - self.range.start) as usize].as_bytes()
        } else {
            let k = lo + split(hi - lo);
            let left = self.node(lo, k);
            let right = self.node(k, hi);
            merge_subtrees_non_root(&left, &right, Mode::Hash)
        }
    }
}

/// Verifies `data` (the bytes of the leaves covering `bytes`) against `root`
/// with `proof`; see [`RangeProof::verify`].
pub fn verify_range<'a>(
    root: &FileRoot,
    file_len: u64,
    leaf_size: LeafSize,
    bytes: Range<u64>,
    data: &'a [u8],
    proof: &RangeProof,
) -> Result<&'a [u8]> {
    proof.verify(root, file_len, leaf_size, bytes, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Commitment;

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i >> 14) as u8)
            .collect()
    }

    #[test]
    fn every_leaf_and_every_range_of_a_small_tree_verifies() {
        let ls = LeafSize::MIN;
        for n in [1u64, 2, 3, 4, 5, 7, 8, 9] {
            let len = n * ls.bytes() - 3;
            let d = data(len as usize);
            let c = Commitment::from_bytes(&d, ls);
            for a in 0..n {
                for b in a + 1..=n {
                    let bytes = ls.bytes_of(len, a..b);
                    let p = c.prove(bytes.clone()).unwrap();
                    let p = RangeProof::decode(&p.encode()).unwrap();
                    let cov = p.covered();
                    let got = p
                        .verify(
                            &c.root(),
                            len,
                            ls,
                            bytes.clone(),
                            &d[cov.start as usize..cov.end as usize],
                        )
                        .unwrap();
                    assert_eq!(got, &d[bytes.start as usize..bytes.end as usize]);
                }
            }
        }
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        assert!(RangeProof::decode(b"").is_err());
        assert!(RangeProof::decode(&[0u8; 31]).is_err());
        let ls = LeafSize::MIN;
        let d = data(5 * ls.bytes() as usize);
        let c = Commitment::from_bytes(&d, ls);
        let enc = c.prove_leaf(2).unwrap().encode();
        for cut in 0..enc.len() {
            assert!(
                RangeProof::decode(&enc[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut bad = enc.clone();
        bad[4] = 9;
        assert!(matches!(
            RangeProof::decode(&bad),
            Err(Error::UnsupportedVersion { .. })
        ));
        let mut bad = enc.clone();
        bad[31] = bad[31].wrapping_add(1);
        assert!(matches!(
            RangeProof::decode(&bad),
            Err(Error::ProofShape { .. })
        ));
        let mut long = enc;
        long.extend_from_slice(&[0; 32]);
        assert!(RangeProof::decode(&long).is_err());
    }
}
