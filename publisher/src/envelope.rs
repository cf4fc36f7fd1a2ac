//! Envelopes: the versioned binary header every shard carries on a DA layer,
//! so any blob can be decoded and checked on its own.
//!
//! # Encoding (version 1, big-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MDAE` |
//! | 4 | 1 | version `1` |
//! | 5 | 1 | kind: 0 data shard, 1 parity shard, 2 record page |
//! | 6 | 32 | model id |
//! | 38 | 4 | file index in the manifest |
//! | 42 | 8 | stripe index within the file |
//! | 50 | 2 | shard index within the stripe |
//! | 52 | 2 | data shards per stripe (k) |
//! | 54 | 2 | parity shards per stripe (m) |
//! | 56 | 1 | log2 of the leaf size |
//! | 57 | 4 | payload length |
//! | 61 | 32 | BLAKE3 of the payload |
//! | 93 | n | payload |
//!
//! Several envelopes may be packed back to back in one blob.

use modelda_manifest::ModelId;
use modelda_merkle::LeafSize;

use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"MDAE";
/// Bytes before the payload.
pub const HEADER_LEN: usize = 93;

/// What an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A leaf of a file (one data shard of a stripe).
    Data,
    /// A Reed-Solomon parity shard.
    Parity,
    /// A page of the publication record.
    Record,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::Parity => 1,
            Kind::Record => 2,
        }
    }
}

/// A decoded envelope header with its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// What it carries.
    pub kind: Kind,
    /// The model.
    pub model: ModelId,
    /// File index in the manifest.
    pub file: u32,
    /// Stripe index within the file.
    pub stripe: u64,
    /// Shard index within the stripe (data shards first).
    pub shard: u16,
    /// Data shards per stripe.
    pub data_shards: u16,
    /// Parity shards per stripe.
    pub parity_shards: u16,
    /// Leaf size of the file.
    pub leaf_size: LeafSize,
    /// The bytes.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// The version this build writes and reads.
    pub const VERSION: u8 = 1;

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.push(Self::VERSION);
        out.push(self.kind.code());
        out.extend_from_slice(self.model.as_bytes());
        out.extend_from_slice(&self.file.to_be_bytes());
        out.extend_from_slice(&self.stripe.to_be_bytes());
        out.extend_from_slice(&self.shard.to_be_bytes());
        out.extend_from_slice(&self.data_shards.to_be_bytes());
        out.extend_from_slice(&self.parity_shards.to_be_bytes());
        out.push(self.leaf_size.log2());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(blake3::hash(&self.payload).as_bytes());
        out.extend_from_slice(&self.payload);
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes the first envelope of `buf` and checks its payload hash;
    /// returns it with the bytes that follow. Never panics; allocates at most
    /// the payload, which must lie inside `buf`.
    pub fn decode(buf: &[u8]) -> Result<(Envelope, &[u8])> {
        let bad = |at, reason| Error::MalformedEnvelope { at, reason };
        if buf.len() < HEADER_LEN {
            return Err(bad(
                buf.len(),
                "truncated header: an envelope header is 93 bytes",
            ));
        }
        if &buf[0..4] != MAGIC {
            return Err(bad(0, "bad magic: not a modelda envelope"));
        }
        if buf[4] != Self::VERSION {
            return Err(Error::UnsupportedVersion {
                version: buf[4],
                supported: Self::VERSION,
            });
        }
        let kind = match buf[5] {
            0 => Kind::Data,
            1 => Kind::Parity,
            2 => Kind::Record,
            _ => return Err(bad(5, "unknown envelope kind")),
        };
        let be16 = |at: usize| u16::from_be_bytes([buf[at], buf[at + 1]]);
        let model = ModelId::from_bytes(buf[6..38].try_into().expect("32 bytes"));
        let file = u32::from_be_bytes(buf[38..42].try_into().expect("4 bytes"));
        let stripe = u64::from_be_bytes(buf[42..50].try_into().expect("8 bytes"));
        let (shard, data_shards, parity_shards) = (be16(50), be16(52), be16(54));
        if data_shards == 0 || usize::from(data_shards) + usize::from(parity_shards) > 256 {
            return Err(bad(
                52,
                "stripe geometry out of range (1 <= k, k + m <= 256)",
            ));
        }
        if shard >= data_shards + parity_shards {
            return Err(bad(50, "shard index beyond the stripe"));
        }
        let leaf_size =
            LeafSize::from_log2(buf[56]).map_err(|_| bad(56, "leaf size out of range"))?;
        let len = u32::from_be_bytes(buf[57..61].try_into().expect("4 bytes")) as usize;
        let rest = &buf[HEADER_LEN..];
        if len > rest.len() {
            return Err(bad(57, "payload length runs past the end of the blob"));
        }
        let payload = &rest[..len];
        if blake3::hash(payload).as_bytes() != &buf[61..93] {
            return Err(Error::PayloadHash { stripe, shard });
        }
        Ok((
            Envelope {
                kind,
                model,
                file,
                stripe,
                shard,
                data_shards,
                parity_shards,
                leaf_size,
                payload: payload.to_vec(),
            },
            &rest[len..],
        ))
    }

    /// Decodes every envelope packed in a blob.
    pub fn decode_all(mut buf: &[u8]) -> Result<Vec<Envelope>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (e, rest) = Self::decode(buf)?;
            out.push(e);
            buf = rest;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(payload: Vec<u8>) -> Envelope {
        Envelope {
            kind: Kind::Parity,
            model: ModelId::from_bytes([9; 32]),
            file: 3,
            stripe: 77,
            shard: 17,
            data_shards: 16,
            parity_shards: 4,
            leaf_size: LeafSize::MIN,
            payload,
        }
    }

    #[test]
    fn round_trip_packed() {
        let a = sample(vec![1, 2, 3]);
        let b = sample(vec![]);
        let mut blob = a.encode();
        b.encode_into(&mut blob);
        assert_eq!(Envelope::decode_all(&blob).unwrap(), vec![a, b]);
    }

    #[test]
    fn tampering_and_truncation_are_errors() {
        let enc = sample(vec![5; 100]).encode();
        assert!(Envelope::decode_all(&[]).unwrap().is_empty());
        for cut in 1..enc.len() {
            assert!(Envelope::decode_all(&enc[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = enc.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            Envelope::decode(&bad),
            Err(Error::PayloadHash { .. })
        ));
        let mut bad = enc;
        bad[4] = 2;
        assert!(matches!(
            Envelope::decode(&bad),
            Err(Error::UnsupportedVersion { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Envelope::decode_all(&buf);
            let mut b = b"MDAE\x01".to_vec();
            b.extend(&buf);
            let _ = Envelope::decode_all(&b);
        }
    }
}
