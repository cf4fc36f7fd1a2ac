//! The index's layout in RocksDB: column families (named constants with a
//! version suffix), fixed-width big-endian keys, and the values stored.
//!
//! A change to any key or value layout takes a new suffix: an index written
//! by another layout is refused on open (see [`SCHEMA_VERSION`]) and rebuilt
//! from the layer with `modelda index rebuild`.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `meta_v1` | name (ASCII) | checkpoint, source, counters |
//! | `models_v1` | model id (32) | [`ModelEntry`] (JSON) |
//! | `model_pubs_v1` | model id (32), [`PubId`] (12) | empty |
//! | `pubs_v1` | [`PubId`] (12) | [`PublicationEntry`] (JSON) |
//! | `pub_blobs_v1` | [`PubId`] (12), blob index (4) | locator (text) |
//! | `signers_v1` | model id (32), key hint (32) | [`PubId`] (12) of the first |
//! | `publishers_v1` | key hint (32) | [`PublisherEntry`] (JSON) |
//! | `publisher_models_v1` | key hint (32), model id (32) | [`PubId`] (12) of the first |
//! | `tensors_v1` | tensor hash (32), model id (32), file (4), tensor (4) | empty |
//! | `chunks_v1` | commitment (32), [`PubId`] (12), file (4), leaf (8) | [`ChunkPlace`] (18) |
//! | `edges_v1` | child (32), parent (32) | [`EdgeEntry`] (JSON) |
//! | `edges_rev_v1` | parent (32), child (32) | empty |
//! | `pending_v1` | parent (32), child (32) | empty |
//! | `rejections_v1` | [`PubId`] (12) | [`Rejection`] (JSON) |
//! | `claims_v1` | [`PubId`] (12) | the signed claims bundle (JSON text, as signed) |
//! | `files_v1` | file root (32), model id (32), file (4) | empty |
//! | `names_v1` | BLAKE3 of the lowercased name (32), model id (32) | empty |
//! | `statements_v1` | [`PubId`] (12) | a statement's signed bundle (JSON text, as signed) |
//! | `advisories_v1` | [`PubId`] (12) | [`AdvisoryEntry`] (JSON) |
//! | `advisory_ids_v1` | advisory id (ASCII) | [`PubId`] (12) of the advisory |
//! | `model_advisories_v1` | model id (32), [`PubId`] (12) | empty |
//! | `advisory_current_v1` | model id (32), key hint (32) | [`PubId`] (12) of the key's standing advisory |
//!
//! JSON values are written by serde from structs (fields in declaration
//! order, no maps with unordered keys), so equal content is equal bytes and
//! the digest of two replicas compares.

use modelda_manifest::{LineageClaim, ModelId, ModelManifest};
use modelda_wire::advisory::{Osv, Status};
use serde::{Deserialize, Serialize};

/// The layout version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// Metadata: checkpoint, the followed source, counters.
pub const CF_META: &str = "meta_v1";
/// Models by id.
pub const CF_MODELS: &str = "models_v1";
/// The publications of each model.
pub const CF_MODEL_PUBS: &str = "model_pubs_v1";
/// Publications by [`PubId`].
pub const CF_PUBS: &str = "pubs_v1";
/// Each publication's blob locators, by index.
pub const CF_PUB_BLOBS: &str = "pub_blobs_v1";
/// The keys that published or attested each model.
pub const CF_SIGNERS: &str = "signers_v1";
/// Publishers by key hint.
pub const CF_PUBLISHERS: &str = "publishers_v1";
/// The models of each publisher.
pub const CF_PUBLISHER_MODELS: &str = "publisher_models_v1";
/// Tensors by hash.
pub const CF_TENSORS: &str = "tensors_v1";
/// Chunks (leaf chaining values, one-leaf file roots) to their places.
pub const CF_CHUNKS: &str = "chunks_v1";
/// Lineage edges, child to parent.
pub const CF_EDGES: &str = "edges_v1";
/// Lineage edges, parent to child.
pub const CF_EDGES_REV: &str = "edges_rev_v1";
/// Claimed parents not indexed yet.
pub const CF_PENDING: &str = "pending_v1";
/// Records refused, by where they were read.
pub const CF_REJECTIONS: &str = "rejections_v1";
/// The signed claims bundle of each publication (what a prover checks the
/// model id and signature with).
pub const CF_CLAIMS: &str = "claims_v1";
/// Files by root: which models hold a file with that root.
pub const CF_FILES: &str = "files_v1";
/// Models by name (the claims' subject name, lowercased and hashed).
pub const CF_NAMES: &str = "names_v1";

/// The signed bundle of each statement (advisories and withdrawals), by
/// where it was read: what a reader checks the signature with.
pub const CF_STATEMENTS: &str = "statements_v1";
/// Advisories by where they were read.
pub const CF_ADVISORIES: &str = "advisories_v1";
/// Advisories by id (OSV `id`).
pub const CF_ADVISORY_IDS: &str = "advisory_ids_v1";
/// The advisories of each model.
pub const CF_MODEL_ADVISORIES: &str = "model_advisories_v1";
/// Per model and key, the advisory that stands (not replaced by a later
/// one of the same key, not withdrawn).
pub const CF_ADVISORY_CURRENT: &str = "advisory_current_v1";

/// Every column family, in the order the digest reads them.
pub const COLUMN_FAMILIES: [&str; 22] = [
    CF_META,
    CF_MODELS,
    CF_MODEL_PUBS,
    CF_PUBS,
    CF_PUB_BLOBS,
    CF_SIGNERS,
    CF_PUBLISHERS,
    CF_PUBLISHER_MODELS,
    CF_TENSORS,
    CF_CHUNKS,
    CF_EDGES,
    CF_EDGES_REV,
    CF_PENDING,
    CF_REJECTIONS,
    CF_CLAIMS,
    CF_FILES,
    CF_NAMES,
    CF_STATEMENTS,
    CF_ADVISORIES,
    CF_ADVISORY_IDS,
    CF_MODEL_ADVISORIES,
    CF_ADVISORY_CURRENT,
];

/// `meta_v1` key of the checkpoint: the last height whose batch is written
/// (u64 big-endian).
pub const META_CHECKPOINT: &[u8] = b"checkpoint";
/// `meta_v1` key of the source the index follows ([`Source`], JSON).
pub const META_SOURCE: &[u8] = b"source";
/// `meta_v1` key of the layout version (u32 big-endian).
pub const META_SCHEMA: &[u8] = b"schema";
/// `meta_v1` key of the number of records registered by hand (u32
/// big-endian): the index of the next [`PubId::registered`].
pub const META_REGISTERED: &[u8] = b"registered";
/// `meta_v1` key prefix of counters (u64 big-endian): `count/records`,
/// `count/rejections`, `count/rejections/CODE`, `count/reposts`,
/// `count/skipped`, `count/advisories`, `count/withdrawals`,
/// `count/advisory_reposts`.
pub const META_COUNT_PREFIX: &str = "count/";

/// Where a record was read: its root page's height and its index among the
/// blobs of the record namespace at that height. Records registered by hand
/// (EigenDA certs) have height 0, which no chain has, and are numbered in
/// the order they were registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PubId {
    /// Height of the root page (0: registered by hand).
    pub height: u64,
    /// Index of the root page in its height (or registration number).
    pub index: u32,
}

impl PubId {
    /// Encoded length.
    pub const LEN: usize = 12;

    /// The `n`-th record registered by hand.
    pub fn registered(n: u32) -> PubId {
        PubId {
            height: 0,
            index: n,
        }
    }

    /// Big-endian bytes: height, then index.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&self.height.to_be_bytes());
        b[8..].copy_from_slice(&self.index.to_be_bytes());
        b
    }

    /// Reads [`PubId::to_bytes`]; `None` unless `b` is 12 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<PubId> {
        let b: &[u8; 12] = b.try_into().ok()?;
        Some(PubId {
            height: u64::from_be_bytes(b[..8].try_into().ok()?),
            index: u32::from_be_bytes(b[8..].try_into().ok()?),
        })
    }
}

impl std::fmt::Display for PubId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.height == 0 {
            write!(f, "registered #{}", self.index)
        } else {
            write!(f, "{}.{}", self.height, self.index)
        }
    }
}

/// Where a chunk is stored: the blob (an index into its publication's blob
/// list, `pub_blobs_v1`), the envelope's offset in it, and the shard's stripe
/// and index in the stripe. Encoded in 18 bytes, big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlace {
    /// Index in the publication's blob list.
    pub blob: u32,
    /// Offset of the envelope in the blob.
    pub offset: u32,
    /// Stripe in the file.
    pub stripe: u64,
    /// Shard in the stripe.
    pub shard: u16,
}

impl ChunkPlace {
    /// Encoded length.
    pub const LEN: usize = 18;

    /// Big-endian bytes.
    pub fn to_bytes(self) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[..4].copy_from_slice(&self.blob.to_be_bytes());
        b[4..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..16].copy_from_slice(&self.stripe.to_be_bytes());
        b[16..].copy_from_slice(&self.shard.to_be_bytes());
        b
    }

    /// Reads [`ChunkPlace::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Option<ChunkPlace> {
        let b: &[u8; 18] = b.try_into().ok()?;
        Some(ChunkPlace {
            blob: u32::from_be_bytes(b[..4].try_into().ok()?),
            offset: u32::from_be_bytes(b[4..8].try_into().ok()?),
            stripe: u64::from_be_bytes(b[8..16].try_into().ok()?),
            shard: u16::from_be_bytes(b[16..].try_into().ok()?),
        })
    }
}

/// Key builders. Every key is a concatenation of fixed-width fields, so a
/// prefix of whole fields selects a range.
pub mod key {
    use super::PubId;

    /// `model_pubs_v1`, `signers_v1`, `publisher_models_v1`,
    /// `edges_v1`, `edges_rev_v1`, `pending_v1`: two 32-byte ids.
    pub fn pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 64] {
        let mut k = [0u8; 64];
        k[..32].copy_from_slice(a);
        k[32..].copy_from_slice(b);
        k
    }

    /// `model_pubs_v1`: model id, publication.
    pub fn model_pub(model: &[u8; 32], id: PubId) -> [u8; 44] {
        let mut k = [0u8; 44];
        k[..32].copy_from_slice(model);
        k[32..].copy_from_slice(&id.to_bytes());
        k
    }

    /// `pub_blobs_v1`: publication, blob index.
    pub fn pub_blob(id: PubId, blob: u32) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..12].copy_from_slice(&id.to_bytes());
        k[12..].copy_from_slice(&blob.to_be_bytes());
        k
    }

    /// `tensors_v1`: tensor hash, model id, file index, tensor index.
    pub fn tensor(hash: &[u8; 32], model: &[u8; 32], file: u32, tensor: u32) -> [u8; 72] {
        let mut k = [0u8; 72];
        k[..32].copy_from_slice(hash);
        k[32..64].copy_from_slice(model);
        k[64..68].copy_from_slice(&file.to_be_bytes());
        k[68..].copy_from_slice(&tensor.to_be_bytes());
        k
    }

    /// `files_v1`: file root, model id, file index.
    pub fn file(root: &[u8; 32], model: &[u8; 32], file: u32) -> [u8; 68] {
        let mut k = [0u8; 68];
        k[..32].copy_from_slice(root);
        k[32..64].copy_from_slice(model);
        k[64..].copy_from_slice(&file.to_be_bytes());
        k
    }

    /// `names_v1`: the name's hash, then the model id.
    pub fn name(name: &str, model: &[u8; 32]) -> [u8; 64] {
        pair(&name_hash(name), model)
    }

    /// The 32 bytes a name is filed under: BLAKE3 of its lowercase form, so
    /// a look-up ignores case.
    pub fn name_hash(name: &str) -> [u8; 32] {
        *blake3::hash(name.trim().to_lowercase().as_bytes()).as_bytes()
    }

    /// `chunks_v1`: commitment, publication, file index, leaf index.
    pub fn chunk(commitment: &[u8; 32], id: PubId, file: u32, leaf: u64) -> [u8; 56] {
        let mut k = [0u8; 56];
        k[..32].copy_from_slice(commitment);
        k[32..44].copy_from_slice(&id.to_bytes());
        k[44..48].copy_from_slice(&file.to_be_bytes());
        k[48..].copy_from_slice(&leaf.to_be_bytes());
        k
    }
}

/// The layer and namespace an index follows. An index directory follows one
/// source: opening it for another is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `local`, `celestia` or `eigenda`.
    pub layer: String,
    /// The record namespace (20 hex digits), for layers with namespaces.
    pub namespace: Option<String>,
}

/// A model: its signed manifest and leaves, as first published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// The model id (the hash of the manifest).
    pub model_id: ModelId,
    /// The name its first publication's claims give it (informational: the
    /// signed statement's subject name, often the directory's name).
    pub name: String,
    /// The manifest: files, tensors, lineage, training, card.
    pub manifest: ModelManifest,
    /// Per file path, the base64 of its leaf chaining values (files of two
    /// or more leaves), as the claims list them.
    pub leaves: std::collections::BTreeMap<String, String>,
    /// The first publication.
    pub first: PubId,
}

/// One publication: a record of a model, signed by one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationEntry {
    /// Where it was read.
    pub id: PubId,
    /// The model.
    pub model_id: ModelId,
    /// The record's locator (text).
    pub record: String,
    /// The layer of the blobs (`local`, `celestia`, `eigenda`).
    pub layer: String,
    /// Namespace of the data blobs, where the layer has namespaces.
    pub namespace: Option<String>,
    /// Hint of the signing key (hex SHA-256 of its PEM).
    pub signer: String,
    /// Stripe geometry: data shards.
    pub data_shards: u16,
    /// Stripe geometry: parity shards.
    pub parity_shards: u16,
    /// Number of blobs (own, then reused from parents).
    pub blobs: u32,
    /// Leaves indexed as chunks.
    pub leaves: u64,
    /// Models whose blobs it reuses.
    pub reused_from: Vec<ModelId>,
    /// Later records of the same model by the same key, which add nothing.
    pub reposts: u64,
}

/// A publisher: a key that signed at least one indexed record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherEntry {
    /// Key hint (hex SHA-256 of the PEM).
    pub hint: String,
    /// The public key (PEM).
    pub public_key: String,
    /// The first publication it signed.
    pub first: PubId,
}

/// Whether a lineage edge's parent is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeStatus {
    /// The parent is indexed; the evidence is computed.
    Resolved,
    /// The parent is not indexed yet.
    Pending,
}

/// What the indexer found when it compared a child with its claimed
/// parent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Tensors of the child.
    pub child_tensors: u64,
    /// Child tensors whose hash is a tensor of the parent.
    pub identical_tensors: u64,
    /// Bytes of those tensors.
    pub identical_bytes: u64,
    /// Leaves (chunks) of the child.
    pub child_leaves: u64,
    /// Child leaves whose commitment is a leaf of the parent.
    pub shared_leaves: u64,
    /// Names of the child tensors that are not in the parent (file path,
    /// `:`, tensor name), at most [`Evidence::MAX_NEW_TENSORS`].
    pub new_tensors: Vec<String>,
    /// How many tensors are new in all (the list may be cut).
    pub new_tensor_count: u64,
    /// Whether anything backs the claim (an identical tensor or a shared
    /// leaf); a claim without evidence is kept, marked `false`.
    pub supported: bool,
}

impl Evidence {
    /// Most new tensor names kept per edge.
    pub const MAX_NEW_TENSORS: usize = 256;

    /// Whether anything backs the claim: an identical tensor or a shared
    /// leaf.
    pub fn is_supported(&self) -> bool {
        self.supported
    }
}

/// A lineage edge, child to parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeEntry {
    /// The claim, as the child's manifest states it.
    pub claim: LineageClaim,
    /// Whether the parent is indexed.
    pub status: EdgeStatus,
    /// The evidence, once the parent is indexed.
    pub evidence: Option<Evidence>,
}

/// A record the indexer refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Where it was read.
    pub id: PubId,
    /// The locator (text).
    pub locator: String,
    /// Stable reason code (see [`crate::reject::Code`]).
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// An advisory the index holds: who signed it, what it says, and where it
/// stands. Its signed bundle is in `statements_v1` under the same
/// [`PubId`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryEntry {
    /// Where it was read.
    pub at: PubId,
    /// Its id (the OSV `id`).
    pub id: String,
    /// The model it is about.
    pub model_id: ModelId,
    /// Hint of the signing key.
    pub signer: String,
    /// The signing key (PEM), as the statement carries it.
    pub public_key: String,
    /// What it says.
    pub status: Status,
    /// The successor, for `superseded`.
    pub superseded_by: Option<ModelId>,
    /// Its locator (text).
    pub locator: String,
    /// The OSV document, as signed.
    pub osv: Osv,
    /// A later advisory of the same key about the same model, which
    /// replaces it.
    pub replaced_by: Option<PubId>,
    /// The withdrawal that retracts it, and its time.
    pub withdrawn_by: Option<PubId>,
    /// The withdrawal's time (RFC 3339), as its document gives it.
    pub withdrawn: Option<String>,
}

impl AdvisoryEntry {
    /// Neither replaced nor withdrawn.
    pub fn stands(&self) -> bool {
        self.replaced_by.is_none() && self.withdrawn_by.is_none()
    }
}
