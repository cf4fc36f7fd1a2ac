//! Errors of the publisher crate.

/// Everything that can go wrong encoding, decoding or recovering shards.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An envelope that cannot be decoded.
    #[error("malformed envelope at byte {at}: {reason}")]
    MalformedEnvelope {
        /// Byte offset in the encoding.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An envelope of a version this build does not read.
    #[error("unsupported envelope version {version}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version found.
        version: u8,
        /// Version this build reads.
        supported: u8,
    },
    /// A payload whose BLAKE3 does not match its envelope.
    #[error("envelope payload of stripe {stripe} shard {shard} does not match its hash: the layer returned altered bytes")]
    PayloadHash {
        /// Stripe.
        stripe: u64,
        /// Shard.
        shard: u16,
    },
    /// Stripe parameters out of range.
    #[error("invalid stripe geometry {data}+{parity}: {reason}")]
    Geometry {
        /// Data shards.
        data: usize,
        /// Parity shards.
        parity: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Too few shards survive to rebuild a stripe.
    #[error("stripe {stripe}: only {present} of {data}+{parity} shards are intact; at least {data} are needed")]
    Unrecoverable {
        /// Stripe.
        stripe: u64,
        /// Shards present.
        present: usize,
        /// Data shards.
        data: usize,
        /// Parity shards.
        parity: usize,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
