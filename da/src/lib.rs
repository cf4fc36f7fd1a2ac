//! Data-availability layers for modelda.
//!
//! **Not built yet** (issue 3). This crate will hold one async trait for a DA
//! layer (submit blobs, get a blob by locator, list a namespace at a height,
//! build and verify inclusion proofs) and its three backends: the embedded
//! `local` chain stored in RocksDB, a `celestia-rpc` client, and an EigenDA
//! proxy REST client, plus the devnet that serves the local chain over both
//! APIs. It exports nothing today.
