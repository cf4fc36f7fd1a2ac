//! Publishing models to a DA layer, and fetching them back verified.
//!
//! The wire formats (envelopes, geometry, records) are in [`modelda_wire`]
//! and re-exported here as [`envelope`] and [`record`].
//!
//! - [`stripe`]: Reed-Solomon stripes of `k` leaves and `m` parity shards;
//! - [`plan`]: which shards exist, which a parent already posted, and how
//!   the rest pack into blobs within the layer's limits;
//! - [`journal`]: the crash-safe record of confirmed blobs;
//! - [`publish`]: the concurrent, resumable, exactly-once publish;
//! - [`estimate`]: blobs, shares, fee and time of a plan, before posting;
//! - [`fetch`]: the prover's side: fetch only the shards needed, check every
//!   leaf against its file root, rebuild what is missing or corrupt.

mod error;
pub mod estimate;
mod faults;
pub mod fetch;
pub mod journal;
pub mod plan;
pub mod publish;
pub mod stripe;

#[cfg(test)]
mod record_tests;

/// Shard envelopes (from [`modelda_wire`]).
pub use modelda_wire::envelope;
/// Publication records (from [`modelda_wire`]).
pub use modelda_wire::record;

pub use envelope::{Envelope, Kind};
pub use error::{Error, Result};
pub use faults::FAULT_HOOKS;
pub use plan::{Geometry, Plan};
pub use publish::{publish, Outcome, PublishOptions, SignedModel};
pub use stripe::StripeCoder;
