//! Errors of decoding and checking what modelda puts on a DA layer.

use modelda_core::Locator;
use modelda_manifest::ModelId;

/// An envelope, a stripe geometry or a publication record that cannot be
/// decoded or does not check out. Every variant about a record names where
/// it was read.
#[derive(Debug, thiserror::Error)]
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
    /// A payload that does not match its envelope's digest.
    #[error("envelope payload of stripe {stripe} shard {shard} does not match its digest: the layer returned altered bytes")]
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
    /// A publication record, root page or record page that cannot be
    /// decoded.
    #[error("publication record {locator}: {part} is malformed: {reason}")]
    RecordMalformed {
        /// Where the record was read.
        locator: Box<Locator>,
        /// Which part (`root page`, `page 3`, `page index`, `statement`,
        /// `shard places of FILE`, ...).
        part: String,
        /// What is wrong.
        reason: String,
    },
    /// A record or the claims inside it whose signature does not verify.
    #[error("publication record {locator}: {cause}")]
    RecordSignature {
        /// Where the record was read.
        locator: Box<Locator>,
        /// The failed check ([`modelda_manifest::Error::BadSignature`],
        /// [`modelda_manifest::Error::Bundle`] or
        /// [`modelda_manifest::Error::Key`]).
        cause: Box<modelda_manifest::Error>,
    },
    /// A record of a version this build does not read.
    #[error("publication record {locator}: {what} version {found} is not supported; this build reads version {supported}: upgrade modelda to read it")]
    RecordVersion {
        /// Where the record was read.
        locator: Box<Locator>,
        /// What carries the version.
        what: &'static str,
        /// Version found.
        found: u64,
        /// Version this build reads.
        supported: u64,
    },
    /// A record, or a count in it, larger than this build reads.
    #[error("publication record {locator}: {what}: {found}, more than the {limit} this build reads; the record is not one modelda writes")]
    RecordTooLarge {
        /// Where the record was read.
        locator: Box<Locator>,
        /// What is too large (`record bytes`, `pages`, ...).
        what: &'static str,
        /// The value found.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// A record of another model than the one asked for or named.
    #[error("publication record {locator}: the record is for model {found}, not {expected}")]
    RecordModel {
        /// Where the record was read.
        locator: Box<Locator>,
        /// The model asked for (or named by the root page or claims).
        expected: ModelId,
        /// The model the record is for.
        found: ModelId,
    },
    /// A count in a record that disagrees with what its manifest implies.
    #[error("publication record {locator}: {}{found} {what} listed, {expected} expected from the manifest; the record is inconsistent with its signed manifest", file.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    RecordCount {
        /// Where the record was read.
        locator: Box<Locator>,
        /// The file, when the count is per file.
        file: Option<String>,
        /// What is counted (`files`, `shard places`, `parity digests`).
        what: &'static str,
        /// What the manifest implies.
        expected: u64,
        /// What the record lists.
        found: u64,
    },
    /// A record whose structure contradicts its manifest or itself.
    #[error("publication record {locator}: {reason}")]
    RecordInconsistent {
        /// Where the record was read.
        locator: Box<Locator>,
        /// What is wrong.
        reason: String,
    },
    /// A record whose claims (manifest, model id, leaves) are invalid.
    #[error("publication record {locator}: {cause}; modelda never signs such claims, so the record cannot be fetched")]
    RecordClaims {
        /// Where the record was read.
        locator: Box<Locator>,
        /// What is wrong with the claims (a typed
        /// [`modelda_manifest::Error`]: `TensorShape`, `LeafCount`, ...).
        cause: Box<modelda_manifest::Error>,
    },
    /// A record page named where no page of this record can be: on another
    /// layer than the root page, or above its height.
    #[error("publication record {locator}: page {page} at {at} cannot belong to it: {reason}")]
    RecordPagePlace {
        /// Where the record (its root page) was read.
        locator: Box<Locator>,
        /// Page number (1-based).
        page: usize,
        /// The page's locator.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// An inclusion document that does not check out.
    #[error("inclusion proof: {part}: {reason}")]
    Inclusion {
        /// Which part failed (claims, file, range, blob inclusion, header,
        /// leaves, merkle, tensor, data).
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Claims whose signature or content does not check out.
    #[error("the signed claims do not check out: {cause}")]
    Claims {
        /// Why.
        cause: Box<modelda_manifest::Error>,
    },
    /// Claims signed by another key than the pinned one.
    #[error("the claims are signed by key {signer}, not by the pinned key {pinned}")]
    KeyMismatch {
        /// Hint of the pinned key.
        pinned: String,
        /// Hint of the key that signed.
        signer: String,
    },
    /// A file, tensor or range the manifest does not have.
    #[error("the model has no {what} {name}")]
    NotInManifest {
        /// `file`, `tensor` or `byte range`.
        what: &'static str,
        /// Which (quoted where it is a name).
        name: String,
    },
    /// A leaf whose bytes are not what the claims commit to, or that was
    /// not read in order.
    #[error("{path}: leaf {leaf}: {reason}")]
    LeafMismatch {
        /// The file.
        path: String,
        /// The leaf index.
        leaf: u64,
        /// What is wrong.
        reason: String,
    },
    /// A tensor whose bytes do not hash to the signed tensor hash.
    #[error("{path}: tensor {name:?}: its bytes do not hash to the signed tensor hash")]
    TensorMismatch {
        /// The file.
        path: String,
        /// The tensor.
        name: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
