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
    /// Fraction of submissions (Celestia and Avail) accepted into the mempool and then
    /// dropped from it (never included), with the client's connection
    /// dropped without an answer. Default: 0.
    pub evict_rate: f64,
    /// Fraction of submissions (Celestia and Avail) included in a block whose answer
    /// is lost (the connection is dropped after inclusion). Default: 0.
    pub lose_answer_rate: f64,
    /// A submission waits a random 0 to this many blocks in the mempool
    /// before a block may include it (a busy mempool); past the mempool
    /// TTL (Avail: the mortal era) it is evicted. Default: 0.
    pub inclusion_delay_blocks: u64,
}

impl Faults {
    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        self != &Faults::default()
    }
}

/// What a JSON-RPC method answers when a fault must drop the connection
/// after the method ran; the HTTP middleware turns it into a dropped
/// connection, so the client never sees it.
pub(crate) const DROP_CONNECTION: &str = "modelda-devnet: injected fault: drop this connection";

/// A random number below `n` (0 when `n` is 0).
pub fn below(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    rand_core::RngCore::next_u64(&mut rand_core::OsRng) % n
}

/// True with probability `p`.
pub fn roll(p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let x = rand_core::RngCore::next_u64(&mut rand_core::OsRng) as f64 / u64::MAX as f64;
    x < p
}

/// A fault a REST API injects before it handles a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    /// A failover (`failover_rate`).
    Failover,
    /// A retryable error (`error_rate`).
    Error,
}

/// The latency, then the roll of a REST request's faults.
pub(crate) async fn before_request(f: &Faults) -> Option<Injected> {
    if !f.latency.is_zero() {
        tokio::time::sleep(f.latency).await;
    }
    if roll(f.failover_rate) {
        return Some(Injected::Failover);
    }
    roll(f.error_rate).then_some(Injected::Error)
}
