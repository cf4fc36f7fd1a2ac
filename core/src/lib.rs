//! What every modelda reader shares, with no I/O: no async runtime, no
//! HTTP client, no database.
//!
//! - [`locator`]: where a blob lives ([`Locator`]), Celestia namespaces,
//!   share commitments, EigenDA certs, and the [`LayerKind`];
//! - [`square`]: Celestia share geometry and the checks of a blob's shares
//!   against a data root ([`square::parts::BlobShares`]);
//! - [`avail`]: Avail's data proofs and its runtime's size and fee model;
//! - [`proof`]: the [`InclusionProof`] of a whole blob, per layer;
//! - [`fee`]: what a list of blobs costs on each kind of layer
//!   ([`LayerKind::fee`]), with [`celestia`] and [`eigenda`]'s models;
//! - [`untrusted`]: decoding JSON from anyone into types that hold
//!   celestia-types' proofs, without its base64 decoder's panic.
//!
//! The DA clients (`modelda-da`), the wire formats (`modelda-wire`), the
//! CLI, the API and the Python package all build on these types.

pub mod avail;
pub mod celestia;
pub mod eigenda;
mod error;
pub mod fee;
pub mod locator;
pub mod proof;
pub mod square;
pub mod untrusted;

pub use error::{Error, Result};
pub use fee::{Fee, FeeParams};
pub use locator::{Cert, LayerKind, Locator, Namespace, ShareCommitment};
pub use proof::InclusionProof;
