//! Stripes: `k` data leaves plus `m` Reed-Solomon parity shards
//! (`reed-solomon-erasure`, GF(2^8), SIMD), so any `k` of the `k + m` shards
//! rebuild the stripe.
//!
//! Shards of a stripe are as long as its longest leaf; shorter leaves (the
//! last leaf of a file) are zero-padded for coding only, and the padding is
//! dropped on reconstruction because leaf lengths follow from the file size.

use reed_solomon_erasure::galois_8::ReedSolomon;

use modelda_wire::{Error as WireError, Geometry};

use crate::{Error, Result};

/// A coder for stripes of `data` data shards and `parity` parity shards.
pub struct StripeCoder {
    data: usize,
    parity: usize,
    rs: Option<ReedSolomon>,
}

impl StripeCoder {
    /// Default data shards per stripe: 16.
    pub const DEFAULT_DATA: usize = Geometry::DEFAULT_DATA as usize;
    /// Default parity shards per stripe: 4 (25% overhead; any 4 of 20 may be lost).
    pub const DEFAULT_PARITY: usize = Geometry::DEFAULT_PARITY as usize;

    /// A coder; `parity` may be 0 (no erasure coding).
    pub fn new(data: usize, parity: usize) -> Result<Self> {
        Geometry::check(data, parity)?;
        let bad = |reason| WireError::Geometry {
            data,
            parity,
            reason,
        };
        let rs = if parity == 0 {
            None
        } else {
            Some(
                ReedSolomon::new(data, parity)
                    .map_err(|_| bad("rejected by the Reed-Solomon coder"))?,
            )
        };
        Ok(StripeCoder { data, parity, rs })
    }

    /// Data shards per stripe.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Parity shards per stripe.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// Parity shards for up to `data` leaves (fewer in a file's last stripe:
    /// the missing ones count as empty). Shards are as long as the longest
    /// leaf; only leaves shorter than that are copied (to pad them).
    pub fn encode(&self, leaves: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
        let Some(rs) = &self.rs else {
            return Ok(Vec::new());
        };
        if leaves.len() > self.data || leaves.is_empty() {
            return Err(WireError::Geometry {
                data: self.data,
                parity: self.parity,
                reason: "a stripe holds 1 to k leaves",
            }
            .into());
        }
        let len = leaves.iter().map(|l| l.len()).max().unwrap_or(0);
        let zeros = vec![0u8; len];
        let padded: Vec<Vec<u8>> = leaves
            .iter()
            .filter(|l| l.len() < len)
            .map(|l| {
                let mut v = l.to_vec();
                v.resize(len, 0);
                v
            })
            .collect();
        let mut padded = padded.iter();
        let data: Vec<&[u8]> = (0..self.data)
            .map(|i| match leaves.get(i) {
                Some(l) if l.len() == len => *l,
                Some(_) => padded.next().expect("one padded copy per short leaf"),
                None => &zeros[..],
            })
            .collect();
        let mut parity: Vec<Vec<u8>> = (0..self.parity).map(|_| vec![0u8; len]).collect();
        rs.encode_sep(&data, &mut parity)
            .map_err(|_| WireError::Geometry {
                data: self.data,
                parity: self.parity,
                reason: "encoding failed",
            })?;
        Ok(parity)
    }

    /// Rebuilds missing data shards in place. `shards` holds `k + m` slots
    /// (data first), `None` where a shard is missing or failed its check;
    /// present shards must be padded to one length.
    pub fn reconstruct(&self, stripe: u64, shards: &mut [Option<Vec<u8>>]) -> Result<()> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        let unrecoverable = Error::Unrecoverable {
            stripe,
            present,
            data: self.data,
            parity: self.parity,
        };
        if shards[..self.data.min(shards.len())]
            .iter()
            .all(Option::is_some)
        {
            return Ok(());
        }
        let Some(rs) = &self.rs else {
            return Err(unrecoverable);
        };
        if shards.len() != self.data + self.parity || present < self.data {
            return Err(unrecoverable);
        }
        rs.reconstruct_data(shards).map_err(|_| unrecoverable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn any_k_of_k_plus_m_rebuild_the_stripe(
            k in 1usize..12,
            m in 0usize..5,
            n in 1usize..12,
            len in 1usize..200,
            lose in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        ) {
            let n = n.min(k);
            let coder = StripeCoder::new(k, m).unwrap();
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| (0..len - (i % 3).min(len - 1)).map(|b| (b * 31 + i) as u8).collect()).collect();
            let refs: Vec<&[u8]> = leaves.iter().map(|l| l.as_slice()).collect();
            let parity = coder.encode(&refs).unwrap();
            prop_assert_eq!(parity.len(), m);
            let width = leaves.iter().map(Vec::len).max().unwrap();
            let mut shards: Vec<Option<Vec<u8>>> = (0..k)
                .map(|i| {
                    let mut s = leaves.get(i).cloned().unwrap_or_default();
                    s.resize(width, 0);
                    Some(s)
                })
                .chain(parity.into_iter().map(Some))
                .collect();
            let original = shards.clone();
            let mut lost = 0;
            for idx in lose.iter().take(m) {
                let i = idx.index(k + m);
                if shards[i].take().is_some() {
                    lost += 1;
                }
            }
            prop_assert!(lost <= m);
            coder.reconstruct(0, &mut shards).unwrap();
            for i in 0..k {
                prop_assert_eq!(&shards[i], &original[i]);
            }
        }
    }

    #[test]
    fn too_many_losses_are_reported() {
        let coder = StripeCoder::new(4, 2).unwrap();
        let leaves = [&[1u8; 10][..], &[2; 10], &[3; 10], &[4; 10]];
        let parity = coder.encode(&leaves).unwrap();
        let mut shards: Vec<Option<Vec<u8>>> = leaves
            .iter()
            .map(|l| Some(l.to_vec()))
            .chain(parity.into_iter().map(Some))
            .collect();
        shards[0] = None;
        shards[1] = None;
        shards[2] = None;
        assert!(matches!(
            coder.reconstruct(5, &mut shards),
            Err(Error::Unrecoverable {
                stripe: 5,
                present: 3,
                ..
            })
        ));
        assert!(StripeCoder::new(0, 1).is_err());
        assert!(StripeCoder::new(200, 57).is_err());
    }
}
