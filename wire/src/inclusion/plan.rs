//! What a document must carry for a byte range: of each covered leaf, its
//! envelope header and the 1 KiB chunks of the asked bytes (the whole leaf
//! in the middle of the range); of each blob, the runs of shares holding
//! those bytes. Pure: a server plans with it, and tests build documents
//! with it.

use std::ops::Range;

use modelda_core::square::parts::shares_holding;
use modelda_merkle::{chunk_span, LeafSize};

use crate::envelope::HEADER_LEN;

/// Shares apart that two runs of one blob may be and still travel as one
/// (a run's own proof costs about two shares).
pub const MERGE_GAP: u32 = 2;

/// Of leaf `leaf` of a file of `file_len` bytes, the bytes that travel for
/// `range` (relative to the leaf's start: the asked bytes rounded out to
/// 1 KiB chunks), and the leaf's length.
pub fn leaf_span(
    leaf_size: LeafSize,
    file_len: u64,
    leaf: u64,
    range: &Range<u64>,
) -> (Range<u64>, u64) {
    let bytes = leaf_size.leaf_bytes(file_len, leaf);
    let len = bytes.end - bytes.start;
    let want = range.start.max(bytes.start) - bytes.start..range.end.min(bytes.end) - bytes.start;
    (chunk_span(len, want), len)
}

/// The byte spans of a blob that travel for leaves whose envelopes start at
/// `offset` and whose bytes `span` travel: each envelope header, and the
/// span of its payload (one span when they touch).
pub fn blob_spans(leaves: impl IntoIterator<Item = (u32, Range<u64>)>) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for (offset, span) in leaves {
        let at = u64::from(offset);
        let payload = at + HEADER_LEN as u64;
        if span.start == 0 {
            out.push(at..payload + span.end);
        } else {
            out.push(at..payload);
            out.push(payload + span.start..payload + span.end);
        }
    }
    out
}

/// The runs of shares holding `spans` of a blob of `blob_shares` shares,
/// in order, merged where they overlap or lie within [`MERGE_GAP`] shares.
pub fn share_runs(spans: &[Range<u64>], blob_shares: u32) -> Vec<Range<u32>> {
    let mut runs: Vec<Range<u32>> = spans
        .iter()
        .filter(|s| s.start < s.end)
        .map(|s| {
            let r = shares_holding(s.clone());
            r.start..r.end.min(blob_shares)
        })
        .filter(|r| r.start < r.end)
        .collect();
    runs.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u32>> = Vec::with_capacity(runs.len());
    for r in runs {
        match merged.last_mut() {
            Some(last) if r.start <= last.end + MERGE_GAP => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_what_touches() {
        assert_eq!(share_runs(&[0..10, 2000..2100], 100), vec![0..1, 4..5]);
        assert_eq!(share_runs(&[0..93, 93..5000], 100), vec![0..11]);
        assert_eq!(
            share_runs(&[100_000..100_093, 200_000..201_000], 1000),
            vec![207..208, 414..418]
        );
        // Two shares apart: one run.
        let far = 478 + 482 * 2;
        assert_eq!(share_runs(&[0..10, far..far + 1], 100), vec![0..4]);
        assert_eq!(
            share_runs(&[0..10, far + 482..far + 483], 100),
            vec![0..1, 4..5]
        );
        // Past the blob's shares: cut.
        let all = [0..100_000, 0..1];
        let runs = share_runs(&all, 10);
        assert_eq!((runs.len(), runs[0].clone()), (1, 0..10));
    }

    #[test]
    fn a_leaf_in_the_middle_travels_whole_and_its_edges_in_chunks() {
        let ls = LeafSize::MIN; // 16 KiB
        let len = 5 * ls.bytes() - 10;
        let r = 20_000..50_000;
        assert_eq!(leaf_span(ls, len, 1, &r), (3072..16384, 16384));
        assert_eq!(leaf_span(ls, len, 2, &r), (0..16384, 16384));
        assert_eq!(leaf_span(ls, len, 3, &r), (0..1024, 16384));
        assert_eq!(
            leaf_span(ls, len, 4, &(len - 1..len)),
            (15360..16374, 16374)
        );
        assert_eq!(
            blob_spans([(0u32, 0..100), (200, 1024..2048)]),
            vec![0..193, 200..293, 1317..2341]
        );
    }
}
