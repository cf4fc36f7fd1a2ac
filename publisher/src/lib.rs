//! Publishing and fetching models over a DA layer.
//!
//! **In progress** (issue 4). Built so far:
//! - [`envelope`]: the versioned binary header every shard carries;
//! - [`stripe`]: Reed-Solomon stripes of `k` data leaves and `m` parity
//!   shards (default 16 + 4).
//!
//! Still to come: packing envelopes into blobs within a layer's limits,
//! concurrent submission with a crash-safe journal, the signed publication
//! record (the commit point), resume, reuse of a parent's leaves, and fetch.

pub mod envelope;
mod error;
pub mod stripe;

pub use envelope::{Envelope, Kind};
pub use error::{Error, Result};
pub use stripe::StripeCoder;
