//! Data-availability layers for modelda.
//!
//! One async trait, [`DaLayer`], with three backends:
//! - `local`: the embedded default, a chain stored under a data directory
//!   (segment files and RocksDB), with Celestia namespaces, share
//!   commitments, data squares and NMT proofs built when asked for;
//! - `celestia`: a `celestia-rpc` client of a Celestia node (or the devnet);
//! - `eigenda`: a client of the EigenDA proxy's REST API (or the devnet).
//!
//! The devnet (crate `modelda-devnet`) serves a local chain over both APIs
//! for tests and trials; this crate carries no server dependencies.
//!
//! The embedded chain needs RocksDB; it sits behind the `local` feature
//! (on by default). Without it the crate is a client of
//! remote layers, and everything that only reads records, locators and
//! proofs builds without a C++ toolchain (the fuzz targets use this).

pub mod avail;
pub mod celestia;
pub mod chain;
pub mod config;
pub mod eigenda;
pub mod error;
pub mod header;
pub mod layer;
#[cfg(feature = "local")]
pub mod local;
pub use modelda_core::{locator, untrusted};
pub mod read;
pub mod retry;
pub mod square;

pub use chain::{verify_inclusion, ChainLimits};
pub use config::{Access, LayerConfig};
pub use error::{Error, Result};
pub use layer::{DaLayer, Follow, InclusionProof, Limits, Receipt, Settlement};
#[cfg(feature = "local")]
pub use local::{LocalChain, LocalLayer};
pub use modelda_core::{fee, Fee, FeeParams};
pub use modelda_core::{Cert, LayerKind, Locator, Namespace, ShareCommitment};
pub use retry::RetryPolicy;
