//! End-to-end tests of modelda live in `tests.rs` and its modules; this
//! library is empty.
