//! Fault injection shared by both devnet APIs.

use std::time::Duration;

/// Faults a devnet injects into its APIs, so clients exercise real failure
/// paths over real HTTP. All default to off.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Added to every request. Default: none.
    pub latency: Duration,
    /// Fraction of requests answered with a retryable error (HTTP 503 on the
    /// Celestia API, 429 on the EigenDA API). Default: 0.
    pub error_rate: f64,
    /// Fraction of EigenDA requests answered with 503 failover. Default: 0.
    pub failover_rate: f64,
    /// Fraction of connections dropped without an answer. Default: 0.
    pub drop_rate: f64,
}

impl Faults {
    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        self != &Faults::default()
    }
}

/// True with probability `p`.
pub fn roll(p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let x = rand_core::RngCore::next_u64(&mut rand_core::OsRng) as f64 / u64::MAX as f64;
    x < p
}
