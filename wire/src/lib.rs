//! The wire formats of modelda: what it puts on a DA layer, and how any
//! reader decodes and checks it without the publishing machinery.
//!
//! - [`envelope`]: the versioned binary header every shard carries;
//! - [`advisory`]: signed advisories about a model (OSV documents in DSSE
//!   in-toto statements) and their checks;
//! - [`geometry`]: stripes of `k` leaves and `m` parity shards, and where a
//!   shard sits in a record's blobs;
//! - [`signed`]: reading a model's bytes by its signed claims, leaf by
//!   leaf, each checked before use (what a prover fetching by commitment
//!   needs);
//! - [`record`]: the signed publication record, its pages and page index,
//!   and its parsing and validation (bounded before anything is allocated
//!   from a stranger's numbers).
//!
//! None of it does I/O: where a check needs more (a record's next page,
//! a header's data root, a leaf), it says what, and the caller fetches it.
//! The publisher writes these formats; the fetcher, the indexer, the API
//! and the Python package read them. Their bytes are pinned by `fixtures/protocol-vectors.json`.

pub mod advisory;
pub mod envelope;
mod error;
pub mod geometry;
pub mod inclusion;
pub mod record;
pub mod signed;
pub mod statement;

pub use envelope::{Envelope, Header, Kind, HEADER_LEN};
pub use error::{Error, Result};
pub use geometry::{FileStripes, Geometry, ShardRef};

/// Smallest blob a publication posts (bytes): a layer whose blobs are
/// smaller cannot carry modelda's envelopes usefully. Record pages other
/// than the last fill at least this much.
pub const MIN_BLOB_BYTES: usize = 4096;
