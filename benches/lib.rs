//! Benchmarks live in this crate's `[[bench]]` targets; run them with
//! `cargo bench -p modelda-benches --bench NAME`. This library is empty.
