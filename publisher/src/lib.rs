//! Publishing models to a DA layer, and fetching them back verified.
//!
//! - [`envelope`]: the versioned binary header every shard carries;
//! - [`stripe`]: Reed-Solomon stripes of `k` leaves and `m` parity shards;
//! - [`plan`]: which shards exist, which a parent already posted, and how
//!   the rest pack into blobs within the layer's limits;
//! - [`journal`]: the crash-safe record of confirmed blobs;
//! - [`record`]: the signed publication record, posted last (the commit
//!   point), split into pages when large;
//! - [`publish`]: the concurrent, resumable, exactly-once publish;
//! - [`estimate`]: blobs, shares, fee and time of a plan, before posting;
//! - [`fetch`]: the prover's side: fetch only the shards needed, check every
//!   leaf against its file root, rebuild what is missing or corrupt.

pub mod envelope;
mod error;
pub mod estimate;
mod faults;
pub mod fetch;
pub mod journal;
pub mod plan;
pub mod publish;
pub mod record;
pub mod stripe;

pub use envelope::{Envelope, Kind};
pub use error::{Error, Result};
pub use plan::{Geometry, Plan};
pub use publish::{publish, Outcome, PublishOptions, SignedModel};
pub use stripe::StripeCoder;
