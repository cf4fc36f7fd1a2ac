//! Leaf geometry: how a file is cut into fixed-size, offset-aligned leaves.

use std::ops::Range;

use crate::{Error, Result};

/// The size of a leaf: a power of two from 16 KiB to 8 MiB.
///
/// Leaves are aligned to file offsets: leaf `i` covers bytes
/// `i * size .. min((i + 1) * size, file_len)`. A file of `n` bytes has
/// `ceil(n / size)` leaves; the empty file has none.
///
/// Default: 1 MiB.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct LeafSize {
    log2: u8,
}

impl LeafSize {
    /// Smallest allowed leaf: 16 KiB.
    pub const MIN: LeafSize = LeafSize { log2: 14 };
    /// Largest allowed leaf: 8 MiB.
    pub const MAX: LeafSize = LeafSize { log2: 23 };
    /// The default leaf: 1 MiB.
    pub const DEFAULT: LeafSize = LeafSize { log2: 20 };

    /// A leaf size from its size in bytes. Fails unless it is a power of two
    /// from 16 KiB to 8 MiB.
    pub fn from_bytes(bytes: u64) -> Result<Self> {
        if !bytes.is_power_of_two() {
            return Err(Error::InvalidLeafSize { bytes });
        }
        Self::from_log2(bytes.trailing_zeros() as u8).map_err(|_| Error::InvalidLeafSize { bytes })
    }

    /// A leaf size from its base-2 logarithm (14 for 16 KiB ... 23 for 8 MiB).
    pub fn from_log2(log2: u8) -> Result<Self> {
        if (Self::MIN.log2..=Self::MAX.log2).contains(&log2) {
            Ok(LeafSize { log2 })
        } else {
            Err(Error::InvalidLeafSize {
                bytes: 1u64.checked_shl(u32::from(log2)).unwrap_or(u64::MAX),
            })
        }
    }

    /// All allowed leaf sizes, smallest first.
    pub fn all() -> impl Iterator<Item = LeafSize> {
        (Self::MIN.log2..=Self::MAX.log2).map(|log2| LeafSize { log2 })
    }

    /// Base-2 logarithm of the size in bytes.
    pub const fn log2(self) -> u8 {
        self.log2
    }

    /// Size in bytes.
    pub const fn bytes(self) -> u64 {
        1 << self.log2
    }

    /// Number of leaves of a file of `file_len` bytes (0 for the empty file).
    pub const fn leaf_count(self, file_len: u64) -> u64 {
        file_len.div_ceil(self.bytes())
    }

    /// Byte range of leaf `index` in a file of `file_len` bytes.
    pub fn leaf_bytes(self, file_len: u64, index: u64) -> Range<u64> {
        let start = index.saturating_mul(self.bytes()).min(file_len);
        let end = start.saturating_add(self.bytes()).min(file_len);
        start..end
    }

    /// Leaves that hold the byte range `bytes`; fails if the range is empty or
    /// outside the file.
    pub fn leaves_of(self, file_len: u64, bytes: Range<u64>) -> Result<Range<u64>> {
        if bytes.start >= bytes.end || bytes.end > file_len {
            return Err(Error::RangeOutOfBounds {
                start: bytes.start,
                end: bytes.end,
                file_len,
            });
        }
        Ok(bytes.start >> self.log2..bytes.end.div_ceil(self.bytes()))
    }

    /// Byte range covered by the leaf range `leaves`.
    pub fn bytes_of(self, file_len: u64, leaves: Range<u64>) -> Range<u64> {
        let start = leaves.start.saturating_mul(self.bytes()).min(file_len);
        let end = leaves.end.saturating_mul(self.bytes()).min(file_len);
        start..end
    }
}

impl Default for LeafSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for LeafSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.bytes();
        if b >= 1 << 20 {
            write!(f, "{} MiB", b >> 20)
        } else {
            write!(f, "{} KiB", b >> 10)
        }
    }
}

impl std::str::FromStr for LeafSize {
    type Err = Error;
    /// Parses `1048576`, `1MiB`, `1M`, `256KiB` or `256K`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        let (num, mul) = if let Some(n) = t.strip_suffix("mib").or_else(|| t.strip_suffix('m')) {
            (n, 1u64 << 20)
        } else if let Some(n) = t.strip_suffix("kib").or_else(|| t.strip_suffix('k')) {
            (n, 1u64 << 10)
        } else {
            (t.as_str(), 1)
        };
        let n: u64 = num
            .parse()
            .map_err(|_| Error::InvalidLeafSize { bytes: 0 })?;
        Self::from_bytes(n.saturating_mul(mul))
    }
}

impl serde::Serialize for LeafSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.bytes())
    }
}

impl<'de> serde::Deserialize<'de> for LeafSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = <u64 as serde::Deserialize>::deserialize(d)?;
        LeafSize::from_bytes(b).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(LeafSize::DEFAULT.bytes(), 1 << 20);
        assert_eq!(LeafSize::all().count(), 10);
        assert!(LeafSize::from_bytes(8 << 10).is_err());
        assert!(LeafSize::from_bytes(16 << 20).is_err());
        assert!(LeafSize::from_bytes(3 << 20).is_err());
        assert_eq!("256K".parse::<LeafSize>().unwrap().bytes(), 256 << 10);
        assert_eq!("1MiB".parse::<LeafSize>().unwrap(), LeafSize::DEFAULT);
        assert_eq!("1048576".parse::<LeafSize>().unwrap(), LeafSize::DEFAULT);
        assert!("1GiB".parse::<LeafSize>().is_err());
    }

    #[test]
    fn geometry() {
        let l = LeafSize::MIN; // 16 KiB
        assert_eq!(l.leaf_count(0), 0);
        assert_eq!(l.leaf_count(1), 1);
        assert_eq!(l.leaf_count(16384), 1);
        assert_eq!(l.leaf_count(16385), 2);
        assert_eq!(l.leaf_bytes(20000, 1), 16384..20000);
        assert_eq!(l.leaves_of(40000, 16383..16385).unwrap(), 0..2);
        assert_eq!(l.leaves_of(40000, 32768..40000).unwrap(), 2..3);
        assert!(l.leaves_of(40000, 5..5).is_err());
        assert!(l.leaves_of(40000, 5..40001).is_err());
        assert_eq!(l.bytes_of(40000, 1..3), 16384..40000);
    }
}
