//! Leaf part proofs: a chunk-aligned span of one leaf, proven by the chaining
//! values of the rest of that leaf.
//!
//! A [`RangeProof`] covers whole leaves, so the verifier of a byte range must
//! hold every byte of the first and last covered leaves: up to two leaves
//! (2 MiB at the default leaf size) beyond what it asked for. Inside a leaf,
//! BLAKE3 is a tree too, over 1 KiB chunks, split like the tree over leaves:
//! the left subtree of a node over `c` chunks holds the largest power of two
//! of chunks smaller than `c`. A [`LeafPartProof`] carries the chaining values
//! of the maximal subtrees of one leaf that lie wholly outside a span of its
//! chunks; with the span's bytes they give back the leaf's chaining value,
//! exactly what [`leaf_cv`](crate::leaf_cv) gives for the whole leaf. The last
//! leaf of a file may be short and hold any number of chunks; a leaf of one
//! chunk has that chunk's chaining value as its own.
//!
//! A byte range is proven by a [`RangeProof`] over its leaves plus a
//! [`LeafPartProof`] for the first and for the last covered leaf. The verifier
//! needs only the asked bytes rounded out to chunks ([`chunk_span`]): it
//! recomputes the edge leaves' chaining values with [`LeafPartProof::leaf_cv`],
//! those of the inner leaves from their bytes, and checks them all with
//! [`RangeProof::verify_cvs`].
//!
//! # Files of one leaf
//!
//! The root of a file of one leaf is the BLAKE3 hash of its bytes, a root
//! finalization that no chaining value gives: [`RangeProof::verify_cvs`]
//! refuses such files. [`LeafPartProof::file_root`] supports them by merging
//! the top of the leaf's tree with BLAKE3's root finalization (a file of one
//! chunk has only whole-file spans, and its root is the hash of the span).
//!
//! # Encoding (version 1)
//!
//! All integers are big-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MDAL` |
//! | 4 | 1 | version, `1` |
//! | 5 | 1 | log2 of the leaf size (14..=23) |
//! | 6 | 8 | leaf index in the file |
//! | 14 | 8 | leaf length in bytes (1 ..= leaf size) |
//! | 22 | 8 | start of the span, in bytes from the start of the leaf |
//! | 30 | 8 | end of the span (exclusive) |
//! | 38 | 2 | number of sibling chaining values, `k` |
//! | 40 | 32k | sibling chaining values, left to right |
//!
//! The span is not empty, starts on a multiple of 1 KiB and ends on a multiple
//! of 1 KiB or at the end of the leaf. Siblings are the chaining values of the
//! maximal subtrees of the leaf's chunk tree wholly outside the span's chunks,
//! in left-to-right order; their number is fixed by the leaf length and the
//! span (at most two per level: 26 for an 8 MiB leaf), so a decoder knows it
//! before reading them and rejects any other count.

use std::fmt::Display;
use std::ops::Range;

use crate::{Error, FileRoot, LeafCv, LeafSize, NodeCv, RangeProof, Result};

mod chunks;

pub use chunks::chunk_span;
use chunks::Geometry;

const MAGIC: &[u8; 4] = b"MDAL";
const HEADER_LEN: usize = 40;

/// A proof that some bytes sit at a chunk-aligned span of one leaf with a
/// given chaining value.
///
/// ```
/// use modelda_merkle::{chunk_span, Commitment, LeafPartProof, LeafSize};
/// let data = vec![7u8; 3 << 20];
/// let (ls, len) = (LeafSize::DEFAULT, data.len() as u64);
/// let c = Commitment::from_bytes(&data, ls);
/// let range = 1_500_000..1_600_000; // inside leaf 1
/// let proof = c.prove(range.clone()).unwrap();
/// let leaf = ls.leaf_bytes(len, 1);
/// let within = range.start - leaf.start..range.end - leaf.start;
/// let leaf_bytes = &data[leaf.start as usize..leaf.end as usize];
/// let part = LeafPartProof::prove(ls, 1, leaf_bytes, within.clone()).unwrap();
/// // The verifier holds the range rounded out to 1 KiB chunks, not the leaf.
/// let span = chunk_span(leaf.end - leaf.start, within);
/// let held = &leaf_bytes[span.start as usize..span.end as usize];
/// assert_eq!(held.len(), 101_376);
/// let cv = part.leaf_cv(ls, 1, leaf.end - leaf.start, span, held).unwrap();
/// proof.verify_cvs(&c.root(), len, ls, range, &[cv]).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafPartProof {
    leaf_size: LeafSize,
    leaf_index: u64,
    leaf_len: u64,
    span: Range<u64>,
    siblings: Vec<NodeCv>,
}

impl LeafPartProof {
    /// The encoding version this build writes and reads.
    pub const VERSION: u8 = 1;

    /// A proof for the bytes `within` (from the start of the leaf, not empty,
    /// inside it) of leaf `leaf_index`, whose bytes are `leaf_bytes`: the whole
    /// leaf, `leaf_size` bytes or fewer for the last leaf of a file. The proof
    /// covers `within` rounded out to chunks ([`chunk_span`]).
    pub fn prove(
        leaf_size: LeafSize,
        leaf_index: u64,
        leaf_bytes: &[u8],
        within: Range<u64>,
    ) -> Result<Self> {
        let leaf_len = leaf_bytes.len() as u64;
        if within.start >= within.end || within.end > leaf_len {
            return Err(Error::InvalidSpan {
                leaf: leaf_index,
                leaf_len,
                span: within,
                reason: "the range to prove is empty or ends past the leaf",
            });
        }
        let span = chunk_span(leaf_len, within);
        let geometry = Geometry::new(leaf_size, leaf_index, leaf_len, &span)?;
        let siblings = geometry.siblings(leaf_bytes);
        Ok(LeafPartProof {
            leaf_size,
            leaf_index,
            leaf_len,
            span,
            siblings,
        })
    }

    /// Leaf size of the committed file.
    pub fn leaf_size(&self) -> LeafSize {
        self.leaf_size
    }

    /// Index of the leaf in its file.
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }

    /// Length of the leaf in bytes.
    pub fn leaf_len(&self) -> u64 {
        self.leaf_len
    }

    /// The proven span, in bytes from the start of the leaf.
    pub fn span(&self) -> Range<u64> {
        self.span.clone()
    }

    /// The proven span in file offsets: the data a verifier must supply.
    pub fn covered(&self) -> Range<u64> {
        // A constructed proof's leaf end fits in 64 bits.
        let offset = self.leaf_index << self.leaf_size.log2();
        offset + self.span.start..offset + self.span.end
    }

    /// Sibling chaining values, left to right.
    pub fn siblings(&self) -> &[NodeCv] {
        &self.siblings
    }

    /// Recomputes the chaining value of the leaf from `span_bytes`, the bytes
    /// of [`Self::span`], after checking the proof is for the leaf size, leaf
    /// index, leaf length and span the caller expects. The result is what
    /// [`leaf_cv`](crate::leaf_cv) gives for the whole leaf; check it with
    /// [`RangeProof::verify_cvs`]. `leaf_len` is the length of the leaf in its
    /// file, that of `leaf_size.leaf_bytes(file_len, leaf_index)`.
    pub fn leaf_cv(
        &self,
        leaf_size: LeafSize,
        leaf_index: u64,
        leaf_len: u64,
        span: Range<u64>,
        span_bytes: &[u8],
    ) -> Result<LeafCv> {
        let geometry = self.check(leaf_size, leaf_index, leaf_len, &span, span_bytes)?;
        Ok(LeafCv::from_bytes(
            geometry.leaf_cv(span_bytes, &self.siblings),
        ))
    }

    /// Recomputes the root of a file of `file_len` bytes that is a single leaf
    /// (leaf 0, `file_len <= leaf_size`) from `span_bytes`, the bytes of
    /// [`Self::span`]. The result is `blake3::hash(file)` when the bytes and
    /// proof are genuine; compare it with the file's root.
    pub fn file_root(
        &self,
        leaf_size: LeafSize,
        file_len: u64,
        span: Range<u64>,
        span_bytes: &[u8],
    ) -> Result<FileRoot> {
        let geometry = self.check(leaf_size, 0, file_len, &span, span_bytes)?;
        Ok(FileRoot::from(
            geometry.file_root(span_bytes, &self.siblings),
        ))
    }

    /// Checks the proof against what the verifier expects and the bytes it holds.
    fn check(
        &self,
        leaf_size: LeafSize,
        leaf_index: u64,
        leaf_len: u64,
        span: &Range<u64>,
        span_bytes: &[u8],
    ) -> Result<Geometry> {
        let mismatch = |what, found: &dyn Display, expected: &dyn Display| {
            Err(Error::ProofMismatch {
                what,
                found: found.to_string(),
                expected: expected.to_string(),
            })
        };
        if leaf_size != self.leaf_size {
            return mismatch("leaf size", &self.leaf_size, &leaf_size);
        }
        if leaf_index != self.leaf_index {
            return mismatch("leaf index", &self.leaf_index, &leaf_index);
        }
        if leaf_len != self.leaf_len {
            return mismatch("leaf length", &self.leaf_len, &leaf_len);
        }
        if *span != self.span {
            return mismatch("span", &format!("{:?}", self.span), &format!("{span:?}"));
        }
        let geometry = Geometry::new(leaf_size, leaf_index, leaf_len, span)?;
        if span_bytes.len() as u64 != span.end - span.start {
            return Err(Error::DataLength {
                offset: geometry.offset + span.start,
                expected: span.end - span.start,
                actual: span_bytes.len() as u64,
            });
        }
        let expected = geometry.sibling_count();
        if self.siblings.len() != expected {
            return Err(Error::PartShape {
                leaf: leaf_index,
                span: span.clone(),
                found: self.siblings.len(),
                expected,
            });
        }
        Ok(geometry)
    }

    /// Encodes the proof (see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 32 * self.siblings.len());
        out.extend_from_slice(MAGIC);
        out.push(Self::VERSION);
        out.push(self.leaf_size.log2());
        for v in [
            self.leaf_index,
            self.leaf_len,
            self.span.start,
            self.span.end,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        // At most two siblings per level of a 13-level leaf tree: always fits.
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
                "truncated header: a leaf part proof is at least 40 bytes",
            ));
        }
        if &buf[0..4] != MAGIC {
            return Err(bad(0, "bad magic: not a modelda leaf part proof"));
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
        let (leaf_index, leaf_len) = (u64_at(6), u64_at(14));
        let span = u64_at(22)..u64_at(30);
        let geometry = Geometry::new(leaf_size, leaf_index, leaf_len, &span)?;
        let count = u16::from_be_bytes([buf[38], buf[39]]) as usize;
        let expected = geometry.sibling_count();
        if count != expected {
            return Err(Error::PartShape {
                leaf: leaf_index,
                span,
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
        Ok(LeafPartProof {
            leaf_size,
            leaf_index,
            leaf_len,
            span,
            siblings,
        })
    }
}

impl RangeProof {
    /// Verifies `cvs`, the chaining values of the covered leaves
    /// ([`Self::leaves`], one per leaf, in order), against `root`, with the
    /// same checks as [`Self::verify`]. Each chaining value may come from the
    /// leaf's bytes ([`leaf_cv`](crate::leaf_cv)) or from a
    /// [`LeafPartProof`] and part of the bytes ([`LeafPartProof::leaf_cv`]).
    ///
    /// Refuses a file of one leaf with [`Error::SingleLeafFile`]: its root is
    /// the BLAKE3 hash of its bytes, which no chaining value gives. Verify such
    /// a file with [`Self::verify`] or [`LeafPartProof::file_root`].
    pub fn verify_cvs(
        &self,
        root: &FileRoot,
        file_len: u64,
        leaf_size: LeafSize,
        bytes: Range<u64>,
        cvs: &[LeafCv],
    ) -> Result<()> {
        self.check_params(file_len, leaf_size, &bytes)?;
        if leaf_size.leaf_count(file_len) == 1 {
            return Err(Error::SingleLeafFile {
                file_len,
                leaf_size: leaf_size.bytes(),
            });
        }
        self.verify_leaf_cvs(root, cvs)
    }
}

#[cfg(test)]
mod tests;
