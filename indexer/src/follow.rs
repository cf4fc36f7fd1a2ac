//! Following a layer: catch up from the checkpoint, then go live, one height
//! at a time, until stopped.

use std::time::Duration;

use modelda_da::{DaLayer, Namespace};
use tokio_util::sync::CancellationToken;

use crate::ingest::{ingest_height, HeightReport};
use crate::store::Index;
use crate::{Error, Result};

/// How to follow.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// The record namespace.
    pub namespace: Namespace,
    /// First height of a new index (default 1). An index resumes from its
    /// checkpoint.
    pub from_height: u64,
    /// Stop after this height (default: follow forever).
    pub to_height: Option<u64>,
    /// First wait after a layer failure; doubles up to 30 s.
    pub retry: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            namespace: Namespace::RECORDS,
            from_height: 1,
            to_height: None,
            retry: Duration::from_millis(250),
        }
    }
}

/// What happened while following, for progress.
#[derive(Debug)]
pub enum Event<'a> {
    /// A height was written.
    Height(&'a HeightReport),
    /// The layer failed; the height is read again after `wait`.
    Retry {
        /// The height.
        height: u64,
        /// The failure.
        error: &'a Error,
        /// The wait before the next attempt.
        wait: Duration,
    },
    /// Caught up with the head; waiting for the next height.
    Live {
        /// The next height.
        next: u64,
    },
}

/// Why following stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The stop token was cancelled (SIGINT, SIGTERM).
    Cancelled,
    /// `to_height` was written.
    Reached,
}

/// Follows `layer`'s record namespace into `index` from its checkpoint
/// (or `opts.from_height`) until `stop` is cancelled or `opts.to_height`
/// is written. Every height is one write batch with the checkpoint, so a
/// process killed at any moment resumes where it stopped, and the index is
/// the same as if it had not stopped. Layer failures are retried (with
/// backoff), never written as rejections.
pub async fn follow(
    index: &Index,
    layer: &dyn DaLayer,
    opts: &FollowOptions,
    stop: &CancellationToken,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Stop> {
    let Some(f) = layer.as_follow() else {
        return Err(Error::Unsupported(format!(
            "{} has no heights or namespaces to follow; register its records with `modelda index register {}:CERT`",
            layer.kind(),
            layer.kind()
        )));
    };
    let mut height = match index.checkpoint() {
        Some(h) => h + 1,
        None => opts.from_height.max(1),
    };
    // A pruned node lists nothing for heights past its storage window: an
    // index started there would silently miss every record. Ask first.
    if let Err(e) = f.check_available(height).await {
        if e.is_pruned() {
            return Err(Error::Da(e));
        }
    }
    let mut wait = opts.retry;
    let mut live_said = false;
    // The head as last read: asked again only when the follower reaches it.
    let mut known_head = 0u64;
    loop {
        if opts.to_height.is_some_and(|t| height > t) {
            return Ok(Stop::Reached);
        }
        if stop.is_cancelled() {
            return Ok(Stop::Cancelled);
        }
        let attempt: Result<HeightReport> = async {
            if known_head < height {
                known_head = tokio::select! {
                    _ = stop.cancelled() => return Err(Error::Unsupported("stopped".into())),
                    h = layer.head() => h?,
                };
            }
            if known_head < height {
                // Live: wait for the height, unless stopped first.
                if !live_said {
                    on_event(Event::Live { next: height });
                    live_said = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => return Err(Error::Unsupported("stopped".into())),
                    r = f.wait_for_height(height) => r?,
                }
                known_head = height;
            }
            let blobs = f.list(opts.namespace, height).await?;
            ingest_height(index, layer, height, &blobs).await
        }
        .await;
        match attempt {
            Ok(report) => {
                on_event(Event::Height(&report));
                height += 1;
                wait = opts.retry;
                live_said = false;
            }
            Err(_) if stop.is_cancelled() => return Ok(Stop::Cancelled),
            Err(e @ Error::Da(_)) => {
                on_event(Event::Retry {
                    height,
                    error: &e,
                    wait,
                });
                tokio::select! {
                    _ = stop.cancelled() => return Ok(Stop::Cancelled),
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}
