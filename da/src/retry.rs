//! Retries with exponential backoff for transient failures.

use std::time::Duration;

/// How a layer client retries transient failures (transport errors, 429,
/// 503, sequence mismatches).
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default: 6.
    pub attempts: u32,
    /// Delay before the first retry, doubled each time. Default: 100 ms.
    pub initial: Duration,
    /// Longest delay between attempts. Default: 5 s.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// Delay before retry number `n` (1-based), with up to 25% jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max);
        let jitter = (rand_core::RngCore::next_u32(&mut rand_core::OsRng) % 256) as u64;
        base + base.mul_f64(jitter as f64 / 1024.0)
    }
}

/// What an attempt's failure means for the next attempt.
pub(crate) enum Attempt<E> {
    /// Worth retrying.
    Retry(E),
    /// Final.
    Fail(E),
}

/// Runs `f` until it succeeds, fails finally, or attempts run out; returns the
/// last error with the number of attempts made.
pub(crate) async fn with_retry<T, E, F, Fut>(policy: RetryPolicy, mut f: F) -> Result<T, (E, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Attempt<E>>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(Attempt::Fail(e)) => return Err((e, n)),
            Err(Attempt::Retry(e)) if n >= policy.attempts.max(1) => return Err((e, n)),
            Err(Attempt::Retry(_)) => {
                let d = policy.delay(n);
                tracing::debug!(attempt = n, delay_ms = d.as_millis() as u64, "retrying");
                tokio::time::sleep(d).await;
            }
        }
    }
}
