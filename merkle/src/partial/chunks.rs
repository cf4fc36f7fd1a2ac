//! The chunk tree inside one leaf: which subtrees a span of chunks leaves
//! out, and how the leaf's chaining value is rebuilt from the span's bytes
//! and the chaining values of those subtrees.

use std::ops::Range;

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};

use crate::proof::sibling_count;
use crate::tree::split;
use crate::{Error, LeafSize, NodeCv, Result};

/// BLAKE3's chunk: 1 KiB.
const CHUNK: u64 = 1024;

/// `within` (bytes from the start of a leaf of `leaf_len` bytes) capped at
/// `leaf_len` and rounded out to 1 KiB chunk boundaries (the end to at most
/// `leaf_len`): the span a [`LeafPartProof`](crate::LeafPartProof) of
/// `within` covers, and the bytes its verifier needs.
///
/// It does not fail: a `within` that is empty or starts past the leaf gives an
/// empty span, which [`LeafPartProof::prove`](crate::LeafPartProof::prove)
/// refuses.
pub fn chunk_span(leaf_len: u64, within: Range<u64>) -> Range<u64> {
    let (from, to) = (within.start.min(leaf_len), within.end.min(leaf_len));
    let start = from - from % CHUNK;
    if from >= to {
        return start..start;
    }
    let end = to.checked_next_multiple_of(CHUNK).unwrap_or(u64::MAX);
    start..end.min(leaf_len)
}

/// A checked leaf and span: where the leaf sits and which chunks the span holds.
pub(super) struct Geometry {
    /// File offset of the leaf.
    pub(super) offset: u64,
    leaf_len: u64,
    /// Chunks in the leaf.
    chunks: u64,
    /// Chunks of the span.
    inside: Range<u64>,
}

impl Geometry {
    pub(super) fn new(
        leaf_size: LeafSize,
        leaf: u64,
        leaf_len: u64,
        span: &Range<u64>,
    ) -> Result<Self> {
        let bad = |reason| {
            Err(Error::InvalidSpan {
                leaf,
                leaf_len,
                span: span.clone(),
                reason,
            })
        };
        if leaf_len == 0 || leaf_len > leaf_size.bytes() {
            return bad("a leaf holds from 1 byte to the leaf size");
        }
        let offset = leaf.checked_mul(leaf_size.bytes());
        let Some(offset) = offset.filter(|o| o.checked_add(leaf_len).is_some()) else {
            return bad("the leaf's file offset does not fit in 64 bits");
        };
        if span.start >= span.end || span.end > leaf_len {
            return bad("the span is empty or ends past the leaf");
        }
        if !span.start.is_multiple_of(CHUNK)
            || (!span.end.is_multiple_of(CHUNK) && span.end != leaf_len)
        {
            return bad("the span is not aligned to 1 KiB chunks: round it out with chunk_span");
        }
        Ok(Geometry {
            offset,
            leaf_len,
            chunks: leaf_len.div_ceil(CHUNK),
            inside: span.start / CHUNK..span.end.div_ceil(CHUNK),
        })
    }

    /// Number of siblings a proof of the span holds.
    pub(super) fn sibling_count(&self) -> usize {
        sibling_count(self.chunks, &self.inside)
    }

    /// Bytes of chunks `lo..hi`, from the start of the leaf.
    fn bytes_of(&self, lo: u64, hi: u64) -> Range<usize> {
        (lo * CHUNK) as usize..(hi * CHUNK).min(self.leaf_len) as usize
    }

    /// The leaf's (non-root) chaining value from the span's bytes and the
    /// siblings, whose number the caller checked against [`Self::sibling_count`].
    pub(super) fn leaf_cv(&self, span_bytes: &[u8], siblings: &[NodeCv]) -> [u8; 32] {
        let mut rebuild = Rebuild {
            geometry: self,
            span_bytes,
            siblings: siblings.iter(),
        };
        rebuild.node(0, self.chunks)
    }

    /// The root of a file that is this one leaf (at offset 0), from the span's
    /// bytes and the siblings, whose number the caller checked.
    pub(super) fn file_root(&self, span_bytes: &[u8], siblings: &[NodeCv]) -> blake3::Hash {
        if self.chunks == 1 {
            // The only span of a one-chunk leaf is the whole file.
            return blake3::hash(span_bytes);
        }
        let mut rebuild = Rebuild {
            geometry: self,
            span_bytes,
            siblings: siblings.iter(),
        };
        let k = split(self.chunks);
        let left = rebuild.node(0, k);
        let right = rebuild.node(k, self.chunks);
        merge_subtrees_root(&left, &right, Mode::Hash)
    }

    /// The siblings of the span, left to right, from the whole leaf's bytes.
    pub(super) fn siblings(&self, leaf: &[u8]) -> Vec<NodeCv> {
        let mut out = Vec::with_capacity(self.sibling_count());
        self.collect(leaf, 0, self.chunks, &mut out);
        out
    }

    /// Pushes the chaining values of the subtrees in `lo..hi` wholly outside
    /// the span, left to right.
    fn collect(&self, leaf: &[u8], lo: u64, hi: u64, out: &mut Vec<NodeCv>) {
        if hi <= self.inside.start || self.inside.end <= lo {
            let cv = subtree_cv(self.offset + lo * CHUNK, &leaf[self.bytes_of(lo, hi)]);
            out.push(NodeCv::from_bytes(cv));
        } else if self.inside.start <= lo && hi <= self.inside.end {
            // Inside the span: the verifier computes it from the bytes.
        } else {
            let k = lo + split(hi - lo);
            self.collect(leaf, lo, k, out);
            self.collect(leaf, k, hi, out);
        }
    }
}

/// Non-root chaining value of `bytes`, a whole subtree of BLAKE3's tree at
/// file offset `offset` (one chunk gives the chunk's chaining value).
fn subtree_cv(offset: u64, bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(offset);
    hasher.update(bytes);
    hasher.finalize_non_root()
}

/// Recomputes node chaining values from the span's bytes and the siblings.
struct Rebuild<'a> {
    geometry: &'a Geometry,
    span_bytes: &'a [u8],
    siblings: std::slice::Iter<'a, NodeCv>,
}

impl Rebuild<'_> {
    fn node(&mut self, lo: u64, hi: u64) -> [u8; 32] {
        let g = self.geometry;
        if hi <= g.inside.start || g.inside.end <= lo {
            // The count was checked against the geometry before rebuilding.
            *self
                .siblings
                .next()
                .expect("sibling count checked")
                .as_bytes()
        } else if g.inside.start <= lo && hi <= g.inside.end {
            let base = (g.inside.start * CHUNK) as usize;
            let b = g.bytes_of(lo, hi);
            subtree_cv(
                g.offset + lo * CHUNK,
                &self.span_bytes[b.start - base..b.end - base],
            )
        } else {
            let k = lo + split(hi - lo);
            let left = self.node(lo, k);
            let right = self.node(k, hi);
            merge_subtrees_non_root(&left, &right, Mode::Hash)
        }
    }
}
