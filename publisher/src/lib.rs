//! Publishing and fetching models over a DA layer.
//!
//! **Not built yet** (issue 4). This crate will cut committed files into
//! stripes of data and Reed-Solomon parity leaves, wrap them in versioned
//! envelopes, pack them into blobs, submit them with a crash-safe journal and
//! post the signed publication record last; and the inverse, fetching and
//! verifying shards by commitment. It exports nothing today.
