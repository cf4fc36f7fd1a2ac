//! Stripe geometry: how a file's leaves group into stripes of `k` data
//! shards and `m` parity shards, and where a shard is in a record's blobs.
//! Shared by the publisher (which plans and posts shards) and every reader
//! of records (which checks them).

use std::ops::Range;

use modelda_manifest::FileEntry;
use modelda_merkle::LeafSize;

use crate::envelope::Kind;
use crate::{Error, Result};

/// Stripe geometry: `k` data shards and `m` parity shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Data shards per stripe (k). Default: 16.
    pub data: u16,
    /// Parity shards per stripe (m); 0 turns erasure coding off. Default: 4.
    pub parity: u16,
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry {
            data: Geometry::DEFAULT_DATA,
            parity: Geometry::DEFAULT_PARITY,
        }
    }
}

impl Geometry {
    /// Default data shards per stripe: 16.
    pub const DEFAULT_DATA: u16 = 16;
    /// Default parity shards per stripe: 4 (25% overhead; any 4 of 20 may be
    /// lost).
    pub const DEFAULT_PARITY: u16 = 4;
    /// Most shards a stripe can have: GF(2^8) Reed-Solomon codes at most 256.
    pub const MAX_SHARDS: usize = 256;

    /// Checks `1 <= k` and `k + m <= 256`.
    pub fn new(data: u16, parity: u16) -> Result<Geometry> {
        Geometry::check(usize::from(data), usize::from(parity))?;
        Ok(Geometry { data, parity })
    }

    /// Checks `1 <= data` and `data + parity <= 256`, for counts of any
    /// width.
    pub fn check(data: usize, parity: usize) -> Result<()> {
        let bad = |reason| Error::Geometry {
            data,
            parity,
            reason,
        };
        if data == 0 {
            return Err(bad("a stripe needs at least one data shard"));
        }
        if data.saturating_add(parity) > Geometry::MAX_SHARDS {
            return Err(bad(
                "GF(2^8) Reed-Solomon allows at most 256 shards per stripe",
            ));
        }
        Ok(())
    }
}

/// The stripes of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStripes {
    /// File size in bytes.
    pub size: u64,
    /// Leaf size.
    pub leaf_size: LeafSize,
    /// Geometry.
    pub geometry: Geometry,
}

impl FileStripes {
    /// Stripes of `entry` under `geometry`.
    pub fn of(entry: &FileEntry, geometry: Geometry) -> FileStripes {
        FileStripes {
            size: entry.size,
            leaf_size: entry.leaf_size,
            geometry,
        }
    }

    /// Number of leaves.
    pub fn leaves(&self) -> u64 {
        self.leaf_size.leaf_count(self.size)
    }

    /// Number of stripes.
    pub fn count(&self) -> u64 {
        self.leaves().div_ceil(u64::from(self.geometry.data))
    }

    /// Shards of all stripes: every leaf, plus `m` parity shards per
    /// stripe. Computed without looping over stripes, with checked
    /// arithmetic (`None` past 2^64), so a reader can compare a stranger's
    /// file size with the shard places actually present before it
    /// allocates anything per stripe.
    pub fn shard_count(&self) -> Option<u64> {
        self.count()
            .checked_mul(u64::from(self.geometry.parity))?
            .checked_add(self.leaves())
    }

    /// Parity shards of all stripes (`None` past 2^64).
    pub fn parity_count(&self) -> Option<u64> {
        self.count().checked_mul(u64::from(self.geometry.parity))
    }

    /// Leaves of stripe `s` (empty past the last stripe).
    pub fn leaves_of(&self, s: u64) -> Range<u64> {
        let k = u64::from(self.geometry.data);
        let n = self.leaves();
        let start = s.saturating_mul(k).min(n);
        start..start.saturating_add(k).min(n)
    }

    /// Byte range of stripe `s` in the file.
    pub fn bytes_of(&self, s: u64) -> Range<u64> {
        self.leaf_size.bytes_of(self.size, self.leaves_of(s))
    }

    /// Length of the parity shards of stripe `s`: its first (longest) leaf.
    pub fn width(&self, s: u64) -> u64 {
        let b = self
            .leaf_size
            .leaf_bytes(self.size, self.leaves_of(s).start);
        b.end - b.start
    }

    /// Shards in stripe `s`: its leaves, then `m` parity shards.
    pub fn shards_of(&self, s: u64) -> usize {
        let l = self.leaves_of(s);
        (l.end - l.start) as usize + usize::from(self.geometry.parity)
    }

    /// The envelope kind of data shards: `Whole` for a file of one leaf.
    pub fn data_kind(&self) -> Kind {
        if self.leaves() == 1 {
            Kind::Whole
        } else {
            Kind::Data
        }
    }
}

/// Where a shard is: the index of a blob in the record's blob list, and the
/// byte offset of its envelope in that blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardRef {
    /// Index in the record's blob list.
    pub blob: u32,
    /// Offset of the envelope in the blob.
    pub offset: u32,
}
