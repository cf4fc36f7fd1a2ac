//! BLAKE3 Merkle commitments over fixed-size leaves, and range proofs.
//!
//! A file's root is its plain BLAKE3 hash, exactly what `b3sum` prints, for
//! every length and every allowed [`LeafSize`]. The file is cut into leaves of
//! `2^k` KiB aligned to file offsets; each leaf's chaining value is a BLAKE3
//! subtree hash, and the tree over leaves is BLAKE3's own tree, so a
//! [`RangeProof`] of a run of leaves is the list of sibling chaining values on
//! their paths to the root. Inside a leaf, a [`LeafPartProof`] proves a span
//! of 1 KiB chunks by the chaining values of the rest of the leaf, so a
//! verifier of a byte range needs only that range rounded out to chunks
//! ([`RangeProof::verify_cvs`] takes the leaves' chaining values).
//!
//! This crate is pure: it does no I/O. Callers hand it bytes (whole, or in
//! leaf-aligned windows through [`CommitmentBuilder`]).
//!
//! ```
//! use modelda_merkle::{Commitment, LeafSize, FileRoot};
//! let data = vec![7u8; 3 << 20];
//! let c = Commitment::from_bytes(&data, LeafSize::DEFAULT);
//! assert_eq!(c.root(), FileRoot::from(blake3::hash(&data)));
//! let proof = c.prove(1_500_000..1_600_000).unwrap();
//! let cov = proof.covered();
//! let bytes = proof
//!     .verify(&c.root(), data.len() as u64, LeafSize::DEFAULT, 1_500_000..1_600_000,
//!             &data[cov.start as usize..cov.end as usize])
//!     .unwrap();
//! assert_eq!(bytes.len(), 100_000);
//! ```
#![forbid(unsafe_code)]

mod error;
mod hash;
mod leaf;
mod partial;
mod proof;
mod tree;

pub use error::{Error, Result};
pub use leaf::LeafSize;
pub use partial::{chunk_span, LeafPartProof};
pub use proof::{verify_range, RangeProof};
pub use tree::{leaf_cv, leaf_cvs_par, Commitment, CommitmentBuilder};

pub use hash::{FileRoot, LeafCv};

hash_newtype!(
    /// The chaining value of an interior subtree (a proof sibling).
    NodeCv
);

#[doc(hidden)]
pub use hex as __hex;

#[cfg(test)]
mod tests;
