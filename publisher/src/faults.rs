//! Fault injection for crash tests.
//!
//! `MODELDA_FAULT_ABORT_BEFORE_JOURNAL=N` aborts the process (as kill -9
//! would) when the N-th batch of confirmed blobs is about to be journaled:
//! the blobs are on the layer, the journal does not know them. The resumed
//! publish must find them there instead of posting them again.
//!
//! Only in builds with the `fault-injection` feature (the end-to-end tests
//! turn it on); in every other build the hooks compile to nothing and the
//! variable is ignored.

/// Whether this build has the fault hooks (the `fault-injection` feature).
pub const FAULT_HOOKS: bool = cfg!(feature = "fault-injection");

#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "fault-injection")]
static CONFIRMED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Called after a submission is confirmed and before it is journaled.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn before_journal() {}

/// Called after a submission is confirmed and before it is journaled.
#[cfg(feature = "fault-injection")]
pub(crate) fn before_journal() {
    let Some(n) = std::env::var("MODELDA_FAULT_ABORT_BEFORE_JOURNAL")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    if CONFIRMED_BATCHES.fetch_add(1, Ordering::SeqCst) + 1 == n {
        eprintln!("modelda: fault injection: aborting before journaling confirmed blobs");
        std::process::abort();
    }
}
