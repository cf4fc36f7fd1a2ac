//! Envelopes: the versioned binary header every shard carries on a DA layer,
//! so any blob can be decoded and checked on its own.
//!
//! # Encoding (version 1, big-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `MDAE` |
//! | 4 | 1 | version `1` |
//! | 5 | 1 | kind: 0 leaf, 1 parity shard, 2 record page, 3 whole file, 4 statement |
//! | 6 | 32 | model id |
//! | 38 | 4 | file index in the manifest |
//! | 42 | 8 | stripe index within the file |
//! | 50 | 2 | shard index within the stripe |
//! | 52 | 2 | data shards per stripe (k) |
//! | 54 | 2 | parity shards per stripe (m) |
//! | 56 | 1 | log2 of the leaf size |
//! | 57 | 4 | payload length |
//! | 61 | 32 | digest of the payload |
//! | 93 | n | payload |
//!
//! The digest is the payload's commitment, so checking an envelope and
//! checking a leaf against its file are one hash:
//! - a **leaf** (kind 0) of a file of two or more leaves: its BLAKE3 chaining
//!   value as leaf `stripe * k + shard` (what the claims list);
//! - a **whole file** (kind 3) of one leaf: its plain BLAKE3, the file root;
//! - a **parity shard**, a **record page** or a **statement** (a signed
//!   statement about the model other than its record: an advisory, see
//!   [`crate::advisory`]): its plain BLAKE3.
//!
//! Several envelopes may be packed back to back in one blob.

use modelda_manifest::ModelId;
use modelda_merkle::{leaf_cv, LeafSize};

use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"MDAE";
/// Bytes before the payload.
pub const HEADER_LEN: usize = 93;

/// What an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A leaf of a file of two or more leaves (one data shard of a stripe).
    Data,
    /// A Reed-Solomon parity shard.
    Parity,
    /// A page of the publication record.
    Record,
    /// The only leaf of a file of one leaf.
    Whole,
    /// A signed statement about the model other than its publication
    /// record (an advisory), posted to the record namespace.
    Statement,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Data => 0,
            Kind::Parity => 1,
            Kind::Record => 2,
            Kind::Whole => 3,
            Kind::Statement => 4,
        }
    }

    fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            0 => Kind::Data,
            1 => Kind::Parity,
            2 => Kind::Record,
            3 => Kind::Whole,
            4 => Kind::Statement,
            _ => return None,
        })
    }
}

/// The fields of an envelope header other than the payload length and
/// digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What it carries.
    pub kind: Kind,
    /// The model.
    pub model: ModelId,
    /// File index in the manifest (0 for record pages).
    pub file: u32,
    /// Stripe index within the file (page number for record pages).
    pub stripe: u64,
    /// Shard index within the stripe (data shards first).
    pub shard: u16,
    /// Data shards per stripe.
    pub data_shards: u16,
    /// Parity shards per stripe.
    pub parity_shards: u16,
    /// Leaf size of the file.
    pub leaf_size: LeafSize,
}

impl Header {
    /// The leaf index of a data shard: `stripe * k + shard`.
    pub fn leaf_index(&self) -> Option<u64> {
        self.stripe
            .checked_mul(u64::from(self.data_shards))?
            .checked_add(u64::from(self.shard))
    }

    /// The digest an envelope with this header carries for `payload`.
    /// `None` when the payload cannot be a leaf here (empty, longer than a
    /// leaf, or at an index past `u64`).
    pub fn digest(&self, payload: &[u8]) -> Option<[u8; 32]> {
        match self.kind {
            Kind::Data => {
                if payload.is_empty() || payload.len() as u64 > self.leaf_size.bytes() {
                    return None;
                }
                let index = self.leaf_index()?;
                index.checked_mul(self.leaf_size.bytes())?;
                Some(*leaf_cv(self.leaf_size, index, payload).as_bytes())
            }
            Kind::Parity | Kind::Record | Kind::Whole | Kind::Statement => {
                Some(*blake3::hash(payload).as_bytes())
            }
        }
    }

    /// Appends the encoding of an envelope with this header, a precomputed
    /// `digest` of `payload` (see [`Header::digest`]) and the payload.
    pub fn encode_into(&self, digest: &[u8; 32], payload: &[u8], out: &mut Vec<u8>) {
        out.reserve(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.push(Envelope::VERSION);
        out.push(self.kind.code());
        out.extend_from_slice(self.model.as_bytes());
        out.extend_from_slice(&self.file.to_be_bytes());
        out.extend_from_slice(&self.stripe.to_be_bytes());
        out.extend_from_slice(&self.shard.to_be_bytes());
        out.extend_from_slice(&self.data_shards.to_be_bytes());
        out.extend_from_slice(&self.parity_shards.to_be_bytes());
        out.push(self.leaf_size.log2());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(digest);
        out.extend_from_slice(payload);
    }
}

/// A decoded envelope: header, digest and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The header.
    pub header: Header,
    /// The payload's digest, checked on decode.
    pub digest: [u8; 32],
    /// The bytes.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// The version this build writes and reads.
    pub const VERSION: u8 = 1;

    /// An envelope of `payload`, with its digest computed.
    pub fn new(header: Header, payload: Vec<u8>) -> Result<Envelope> {
        let digest = header.digest(&payload).ok_or(Error::MalformedEnvelope {
            at: 57,
            reason: "a leaf payload must hold 1 to leaf-size bytes",
        })?;
        Ok(Envelope {
            header,
            digest,
            payload,
        })
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.header.encode_into(&self.digest, &self.payload, out);
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes the header of the envelope that starts `buf`, and the length
    /// of its payload, without reading or hashing the payload: a follower
    /// skips what is not a record this way. The payload must lie inside
    /// `buf`. Never panics; allocates nothing.
    pub fn peek(buf: &[u8]) -> Result<(Header, usize)> {
        let (header, len, _) = Self::header_of(buf)?;
        if len > buf.len() - HEADER_LEN {
            return Err(Error::MalformedEnvelope {
                at: 57,
                reason: "payload length runs past the end of the blob",
            });
        }
        Ok((header, len))
    }

    /// Decodes the header that starts `buf` (which need hold only the
    /// header), its payload length and its digest; the payload is neither
    /// read nor checked. Never panics; allocates nothing.
    pub fn header_of(buf: &[u8]) -> Result<(Header, usize, [u8; 32])> {
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
        let kind = Kind::from_code(buf[5]).ok_or(bad(5, "unknown envelope kind"))?;
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
        if usize::from(shard) >= usize::from(data_shards) + usize::from(parity_shards) {
            return Err(bad(50, "shard index beyond the stripe"));
        }
        let leaf_size =
            LeafSize::from_log2(buf[56]).map_err(|_| bad(56, "leaf size out of range"))?;
        let len = u32::from_be_bytes(buf[57..61].try_into().expect("4 bytes")) as usize;
        let digest: [u8; 32] = buf[61..93].try_into().expect("32 bytes");
        let header = Header {
            kind,
            model,
            file,
            stripe,
            shard,
            data_shards,
            parity_shards,
            leaf_size,
        };
        Ok((header, len, digest))
    }

    /// Decodes the first envelope of `buf` and checks its payload digest;
    /// returns it with the bytes that follow. Never panics; allocates at most
    /// the payload, which must lie inside `buf`.
    pub fn decode(buf: &[u8]) -> Result<(Envelope, &[u8])> {
        let (header, len) = Self::peek(buf)?;
        let (stripe, shard) = (header.stripe, header.shard);
        let rest = &buf[HEADER_LEN..];
        let payload = &rest[..len];
        let digest: [u8; 32] = buf[61..93].try_into().expect("32 bytes");
        match header.digest(payload) {
            Some(d) if d == digest => {}
            Some(_) => return Err(Error::PayloadHash { stripe, shard }),
            None => {
                return Err(Error::MalformedEnvelope {
                    at: 57,
                    reason: "a leaf payload must hold 1 to leaf-size bytes",
                })
            }
        }
        Ok((
            Envelope {
                header,
                digest,
                payload: payload.to_vec(),
            },
            &rest[len..],
        ))
    }

    /// Decodes the envelope that starts `offset` bytes into `blob`.
    pub fn decode_at(blob: &[u8], offset: usize) -> Result<Envelope> {
        let tail = blob.get(offset..).ok_or(Error::MalformedEnvelope {
            at: offset,
            reason: "offset past the end of the blob",
        })?;
        Envelope::decode(tail).map(|(e, _)| e)
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

    fn header(kind: Kind) -> Header {
        Header {
            kind,
            model: ModelId::from_bytes([9; 32]),
            file: 3,
            stripe: 77,
            shard: 17,
            data_shards: 16,
            parity_shards: 4,
            leaf_size: LeafSize::MIN,
        }
    }

    #[test]
    fn round_trip_packed() {
        let a = Envelope::new(header(Kind::Parity), vec![1, 2, 3]).unwrap();
        let b = Envelope::new(header(Kind::Record), vec![]).unwrap();
        let mut d = header(Kind::Data);
        d.shard = 3;
        let c = Envelope::new(d, vec![7; 100]).unwrap();
        let mut blob = a.encode();
        b.encode_into(&mut blob);
        c.encode_into(&mut blob);
        assert_eq!(
            Envelope::decode_all(&blob).unwrap(),
            vec![a.clone(), b, c.clone()]
        );
        assert_eq!(
            Envelope::decode_at(&blob, a.encoded_len() + HEADER_LEN).unwrap(),
            c
        );
    }

    #[test]
    fn leaf_digest_is_the_chaining_value_at_its_index() {
        let mut h = header(Kind::Data);
        h.shard = 2;
        let payload = vec![5u8; 1000];
        let e = Envelope::new(h, payload.clone()).unwrap();
        let index = 77 * 16 + 2;
        assert_eq!(
            &e.digest,
            leaf_cv(LeafSize::MIN, index, &payload).as_bytes()
        );
        // The same bytes at another index are a different leaf.
        h.shard = 3;
        assert_ne!(Envelope::new(h, payload).unwrap().digest, e.digest);
        // Empty or over-long leaves are refused.
        assert!(Envelope::new(h, vec![]).is_err());
        assert!(Envelope::new(h, vec![0; (LeafSize::MIN.bytes() + 1) as usize]).is_err());
        let w = Envelope::new(header(Kind::Whole), vec![1, 2]).unwrap();
        assert_eq!(&w.digest, blake3::hash(&[1, 2]).as_bytes());
    }

    #[test]
    fn tampering_and_truncation_are_errors() {
        let enc = Envelope::new(header(Kind::Data), vec![5; 100])
            .unwrap()
            .encode();
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
        // Moving a leaf to another index breaks its digest.
        let mut moved = enc.clone();
        moved[51] ^= 1;
        assert!(matches!(
            Envelope::decode(&moved),
            Err(Error::PayloadHash { .. })
        ));
        let mut bad = enc;
        bad[4] = 2;
        assert!(matches!(
            Envelope::decode(&bad),
            Err(Error::UnsupportedVersion { .. })
        ));
        assert!(Envelope::decode_at(&bad, 10_000).is_err());
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
