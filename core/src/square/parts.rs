//! Proofs of part of a blob: the shares that hold some of its bytes, not
//! the whole blob.
//!
//! A [`BlobShares`] proves runs of shares of the blob a square locator
//! names (height `H`, namespace `N`, share commitment `C`). A verifier
//! checks it against that locator and the data root its own node gives for
//! `H`, nothing else:
//!
//! 1. **In the square.** Each run carries celestia-types' [`ShareProof`]
//!    (what celestia-node's `share.GetRange` answers): the shares, NMT range
//!    proofs of them against their rows' roots, and the rows' roots against
//!    the data root. So the shares are in namespace `N` of block `H`.
//! 2. **In the blob.** A share commitment is the RFC 6962 root of the
//!    blob's subtree roots (ADR-013): NMT roots of runs of a power-of-two
//!    number of shares, cut as a Merkle mountain range. The proof carries
//!    all of them (90 bytes each; 35 for a 2 MiB blob), which must hash to
//!    `C`, and each run proves its shares against the subtree roots they sit
//!    under, at their places. So the shares are shares `i..j` of blob `C`,
//!    which fixes the blob offset of every byte they carry (a blob's first
//!    share carries 478 bytes, every other 482).
//!
//! What this leaves out, next to a whole-blob proof: that the rest of blob
//! `C` is in block `H`. The proven bytes are (1) in block `H` and (2) bytes
//! `i..j` of blob `C`; the rest of the blob is not fetched, which is the
//! point.
//!
//! Every count read from a proof is checked against the geometry before
//! anything is allocated or hashed for it.

use std::ops::Range;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use celestia_types::nmt::{NamespaceProof, NamespacedHash, NamespacedHashExt, NS_SIZE};
pub use celestia_types::ShareProof;
use serde::{Deserialize, Serialize};

use super::commitment::{self, Node, NODE_LEN};
use super::nmt_range;
use super::to_celestia;
use super::{CONTINUATION_SHARE_PAYLOAD, FIRST_SHARE_PAYLOAD};
use crate::{Error, Locator, Namespace, Result, ShareCommitment};

/// Bytes of a share.
pub const SHARE_BYTES: usize = 512;

/// Most shares a blob may have: a whole 512x512 square (Celestia app v6).
pub const MAX_BLOB_SHARES: u32 = 512 * 512;

/// Most runs one proof carries.
pub const MAX_RUNS: usize = 1024;

/// Blob byte offset at which share `i`'s payload starts.
pub fn share_payload_start(i: u32) -> u64 {
    if i == 0 {
        0
    } else {
        FIRST_SHARE_PAYLOAD as u64 + u64::from(i - 1) * CONTINUATION_SHARE_PAYLOAD as u64
    }
}

/// The blob's shares that hold its bytes `bytes` (a non-empty range).
pub fn shares_holding(bytes: Range<u64>) -> Range<u32> {
    let share_of = |b: u64| -> u32 {
        if b < FIRST_SHARE_PAYLOAD as u64 {
            0
        } else {
            (1 + (b - FIRST_SHARE_PAYLOAD as u64) / CONTINUATION_SHARE_PAYLOAD as u64) as u32
        }
    };
    share_of(bytes.start)..share_of(bytes.end.max(bytes.start + 1) - 1) + 1
}

/// The subtree roots of a blob's share commitment, in order and encoded
/// as a [`BlobShares`] carries them. Hashes every share of the blob once:
/// cache it.
pub fn subtree_roots(namespace: Namespace, data: &[u8]) -> String {
    B64.encode(commitment::subtree_roots(namespace.as_bytes(), data).concat())
}

/// Runs of shares of one blob, proven in its block and in its commitment
/// (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobShares {
    /// Encoding version (1).
    pub v: u8,
    /// Block height.
    pub height: u64,
    /// Shares of the whole blob.
    pub blob_shares: u32,
    /// The blob's subtree roots, 90 bytes each, concatenated, base64.
    pub subtree_roots: String,
    /// The proven runs, in blob order, not overlapping.
    pub runs: Vec<ShareRun>,
}

/// Consecutive shares of a blob.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRun {
    /// The blob's index of the run's first share.
    pub first: u32,
    /// NMT range proofs of the run's shares under each subtree root they
    /// sit under, left to right.
    pub subtrees: Vec<NamespaceProof>,
    /// The shares, proven up to the data root.
    #[serde(serialize_with = "square_json")]
    pub square: ShareProof,
}

/// Writes `p` as celestia-types does (the JSON `share.GetRange` answers),
/// with its shares in base64 from the `base64` crate: celestia-types'
/// constant-time encoder made a third of a proof's cost. Read back with
/// celestia-types' own deserializer.
fn square_json<S: serde::Serializer>(p: &ShareProof, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::{Error as _, SerializeMap};
    struct Shares<'a>(&'a [[u8; SHARE_BYTES]]);
    impl Serialize for Shares<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut buf = String::with_capacity(SHARE_BYTES.div_ceil(3) * 4);
            s.collect_seq(self.0.iter().map(|share| {
                buf.clear();
                B64.encode_string(share, &mut buf);
                buf.clone()
            }))
        }
    }
    // Everything but the shares is small: written by celestia-types.
    let rest = ShareProof {
        data: Vec::new(),
        namespace_id: p.namespace_id,
        share_proofs: p.share_proofs.clone(),
        row_proof: p.row_proof.clone(),
    };
    let serde_json::Value::Object(fields) =
        serde_json::to_value(&rest).map_err(S::Error::custom)?
    else {
        return Err(S::Error::custom("a share proof is not a JSON object"));
    };
    let mut m = s.serialize_map(Some(fields.len()))?;
    for (k, v) in &fields {
        if k == "data" {
            m.serialize_entry(k, &Shares(&p.data))?;
        } else {
            m.serialize_entry(k, v)?;
        }
    }
    m.end()
}

/// Bytes of a blob at an offset, as proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobPiece {
    /// Offset in the blob.
    pub offset: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Where each subtree of a blob of `shares` shares starts, and its width.
fn subtrees(shares: u32) -> Vec<(u32, u32)> {
    let mut at = 0u32;
    commitment::subtree_sizes(shares as usize)
        .into_iter()
        .map(|w| {
            let s = (at, w as u32);
            at += w as u32;
            s
        })
        .collect()
}

impl ShareRun {
    /// Proves shares `first..first + square.data.len()` of the blob `data`
    /// in `namespace` under its subtree roots; `square` is their proof up to
    /// the data root (from the layer).
    pub fn build(
        namespace: Namespace,
        data: &[u8],
        first: u32,
        square: ShareProof,
    ) -> Result<ShareRun> {
        let total = super::shares_for(data.len()) as u32;
        let len = square.data.len() as u32;
        if len == 0 || first.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::Square {
                height: 0,
                detail: format!("shares {first}..+{len} are not shares of a {total}-share blob"),
            });
        }
        let ns = namespace.as_bytes();
        let mut proofs = Vec::new();
        let mut share = [0u8; SHARE_BYTES];
        for (start, width) in subtrees(total) {
            let (lo, hi) = (first.max(start), (first + len).min(start + width));
            if lo >= hi {
                continue;
            }
            // Only the subtree's shares outside the run are hashed.
            let range = (lo - start) as usize..(hi - start) as usize;
            let siblings = nmt_range::siblings(width as usize, range.clone(), &mut |i| {
                commitment::share(ns, data, start as usize + i, &mut share);
                Ok(nmt_range::leaf(ns, &share))
            })
            .and_then(|s| nmt_range::presence_proof(&s, range));
            proofs.push(siblings.map_err(|e| Error::Square {
                height: 0,
                detail: format!("subtree at share {start}: {e}"),
            })?);
        }
        Ok(ShareRun {
            first,
            subtrees: proofs,
            square,
        })
    }
}

impl BlobShares {
    /// The version this build writes and reads.
    pub const VERSION: u8 = 1;

    /// Verifies the proof against the square locator `locator` and
    /// `data_root`, the data root of its height from the verifier's own
    /// node. Returns the proven bytes of the blob, one piece per run.
    pub fn verify(&self, locator: &Locator, data_root: &[u8; 32]) -> Result<Vec<BlobPiece>> {
        let bad = |reason: String| Error::BadProof {
            locator: locator.to_string(),
            reason,
        };
        let (height, namespace, commitment) = locator
            .square_parts()
            .ok_or_else(|| bad("not a data-square locator".into()))?;
        if self.v != Self::VERSION {
            return Err(bad(format!(
                "share proof version {}; this build reads {}",
                self.v,
                Self::VERSION
            )));
        }
        if self.height != height {
            return Err(bad(format!(
                "the share proof is for height {}, the locator names {height}",
                self.height
            )));
        }
        let n = self.blob_shares;
        if n == 0 || n > MAX_BLOB_SHARES {
            return Err(bad(format!("a blob of {n} shares")));
        }
        let trees = subtrees(n);
        let roots = self.roots(trees.len()).map_err(bad)?;
        check_commitment(&roots, namespace, commitment).map_err(bad)?;
        if self.runs.is_empty() || self.runs.len() > MAX_RUNS {
            return Err(bad(format!(
                "{} runs of shares; between 1 and {MAX_RUNS}",
                self.runs.len()
            )));
        }
        let root = celestia_types::hash::Hash::Sha256(*data_root);
        let ns = to_celestia(namespace);
        let mut next = 0u32;
        let mut pieces = Vec::with_capacity(self.runs.len());
        for (r, run) in self.runs.iter().enumerate() {
            let bad = |reason: String| bad(format!("run {r}: {reason}"));
            let len = u32::try_from(run.square.data.len()).unwrap_or(u32::MAX);
            let end = run.first.checked_add(len).filter(|&e| e <= n);
            let Some(end) = end.filter(|_| len > 0 && run.first >= next) else {
                return Err(bad(format!(
                    "shares {}..+{len} are not new shares of a {n}-share blob",
                    run.first
                )));
            };
            next = end;
            if run.square.namespace_id != ns {
                return Err(bad("the shares are of another namespace".into()));
            }
            let covered = run
                .square
                .covered_range(root)
                .map_err(|e| bad(format!("the shares do not prove to the data root: {e}")))?;
            if covered.end - covered.start != u64::from(len) {
                return Err(bad("the square proof covers other shares".into()));
            }
            // The shares under the subtree roots, at their places.
            let mut proofs = run.subtrees.iter();
            for ((start, width), root) in trees.iter().zip(&roots) {
                let (lo, hi) = (run.first.max(*start), end.min(start + width));
                if lo >= hi {
                    continue;
                }
                let proof = proofs
                    .next()
                    .ok_or_else(|| bad("too few subtree proofs".into()))?;
                if proof.is_of_absence()
                    || proof.start_idx() != lo - start
                    || proof.end_idx() != hi - start
                {
                    return Err(bad(format!(
                        "a subtree proof of the wrong shares (subtree at share {start})"
                    )));
                }
                let root = NamespacedHash::from_raw(root)
                    .map_err(|e| bad(format!("subtree root: {e}")))?;
                let leaves = &run.square.data[(lo - run.first) as usize..(hi - run.first) as usize];
                proof
                    .verify_range(&root, leaves, *ns)
                    .map_err(|e| bad(format!("shares not in the blob's commitment: {e:?}")))?;
            }
            if proofs.next().is_some() {
                return Err(bad("more subtree proofs than subtrees".into()));
            }
            pieces.push(payload(namespace, run.first, &run.square.data).map_err(bad)?);
        }
        Ok(pieces)
    }

    /// The subtree roots, checked to be `count` nodes of one namespace.
    fn roots(&self, count: usize) -> std::result::Result<Vec<Node>, String> {
        // Bound the text before decoding it.
        if self.subtree_roots.len() != (count * NODE_LEN).div_ceil(3) * 4 {
            return Err(format!(
                "the blob has {count} subtrees; the proof's roots are not"
            ));
        }
        let raw = B64
            .decode(&self.subtree_roots)
            .map_err(|e| format!("subtree roots: not base64 ({e})"))?;
        if raw.len() != count * NODE_LEN {
            return Err(format!(
                "the blob has {count} subtrees; the proof's roots are not"
            ));
        }
        Ok(raw
            .chunks_exact(NODE_LEN)
            .map(|c| c.try_into().expect("node-sized chunks"))
            .collect())
    }
}

/// The subtree roots must be of `namespace` and hash to `commitment`.
fn check_commitment(
    roots: &[Node],
    namespace: Namespace,
    commitment: ShareCommitment,
) -> std::result::Result<(), String> {
    let ns = namespace.as_bytes();
    if roots
        .iter()
        .any(|r| &r[..NS_SIZE] != ns || &r[NS_SIZE..2 * NS_SIZE] != ns)
    {
        return Err("a subtree root of another namespace".into());
    }
    if commitment::roots_commitment(roots) != *commitment.as_bytes() {
        return Err("the subtree roots do not hash to the locator's share commitment".into());
    }
    Ok(())
}

/// The payload bytes of shares `first..` of a blob of `namespace`.
fn payload(
    namespace: Namespace,
    first: u32,
    shares: &[[u8; SHARE_BYTES]],
) -> std::result::Result<BlobPiece, String> {
    let mut bytes = Vec::with_capacity(shares.len() * CONTINUATION_SHARE_PAYLOAD);
    for (j, s) in shares.iter().enumerate() {
        let i = first + j as u32;
        if &s[..NS_SIZE] != namespace.as_bytes() {
            return Err(format!("share {i} is of another namespace"));
        }
        let info = s[NS_SIZE];
        let start = info & 1 == 1;
        if info >> 1 != 0 || start != (i == 0) {
            return Err(format!("share {i} has info byte {info:#04x}"));
        }
        let at = if i == 0 { NS_SIZE + 5 } else { NS_SIZE + 1 };
        bytes.extend_from_slice(&s[at..]);
    }
    Ok(BlobPiece {
        offset: share_payload_start(first),
        bytes,
    })
}
