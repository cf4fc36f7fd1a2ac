//! Celestia share geometry, and the checks of a blob's shares against a
//! data root, with no square built: what a verifier of the embedded chain
//! or Celestia needs. Building squares and proofs lives in `modelda-da`.

use celestia_types::nmt::Namespace as CNamespace;

use crate::Namespace;

pub mod commitment;
pub mod nmt_range;
pub mod parts;

pub use commitment::share_commitment;

/// Payload bytes in a blob's first share (share version 0).
pub const FIRST_SHARE_PAYLOAD: usize = 478;
/// Payload bytes in each following share.
pub const CONTINUATION_SHARE_PAYLOAD: usize = 482;

/// Shares a version-0 blob of `len` bytes takes.
pub fn shares_for(len: usize) -> usize {
    if len <= FIRST_SHARE_PAYLOAD {
        1
    } else {
        1 + (len - FIRST_SHARE_PAYLOAD).div_ceil(CONTINUATION_SHARE_PAYLOAD)
    }
}

/// Our namespace as celestia-types'.
pub fn to_celestia(ns: Namespace) -> CNamespace {
    CNamespace::from_raw(ns.as_bytes()).expect("a validated v0 namespace")
}
