//! One way to get a leaf's bytes: a chain of untrusted sources, each tried
//! in order, every answer checked against the leaf's commitment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use modelda_da::Locator;

use crate::{Error, LeafKey, Result};

/// Where a DA layer holds a leaf: the envelope at `offset` of the blob at
/// `locator`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The blob.
    pub locator: Locator,
    /// Byte offset of the leaf's envelope in the blob.
    pub offset: u32,
}

/// A leaf asked for: what its bytes must hash to, and where a DA layer
/// holds it (sources that do not read the layer ignore the places).
#[derive(Clone, Debug)]
pub struct Want {
    /// The leaf.
    pub key: LeafKey,
    /// Its places on DA layers, best first.
    pub places: Vec<Place>,
}

impl Want {
    /// `key`, held nowhere known on a layer.
    pub fn key(key: LeafKey) -> Want {
        Want {
            key,
            places: Vec::new(),
        }
    }
}

/// Something that may hold leaves. Nothing it returns is trusted: the
/// [`Sources`] chain checks every byte before anyone uses it.
#[async_trait]
pub trait ChunkSource: Send + Sync {
    /// A short name for logs and metrics (`cache`, `archive`, `layer`,
    /// `peer`).
    fn name(&self) -> &'static str;

    /// The bytes this source holds for `want`, unchecked, at most
    /// `want.key.len() + 1` of them (a longer answer is a lie, and is cut
    /// there so that no size from outside is allocated); `None` when it
    /// holds nothing for it.
    async fn read(&self, want: &Want) -> Result<Option<Bytes>>;

    /// Keeps `bytes`, checked to be `key`, for later reads. Sources that
    /// keep nothing (a layer, a peer) ignore it.
    async fn keep(&self, _key: &LeafKey, _bytes: &Bytes) -> Result<()> {
        Ok(())
    }
}

/// What happened when a source was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It gave bytes that check.
    Hit,
    /// It holds nothing for the leaf.
    Miss,
    /// It gave bytes that do not check: skipped, never used.
    Lie,
    /// It failed (unreachable, I/O error, pruned).
    Error,
}

impl Outcome {
    /// Every outcome, in the order [`SourceStats`] counts them.
    pub const ALL: [Outcome; 4] = [Outcome::Hit, Outcome::Miss, Outcome::Lie, Outcome::Error];

    /// Its name in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Lie => "lie",
            Outcome::Error => "error",
        }
    }
}

/// Counts of each source's outcomes.
#[derive(Debug, Default)]
pub struct SourceStats {
    counts: [AtomicU64; 4],
}

impl SourceStats {
    fn add(&self, o: Outcome) {
        self.counts[o as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How often the source had `outcome`.
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.counts[outcome as usize].load(Ordering::Relaxed)
    }
}

/// Checked bytes of a leaf, and the source that gave them.
#[derive(Clone, Debug)]
pub struct Got {
    /// The bytes: they hash to the leaf's commitment.
    pub bytes: Bytes,
    /// The name of the source that gave them.
    pub from: &'static str,
}

/// Sources tried in order (cache, archive, layer, peer). Cheap to clone.
#[derive(Clone, Default)]
pub struct Sources {
    list: Vec<(Arc<dyn ChunkSource>, Arc<SourceStats>)>,
}

impl Sources {
    /// No sources yet.
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Tries `source` after the ones already there.
    pub fn then(mut self, source: Arc<dyn ChunkSource>) -> Sources {
        self.list.push((source, Arc::default()));
        self
    }

    /// Whether there is no source.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Each source's name and counts, in order.
    pub fn stats(&self) -> impl Iterator<Item = (&'static str, &SourceStats)> {
        self.list.iter().map(|(s, st)| (s.name(), st.as_ref()))
    }

    /// Has every source that keeps leaves keep `bytes`, after checking that
    /// they are `key` (bytes rebuilt from parity, say).
    pub async fn keep(&self, key: &LeafKey, bytes: &Bytes) -> Result<()> {
        if !key.check(bytes) {
            return Err(Error::Corrupt {
                name: key.to_string(),
                reason: "refused to keep bytes that do not match the commitment".into(),
            });
        }
        for (s, _) in &self.list {
            s.keep(key, bytes).await?;
        }
        Ok(())
    }

    /// The bytes of `want`, from the first source whose answer checks.
    /// Sources before it that keep leaves (a cache, an archive) keep them.
    /// A source that answers wrong bytes is skipped and counted as lying.
    pub async fn get(&self, want: &Want) -> Result<Got> {
        let mut failures = Vec::new();
        let mut pruned = false;
        let mut outcomes = Vec::with_capacity(self.list.len());
        for (i, (source, stats)) in self.list.iter().enumerate() {
            let outcome = match source.read(want).await {
                Ok(Some(bytes)) if want.key.check(&bytes) => {
                    stats.add(Outcome::Hit);
                    for (earlier, _) in &self.list[..i] {
                        if let Err(e) = earlier.keep(&want.key, &bytes).await {
                            tracing::warn!(leaf = %want.key, source = earlier.name(), error = %e, "could not keep a leaf");
                        }
                    }
                    return Ok(Got {
                        bytes,
                        from: source.name(),
                    });
                }
                Ok(Some(bytes)) => {
                    tracing::warn!(leaf = %want.key, source = source.name(), len = bytes.len(), "a source gave bytes that do not match the commitment; skipped");
                    failures.push(format!("{}: wrong bytes", source.name()));
                    Outcome::Lie
                }
                Ok(None) => Outcome::Miss,
                Err(e) if e.is_lie() => {
                    tracing::warn!(leaf = %want.key, source = source.name(), error = %e, "a source holds wrong bytes; skipped");
                    failures.push(format!("{}: {e}", source.name()));
                    Outcome::Lie
                }
                Err(e) => {
                    tracing::debug!(leaf = %want.key, source = source.name(), error = %e, "a source failed");
                    pruned |= e.is_pruned();
                    failures.push(format!("{}: {e}", source.name()));
                    Outcome::Error
                }
            };
            stats.add(outcome);
            outcomes.push(outcome);
        }
        Err(Error::Unavailable {
            leaf: want.key.to_string(),
            tried: self.list.iter().map(|(s, _)| s.name()).collect(),
            failures,
            pruned,
            lies: self
                .list
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| **o == Outcome::Lie)
                .count(),
        })
    }
}
