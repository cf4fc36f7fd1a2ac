//! Data-availability layers for modelda.
//!
//! One async trait, [`DaLayer`], with three backends:
//! - [`local`]: the embedded default, a chain stored in RocksDB under a data
//!   directory, with Celestia namespaces, share commitments, data squares and
//!   NMT proofs built when asked for;
//! - `celestia`: a `celestia-rpc` client of a Celestia node (or the devnet);
//! - `eigenda`: a client of the EigenDA proxy's REST API (or the devnet).
//!
//! The devnet serves a local chain over both APIs for tests and trials.

pub mod celestia;
pub mod devnet;
pub mod eigenda;
pub mod error;
pub mod header;
pub mod jwt;
pub mod layer;
pub mod local;
pub mod locator;
pub mod retry;
pub mod square;

pub use error::{Error, Result};
pub use layer::{DaLayer, InclusionProof, Limits, Receipt};
pub use local::{verify_inclusion, ChainLimits, LocalChain, LocalLayer};
pub use locator::{Cert, LayerKind, Locator, Namespace, ShareCommitment};
pub use retry::RetryPolicy;
