//! The modelda API.
//!
//! **Not built yet.** This crate will serve provenance, lineage and proofs of
//! inclusion over GraphQL (async-graphql on axum) and raw chunk bytes over
//! HTTP. It exports nothing today.
