//! Fault injection for crash tests.
//!
//! `MODELDA_FAULT_ABORT_BEFORE_JOURNAL=N` aborts the process (as kill -9
//! would) when the N-th batch of confirmed blobs is about to be journaled:
//! the blobs are on the layer, the journal does not know them. The resumed
//! publish must find them there instead of posting them again.

use std::sync::atomic::{AtomicU64, Ordering};

static CONFIRMED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Called after a submission is confirmed and before it is journaled.
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
