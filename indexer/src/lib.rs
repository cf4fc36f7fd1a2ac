//! The modelda indexer: follows the record namespace of a DA layer, checks
//! every record before it touches the index, and keeps models, publications,
//! publishers, tensors, chunk places and lineage edges (with evidence) in
//! RocksDB.
//!
//! - [`schema`]: column families, keys and values;
//! - [`store`]: the index directory (one writer, readers in other
//!   processes), the per-height batch, the digest;
//! - [`ingest`]: one height's blobs to entries and rejections;
//! - [`reject`]: stable reason codes;
//! - [`follow`]: catch-up then live, until stopped;
//! - [`query`]: what the API and the CLI read.
//!
//! The index is a deterministic function of the layer's data (and of the
//! records registered by hand): two indexes of the same namespace at the
//! same checkpoint have the same [`Index::digest`].

mod error;
pub mod follow;
pub mod ingest;
pub mod query;
pub mod reject;
pub mod schema;
pub mod store;

pub use error::{Error, Result};
pub use follow::{follow, Event, FollowOptions, Stop};
pub use ingest::{adopt, advance, ingest_height, register, HeightReport, Indexed};
pub use reject::Code;
pub use schema::{PubId, Source};
pub use store::{Digest, Index};
