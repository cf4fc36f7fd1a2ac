//! The modelda indexer.
//!
//! **Not built yet.** This crate will follow a namespace on the DA layer,
//! validate every publication record and index models, lineage and chunk
//! locations in RocksDB, one write batch per height. It exports nothing today.
