//! Step 4 of verification: each covered leaf out of the proven blob bytes.

use std::ops::Range;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_core::square::parts::BlobPiece;
use modelda_manifest::FileEntry;
use modelda_merkle::{leaf_cv, LeafCv, LeafPartProof};

use super::{bad, InclusionDocument};
use crate::envelope::{Envelope, Kind, HEADER_LEN};
use crate::Result;

/// Longest base64 of a leaf part proof: its header and at most 24
/// siblings (a leaf of 8 MiB holds 2^13 chunks), with room to spare.
const MAX_PART_B64: usize = 4 * 1024;

/// A leaf as verified out of its envelope.
pub(super) struct Placed {
    /// The file bytes that travelled.
    pub span: Range<u64>,
    /// Those bytes.
    pub bytes: Vec<u8>,
    /// The leaf's chaining value, from those bytes.
    pub cv: LeafCv,
}

/// `len` bytes at `offset` of a blob, when one proven piece holds them.
fn read(pieces: &[BlobPiece], offset: u64, len: u64) -> Option<&[u8]> {
    pieces.iter().find_map(|p| {
        let from = offset.checked_sub(p.offset)?;
        let to = from.checked_add(len)?;
        p.bytes.get(from as usize..usize::try_from(to).ok()?)
    })
}

/// Each leaf of `doc` out of the proven pieces of its blob: its header
/// (this model, file `fi`, the leaf's index and length), the bytes that
/// travelled and the chaining value they prove.
pub(super) fn place(
    doc: &InclusionDocument,
    fi: usize,
    entry: &FileEntry,
    range: &Range<u64>,
    pieces: &[Vec<BlobPiece>],
) -> Result<Vec<Placed>> {
    let ls = entry.leaf_size;
    let mut out = Vec::with_capacity(doc.leaves.len());
    for p in &doc.leaves {
        let l = p.leaf;
        let blob = pieces
            .get(p.blob as usize)
            .ok_or_else(|| bad("leaves", format!("leaf {l} names blob {}", p.blob)))?;
        let at = u64::from(p.offset);
        let missing = |what: &str| {
            bad(
                "leaves",
                format!(
                    "leaf {l}: the {what} at blob {} offset {} is not among the proven bytes",
                    p.blob, p.offset
                ),
            )
        };
        let head = read(blob, at, HEADER_LEN as u64).ok_or_else(|| missing("envelope header"))?;
        let (h, len, digest) =
            Envelope::header_of(head).map_err(|e| bad("leaves", format!("leaf {l}: {e}")))?;
        let leaf_span = ls.leaf_bytes(entry.size, l);
        let leaf_len = leaf_span.end - leaf_span.start;
        let whole_file = entry.size <= ls.bytes();
        let kind_ok = if whole_file {
            h.kind == Kind::Whole
        } else {
            h.kind == Kind::Data && h.leaf_index() == Some(l)
        };
        if !kind_ok
            || h.model != doc.model_id
            || h.file as usize != fi
            || h.leaf_size != ls
            || len as u64 != leaf_len
        {
            return Err(bad(
                "leaves",
                format!(
                    "the envelope at blob {} offset {} is not leaf {l} of this file",
                    p.blob, p.offset
                ),
            ));
        }
        let payload = at + HEADER_LEN as u64;
        let placed = match &p.part {
            None => {
                let bytes = read(blob, payload, leaf_len).ok_or_else(|| missing("leaf"))?;
                let ok = if whole_file {
                    blake3::hash(bytes).as_bytes() == &digest && digest == *entry.root.as_bytes()
                } else {
                    leaf_cv(ls, l, bytes).as_bytes() == &digest
                };
                if !ok {
                    return Err(bad(
                        "leaves",
                        format!("leaf {l}: the bytes do not hash to their envelope's digest"),
                    ));
                }
                Placed {
                    span: leaf_span,
                    bytes: bytes.to_vec(),
                    cv: LeafCv::from_bytes(digest),
                }
            }
            Some(part) => {
                if part.len() > MAX_PART_B64 {
                    return Err(bad("leaves", format!("leaf {l}: part proof too long")));
                }
                let raw = B64
                    .decode(part)
                    .map_err(|e| bad("leaves", format!("leaf {l}: part proof not base64 ({e})")))?;
                let proof = LeafPartProof::decode(&raw)
                    .map_err(|e| bad("leaves", format!("leaf {l}: {e}")))?;
                let span = proof.span();
                // The part must hold every asked byte of the leaf.
                let want = range.start.max(leaf_span.start) - leaf_span.start
                    ..range.end.min(leaf_span.end) - leaf_span.start;
                if span.start > want.start || span.end < want.end {
                    return Err(bad(
                        "leaves",
                        format!(
                            "leaf {l}: the part carries bytes {}..{} of the leaf, the range \
                             needs {}..{}",
                            span.start, span.end, want.start, want.end
                        ),
                    ));
                }
                let bytes = read(blob, payload + span.start, span.end - span.start)
                    .ok_or_else(|| missing("leaf part"))?;
                let cv = if whole_file {
                    // The digest of a file of one leaf is its root.
                    *proof
                        .file_root(ls, leaf_len, span.clone(), bytes)
                        .map_err(|e| bad("leaves", format!("leaf {l}: {e}")))?
                        .as_bytes()
                } else {
                    *proof
                        .leaf_cv(ls, l, leaf_len, span.clone(), bytes)
                        .map_err(|e| bad("leaves", format!("leaf {l}: {e}")))?
                        .as_bytes()
                };
                if cv != digest || (whole_file && digest != *entry.root.as_bytes()) {
                    return Err(bad(
                        "leaves",
                        format!("leaf {l}: the part does not prove its envelope's digest"),
                    ));
                }
                Placed {
                    span: leaf_span.start + span.start..leaf_span.start + span.end,
                    bytes: bytes.to_vec(),
                    cv: LeafCv::from_bytes(cv),
                }
            }
        };
        out.push(placed);
    }
    Ok(out)
}

/// The bytes of `range` out of the placed leaves (which cover it, in order).
pub(super) fn range_bytes(placed: &[Placed], range: &Range<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    for l in placed {
        let (lo, hi) = (range.start.max(l.span.start), range.end.min(l.span.end));
        if lo < hi {
            out.extend_from_slice(
                &l.bytes[(lo - l.span.start) as usize..(hi - l.span.start) as usize],
            );
        }
    }
    out
}
