//! Avail: the data root of a block's submissions and its Merkle proofs
//! (the shape of the full node's `kate_queryDataProof`), checked against
//! the data root in a header the verifier fetches from its own node.
//!
//! The client for the light client's HTTP API v2 and the devnet's Avail
//! API build on this (issue 12, in progress).

pub mod proof;
