//! The publication plan: which shards exist, which are reused from a parent,
//! and how the rest are packed into blobs.
//!
//! The plan is a pure function of the manifest, the stripe geometry, the
//! layer's blob limit and the reused leaves, so a resumed publish rebuilds
//! exactly the blobs it was posting: the same envelopes at the same offsets.
//!
//! Order: files in manifest order; in a file, stripes in order; in a stripe,
//! the data shards (leaves) then the parity shards. Envelopes are packed
//! greedily in that order. A blob closes when the next envelope does not fit,
//! and, when parity is on, when it already holds `m` shards of the next
//! envelope's stripe: losing any one blob then loses at most `m` shards of
//! any stripe, which parity covers. A blob also closes where leaves give
//! way to parity shards or back, unless both the blob so far and the shard
//! are under an eighth of a blob (the small files of a model pack together): a fetch that finds
//! every leaf intact then reads no parity bytes.

use std::ops::Range;

use modelda_manifest::ModelManifest;

use modelda_wire::envelope::HEADER_LEN;
pub use modelda_wire::geometry::{FileStripes, Geometry, ShardRef};

use crate::{Error, Result};

/// One shard to post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// File index.
    pub file: u32,
    /// Stripe in the file.
    pub stripe: u64,
    /// Shard in the stripe.
    pub shard: u16,
    /// Payload length.
    pub len: u32,
    /// Whether it is a parity shard.
    pub parity: bool,
}

/// One blob to post: a run of slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBlob {
    /// Slots it holds (indices into [`Plan::slots`]).
    pub slots: Range<usize>,
    /// Size in bytes.
    pub size: usize,
}

/// A shard that a parent publication already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reused {
    /// Index of the parent's blob in [`Plan::parent_blobs`].
    pub parent_blob: u32,
    /// Offset of the envelope in that blob.
    pub offset: u32,
}

/// Per file: for each shard in stripe-major order, the parent's copy when
/// it is reused. Inputs to [`Plan::new`].
pub type ReuseMap = Vec<Vec<Option<Reused>>>;

/// The publication plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Stripe geometry.
    pub geometry: Geometry,
    /// Largest blob.
    pub max_blob_bytes: usize,
    /// Shards to post, in order.
    pub slots: Vec<Slot>,
    /// Blobs to post, in order.
    pub blobs: Vec<PlannedBlob>,
    /// Per file, every shard's place, stripe-major. Own blobs come first in
    /// the record's blob list; the parent blobs follow them.
    pub refs: Vec<Vec<ShardRef>>,
    /// Per file, the first index in `refs` of each stripe.
    pub stripe_starts: Vec<Vec<usize>>,
    /// Number of the parent blobs referenced (appended after own blobs).
    pub parent_blobs: usize,
    /// Leaves reused from parents, and their bytes.
    pub reused_leaves: u64,
    /// Bytes of reused leaves.
    pub reused_bytes: u64,
}

impl Plan {
    /// Plans `manifest` under `geometry` for blobs of at most
    /// `max_blob_bytes`. `reuse` (empty, or one entry per file) marks shards
    /// that a parent already posted; `parent_blobs` is how many distinct
    /// parent blobs they reference.
    pub fn new(
        manifest: &ModelManifest,
        geometry: Geometry,
        max_blob_bytes: usize,
        reuse: &ReuseMap,
        parent_blobs: usize,
    ) -> Result<Plan> {
        let mut slots = Vec::new();
        let mut blobs: Vec<PlannedBlob> = Vec::new();
        let mut refs = Vec::with_capacity(manifest.files.len());
        let mut stripe_starts = Vec::with_capacity(manifest.files.len());
        let (mut reused_leaves, mut reused_bytes) = (0u64, 0u64);
        // The open blob: first slot, size, and (file, stripe, count) of the
        // last stripe it holds shards of.
        let mut open_first = 0usize;
        let mut open_size = 0usize;
        let mut open_stripe: Option<(u32, u64, u16)> = None;
        let mut open_parity: Option<bool> = None;
        for (fi, entry) in manifest.files.iter().enumerate() {
            let file = fi as u32;
            let fs = FileStripes::of(entry, geometry);
            let reuse_file = reuse.get(fi);
            let mut file_refs = Vec::new();
            let mut starts = Vec::with_capacity(fs.count() as usize);
            for s in 0..fs.count() {
                starts.push(file_refs.len());
                let leaves = fs.leaves_of(s);
                let n_data = (leaves.end - leaves.start) as usize;
                for shard in 0..fs.shards_of(s) {
                    let ref_index = file_refs.len();
                    if let Some(Some(r)) = reuse_file.and_then(|f| f.get(ref_index)) {
                        file_refs.push(ShardRef {
                            blob: u32::MAX - r.parent_blob, // fixed up below
                            offset: r.offset,
                        });
                        if shard < n_data {
                            reused_leaves += 1;
                            let leaf = leaves.start + shard as u64;
                            let b = fs.leaf_size.leaf_bytes(fs.size, leaf);
                            reused_bytes += b.end - b.start;
                        }
                        continue;
                    }
                    let len = if shard < n_data {
                        let b = fs
                            .leaf_size
                            .leaf_bytes(fs.size, leaves.start + shard as u64);
                        b.end - b.start
                    } else {
                        fs.width(s)
                    };
                    let enc = HEADER_LEN + len as usize;
                    if enc > max_blob_bytes {
                        return Err(Error::ShardTooLarge {
                            path: entry.path.clone(),
                            envelope: enc,
                            limit: max_blob_bytes,
                        });
                    }
                    let is_parity = shard >= n_data;
                    let kind_change = open_parity.is_some_and(|p| p != is_parity)
                        && enc.max(open_size).saturating_mul(8) > max_blob_bytes;
                    let same_stripe =
                        matches!(open_stripe, Some((f, st, _)) if f == file && st == s);
                    let full_stripe = geometry.parity > 0
                        && matches!(open_stripe, Some((f, st, c)) if f == file && st == s && c >= geometry.parity);
                    if open_size > 0
                        && (open_size + enc > max_blob_bytes || full_stripe || kind_change)
                    {
                        blobs.push(PlannedBlob {
                            slots: open_first..slots.len(),
                            size: open_size,
                        });
                        open_first = slots.len();
                        open_size = 0;
                        open_stripe = None;
                    }
                    open_parity = Some(is_parity);
                    let count = match open_stripe {
                        Some((_, _, c)) if same_stripe && open_size > 0 => c + 1,
                        _ => 1,
                    };
                    open_stripe = Some((file, s, count));
                    file_refs.push(ShardRef {
                        blob: blobs.len() as u32,
                        offset: open_size as u32,
                    });
                    slots.push(Slot {
                        file,
                        stripe: s,
                        shard: shard as u16,
                        len: len as u32,
                        parity: is_parity,
                    });
                    open_size += enc;
                }
            }
            refs.push(file_refs);
            stripe_starts.push(starts);
        }
        if open_size > 0 {
            blobs.push(PlannedBlob {
                slots: open_first..slots.len(),
                size: open_size,
            });
        }
        // Parent blobs follow the own blobs in the record's list.
        let own = blobs.len() as u32;
        for r in refs.iter_mut().flatten() {
            if r.blob > u32::MAX / 2 {
                r.blob = own + (u32::MAX - r.blob);
            }
        }
        Ok(Plan {
            geometry,
            max_blob_bytes,
            slots,
            blobs,
            refs,
            stripe_starts,
            parent_blobs,
            reused_leaves,
            reused_bytes,
        })
    }

    /// Bytes of all blobs to post.
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size as u64).sum()
    }

    /// The blob that holds slot `slot`.
    pub fn blob_of_slot(&self, slot: usize) -> usize {
        self.blobs.partition_point(|b| b.slots.end <= slot)
    }

    /// Identity of the plan: what a resumed publish must match.
    pub fn id(&self, model: &modelda_manifest::ModelId, layer: &str, namespace: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"modelda/plan/v1");
        h.update(model.as_bytes());
        h.update(layer.as_bytes());
        h.update(&[0]);
        h.update(namespace.as_bytes());
        h.update(&[0]);
        h.update(&self.geometry.data.to_be_bytes());
        h.update(&self.geometry.parity.to_be_bytes());
        h.update(&(self.max_blob_bytes as u64).to_be_bytes());
        for r in self.refs.iter().flatten() {
            h.update(&r.blob.to_be_bytes());
            h.update(&r.offset.to_be_bytes());
        }
        h.finalize().to_hex()[..32].to_string()
    }
}

#[cfg(test)]
mod tests {
    use modelda_manifest::FileEntry;
    use modelda_merkle::LeafSize;
    use modelda_wire::Kind;

    use super::*;
    use modelda_manifest::FileFormat;
    use modelda_merkle::FileRoot;

    fn manifest(sizes: &[u64], leaf: LeafSize) -> ModelManifest {
        ModelManifest {
            version: 1,
            files: sizes
                .iter()
                .enumerate()
                .map(|(i, &size)| FileEntry {
                    path: format!("f{i}"),
                    size,
                    root: FileRoot::from_bytes([0; 32]),
                    leaf_size: leaf,
                    format: FileFormat::Other,
                    tensors: vec![],
                })
                .collect(),
            lineage: vec![],
            training: None,
            card: Default::default(),
        }
    }

    #[test]
    fn blobs_respect_the_limit_and_the_per_stripe_cap() {
        let leaf = LeafSize::MIN; // 16 KiB
        let l = leaf.bytes();
        let m = manifest(&[0, 100, 40 * l + 5, 3 * l], leaf);
        let g = Geometry::new(8, 2).unwrap();
        let max = 4 * (l as usize + HEADER_LEN);
        let plan = Plan::new(&m, g, max, &vec![], 0).unwrap();
        // Shard count: f1 1+2, f2 41 leaves = 6 stripes -> 41 + 12, f3 3 + 2.
        assert_eq!(plan.slots.len(), 3 + 53 + 5);
        let mut covered = 0;
        for (bi, b) in plan.blobs.iter().enumerate() {
            assert!(b.size <= max);
            assert_eq!(b.slots.start, covered);
            covered = b.slots.end;
            let mut per_stripe = std::collections::HashMap::new();
            let mut size = 0;
            for s in &plan.slots[b.slots.clone()] {
                *per_stripe.entry((s.file, s.stripe)).or_insert(0) += 1;
                size += HEADER_LEN + s.len as usize;
            }
            assert_eq!(size, b.size, "blob {bi}");
            assert!(per_stripe.values().all(|&c| c <= 2), "blob {bi}");
        }
        assert_eq!(covered, plan.slots.len());
        // Refs point at their slots.
        let refs: Vec<ShardRef> = plan.refs.iter().flatten().copied().collect();
        assert_eq!(refs.len(), plan.slots.len());
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(r.blob as usize, plan.blob_of_slot(i));
        }
        // The empty file has no shards; the last stripe of f2 is one leaf of 5 bytes.
        assert!(plan.refs[0].is_empty());
        let fs = FileStripes::of(&m.files[2], g);
        assert_eq!(fs.width(5), 5);
        assert_eq!(fs.width(0), l);
        assert_eq!(FileStripes::of(&m.files[1], g).data_kind(), Kind::Whole);
    }

    #[test]
    fn without_parity_blobs_fill_up_and_oversized_shards_are_refused() {
        let leaf = LeafSize::MIN;
        let l = leaf.bytes() as usize;
        let m = manifest(&[10 * l as u64], leaf);
        let g = Geometry::new(16, 0).unwrap();
        let plan = Plan::new(&m, g, 3 * (l + HEADER_LEN), &vec![], 0).unwrap();
        assert_eq!(plan.blobs.len(), 4);
        assert_eq!(plan.blobs[0].slots, 0..3);
        assert!(matches!(
            Plan::new(&m, g, l, &vec![], 0),
            Err(Error::ShardTooLarge { .. })
        ));
    }

    #[test]
    fn reused_shards_are_not_posted() {
        let leaf = LeafSize::MIN;
        let l = leaf.bytes();
        let m = manifest(&[4 * l], leaf);
        let g = Geometry::new(2, 1).unwrap();
        let mut reuse: ReuseMap = vec![vec![None; 6]];
        for (i, r) in reuse[0].iter_mut().enumerate().take(3) {
            *r = Some(Reused {
                parent_blob: 0,
                offset: i as u32 * 100,
            });
        }
        let plan = Plan::new(&m, g, 1 << 20, &reuse, 1).unwrap();
        assert_eq!(plan.slots.len(), 3);
        assert_eq!(plan.reused_leaves, 2);
        assert_eq!(plan.reused_bytes, 2 * l);
        let own = plan.blobs.len() as u32;
        assert_eq!(
            plan.refs[0][1],
            ShardRef {
                blob: own,
                offset: 100
            }
        );
        assert!(plan.refs[0][3].blob < own);
    }
}
