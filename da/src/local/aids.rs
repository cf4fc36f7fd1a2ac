//! What proving needs, kept per height: the header (with its DAH), the
//! root of each row's parity half, and the subtree roots of each blob's
//! share commitment. All come from one build of the block's extended
//! square, which then is dropped; a range of shares is proven from the
//! rows' original shares (read from the blobs) and these, as celestia-node
//! proves from the extended square it stores.
//!
//! The writer keeps headers in `headers-v1`; the rest, and a reader's
//! headers, are kept in memory (about 11 KiB a height for a 128x128
//! square, and 3 KiB for each 2 MiB blob).

use std::ops::Range;
use std::sync::Arc;

use celestia_types::nmt::{Namespace as CNamespace, NamespacedHash};
use celestia_types::ShareProof;

use super::{LocalChain, StoredBlob};
use crate::square::parts::SHARE_BYTES;
use crate::square::{self, Placement, Square};
use crate::{Error, Result};

/// Heights whose aids are kept in memory.
const KEPT_HEIGHTS: usize = 4096;

/// What proving at one height needs beyond the header.
pub(super) struct Aids {
    /// The root of each row's parity half.
    parity: Vec<NamespacedHash>,
    /// Each blob's share-commitment subtree roots, by its index in the
    /// block, as [`square::parts::BlobShares`] carries them.
    subtree_roots: Vec<Arc<String>>,
}

impl LocalChain {
    /// Remembers what proving at `height` needs, from its square and blobs.
    pub(super) fn keep_aids(
        &self,
        height: u64,
        sq: &Square,
        blobs: &[StoredBlob],
    ) -> Result<Arc<Aids>> {
        let mut subtree_roots: Vec<Arc<String>> = blobs.iter().map(|_| Arc::default()).collect();
        for b in blobs {
            let slot = subtree_roots
                .get_mut(b.index as usize)
                .ok_or_else(|| Error::Square {
                    height,
                    detail: format!("blob index {} of {} blobs", b.index, blobs.len()),
                })?;
            *slot = Arc::new(square::parts::subtree_roots(b.namespace, &b.data));
        }
        let aids = Arc::new(Aids {
            parity: sq.parity_roots(height)?,
            subtree_roots,
        });
        let mut kept = self.inner.aids.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= KEPT_HEIGHTS {
            kept.clear();
        }
        kept.insert(height, aids.clone());
        Ok(aids)
    }

    /// What proving at `height` needs, built with the header on first
    /// request.
    pub(super) fn aids(&self, height: u64) -> Result<Arc<Aids>> {
        let kept = |c: &LocalChain| {
            c.inner
                .aids
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&height)
                .cloned()
        };
        if let Some(r) = kept(self) {
            return Ok(r);
        }
        // Signing the header builds the square, and keeps these.
        self.header(height)?;
        if let Some(r) = kept(self) {
            return Ok(r);
        }
        // The header was cached by an earlier process: build the square.
        let _guard = self.inner.headers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = kept(self) {
            return Ok(r);
        }
        let (sq, blobs) = self.square(height)?;
        self.keep_aids(height, &sq, &blobs)
    }

    /// Builds and keeps what proving at `height` needs (see [`Self::aids`]).
    pub fn prepare_proofs(&self, height: u64) -> Result<()> {
        self.aids(height).map(|_| ())
    }

    /// The subtree roots of the share commitment of blob `index` of block
    /// `height`, encoded as [`square::parts::BlobShares`] carries them.
    pub fn subtree_roots(&self, height: u64, index: u32) -> Result<Arc<String>> {
        self.aids(height)?
            .subtree_roots
            .get(index as usize)
            .cloned()
            .ok_or_else(|| Error::Square {
                height,
                detail: format!("block has no blob {index}"),
            })
    }

    /// Where blob `index` of block `height` sits: the square's width `k`
    /// and its placement.
    pub fn placement(&self, height: u64, index: u32) -> Result<(usize, Placement)> {
        let sizes = self.blob_sizes(height)?;
        let (k, placements) = square::layout(&sizes);
        let p = placements
            .into_iter()
            .find(|p| p.blob == index as usize)
            .ok_or_else(|| Error::Square {
                height,
                detail: format!("block has no blob {index}"),
            })?;
        Ok((k, p))
    }

    /// Shares `ods` (row-major indexes in the original square) of block
    /// `height` with their proof up to the data root, as `share.GetRange`
    /// answers, without building the extended square once its parity roots
    /// are kept.
    pub fn share_proof(&self, height: u64, ods: Range<usize>) -> Result<ShareProof> {
        let bad = |detail: String| Error::Square { height, detail };
        let header = self.header(height)?;
        let aids = self.aids(height)?;
        let parity = &aids.parity;
        let k = usize::from(header.dah.square_width()) / 2;
        if ods.start >= ods.end || ods.end > k * k || parity.len() != k {
            return Err(bad(format!(
                "shares {}..{} are not a range of the {k}x{k} square",
                ods.start, ods.end
            )));
        }
        let sizes = self.blob_sizes(height)?;
        let (lk, placements) = square::layout(&sizes);
        if lk != k {
            return Err(bad(format!("layout of width {lk}, header of width {k}")));
        }
        let (r0, r1) = (ods.start / k, (ods.end - 1) / k);
        // The original shares of rows r0..=r1, from the blobs placed there.
        let span = r0 * k..(r1 + 1) * k;
        let mut shares: Vec<(CNamespace, [u8; SHARE_BYTES])> = Vec::with_capacity(span.len());
        for p in &placements {
            let (lo, hi) = (span.start.max(p.start), span.end.min(p.start + p.len));
            if lo >= hi {
                continue;
            }
            if shares.len() < lo - span.start {
                return Err(bad("a gap between blobs in the layout".into()));
            }
            // Only the bytes of the blob's shares in these rows.
            let (first, last) = (lo - p.start, hi - p.start);
            let from = square::parts::share_payload_start(first as u32) as usize;
            let to = square::parts::share_payload_start(last as u32) as usize;
            let (namespace, len, part) = self.blob_part(height, p.blob as u32, from..to)?;
            let ns = crate::chain::to_celestia(namespace);
            for i in first..last {
                let mut s = [0u8; SHARE_BYTES];
                square::commitment::share_from(namespace.as_bytes(), len, from, &part, i, &mut s);
                shares.push((ns, s));
            }
        }
        while shares.len() < span.len() {
            let ns = CNamespace::TAIL_PADDING;
            let mut s = [0u8; SHARE_BYTES];
            s.copy_from_slice(&square::padding_share(ns));
            shares.push((ns, s));
        }
        let mut data = Vec::with_capacity(ods.len());
        let mut proofs = Vec::with_capacity(r1 - r0 + 1);
        for r in r0..=r1 {
            let row = &shares[(r - r0) * k..(r - r0 + 1) * k];
            let from = ods.start.max(r * k) - r * k;
            let to = ods.end.min((r + 1) * k) - r * k;
            proofs.push(square::row_range_proof(row, &parity[r], from..to).map_err(bad)?);
            data.extend(row[from..to].iter().map(|(_, s)| *s));
        }
        let namespace = shares[ods.start - span.start].0;
        if shares[ods.start - span.start..ods.end - span.start]
            .iter()
            .any(|(n, _)| *n != namespace)
        {
            return Err(bad(format!(
                "shares {}..{} span namespaces",
                ods.start, ods.end
            )));
        }
        Ok(ShareProof {
            data,
            namespace_id: namespace,
            share_proofs: proofs,
            // One hashing of the DAH's roots for all the rows (kept per
            // height it would weigh 32 KiB for a 128-wide square).
            row_proof: match square::DahTree::new(&header.dah) {
                Some(t) => t
                    .row_proof(&header.dah, r0 as u16..=r1 as u16)
                    .map_err(bad)?,
                None => header
                    .dah
                    .row_proof(r0 as u16..=r1 as u16)
                    .map_err(|e| bad(format!("row proof: {e}")))?,
            },
        })
    }
}
