//! The node's archiver: every indexed publication's data leaves, copied
//! into the archive as the index grows, each checked against its signed
//! commitment and stored once by content.
//!
//! Its progress (the last publication archived) is a small JSON file
//! beside the index, written atomically after each publication, so a node
//! killed at any moment goes on from there; an object written before the
//! kill is found and not written again.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use modelda_archive::{Archive, LeafKey, Place, Sources, Want};
use modelda_indexer::schema::{PubId, PublicationEntry};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::state::Api;

/// Leaves read and written at the same time.
const CONCURRENCY: usize = 8;

/// Publications read from the index at a time.
const PAGE: usize = 32;

/// The progress file's name, beside the index.
pub const PROGRESS_FILE: &str = "archive-progress.json";

/// What the archiver has done, as `_meta`, `/metrics` and
/// `modelda archive status` show it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArchiveProgress {
    /// The last publication archived ("HEIGHT.INDEX"), if any.
    pub publication: Option<String>,
    /// The height of the last publication archived (0: none yet).
    pub height: u64,
    /// Publications archived.
    pub publications: u64,
    /// Leaves written by this archiver.
    pub leaves_written: u64,
    /// Their bytes.
    pub bytes_written: u64,
    /// Leaves already held when their turn came (shared with an earlier
    /// publication, or written by another node sharing the archive).
    pub leaves_present: u64,
    /// Leaves no source could give when their turn came: the layer had
    /// pruned them before they were archived. Another node's archive may
    /// still have them (`modelda archive sync`).
    pub leaves_lost: u64,
    /// Records (root and pages) the layer pruned before they were archived.
    #[serde(default)]
    pub records_lost: u64,
    /// The last error that stopped a round, if the last round failed
    /// (the archive unreachable, a full disk); cleared by a round that
    /// completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Copies the index's publications into an archive.
pub struct Archiver {
    api: Api,
    archive: Archive,
    progress_path: PathBuf,
    after: Mutex<Option<PubId>>,
}

fn parse_pub(s: &str) -> Option<PubId> {
    let (h, i) = s.split_once('.')?;
    Some(PubId {
        height: h.parse().ok()?,
        index: i.parse().ok()?,
    })
}

impl Archiver {
    /// An archiver of `api`'s index into its archive, its progress kept
    /// in `dir` (the index's directory). `None` when the API has no
    /// archive.
    pub fn new(api: &Api, dir: &Path) -> std::io::Result<Option<Arc<Archiver>>> {
        let Some(archive) = api.archive().cloned() else {
            return Ok(None);
        };
        let progress_path = dir.join(PROGRESS_FILE);
        let progress: ArchiveProgress = match std::fs::read(&progress_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: {e}; delete it to archive every publication again",
                        progress_path.display()
                    ),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ArchiveProgress::default(),
            Err(e) => return Err(e),
        };
        let after = progress.publication.as_deref().and_then(parse_pub);
        *api.inner.archived.lock().unwrap_or_else(|p| p.into_inner()) = progress;
        api.inner.archiving.store(true, Ordering::Relaxed);
        Ok(Some(Arc::new(Archiver {
            api: api.clone(),
            archive,
            progress_path,
            after: Mutex::new(after),
        })))
    }

    /// What it has done so far.
    pub fn progress(&self) -> ArchiveProgress {
        self.api
            .inner
            .archived
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rounds that stopped on an error.
    pub fn errors(&self) -> u64 {
        self.api.inner.archive_errors.load(Ordering::Relaxed)
    }

    /// The progress, shared with the API (`_meta`, `/metrics`); taking it
    /// to write makes cached answers stale.
    fn lock(&self) -> std::sync::MutexGuard<'_, ArchiveProgress> {
        self.api.inner.archive_moves.fetch_add(1, Ordering::Relaxed);
        self.api
            .inner
            .archived
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Archives every publication indexed now and not archived yet.
    /// Returns how many it archived. On an error (the archive unreachable,
    /// a full disk) it stops at the publication that failed; the next
    /// round starts there.
    pub async fn round(&self) -> Result<u64, String> {
        let r = self.round_inner().await;
        let mut p = self.lock();
        match &r {
            Ok(_) => p.last_error = None,
            Err(e) => {
                self.api
                    .inner
                    .archive_errors
                    .fetch_add(1, Ordering::Relaxed);
                p.last_error = Some(e.clone());
            }
        }
        r
    }

    async fn round_inner(&self) -> Result<u64, String> {
        let mut done = 0;
        loop {
            let after = *self.after.lock().unwrap_or_else(|p| p.into_inner());
            let page = self
                .api
                .index()
                .next_publications(after, PAGE, false)
                .await
                .map_err(|e| format!("reading the index: {e}"))?;
            if page.is_empty() {
                return Ok(done);
            }
            for p in page {
                self.publication(&p).await?;
                done += 1;
            }
        }
    }

    /// Archives the record of publication `p` (its root and pages, which
    /// hold the signed claims) and its leaves, then records it as done.
    #[tracing::instrument(name = "archive.publication", skip_all, fields(publication = %p.id))]
    async fn publication(&self, p: &PublicationEntry) -> Result<(), String> {
        tracing::debug!("archiving the record");
        let records = self.record(p).await?;
        tracing::debug!(records, "archiving the leaves");
        let wants = self.wants(p).map_err(|e| e.message)?;
        let layer = self.api.layer_sources();
        let archive = &self.archive;
        let mut outcomes = futures::stream::iter(wants)
            .map(|w| leaf(archive, &layer, w))
            .buffer_unordered(CONCURRENCY);
        let (mut written, mut bytes, mut present, mut lost) = (0u64, 0u64, 0u64, 0u64);
        while let Some(o) = outcomes.next().await {
            match o? {
                Leaf::Written(n) => {
                    written += 1;
                    bytes += n;
                }
                Leaf::Present => present += 1,
                Leaf::Lost => lost += 1,
            }
        }
        tracing::debug!(written, present, lost, "archived");
        let mut next = self.lock().clone();
        next.publication = Some(format!("{}.{}", p.id.height, p.id.index));
        next.height = next.height.max(p.id.height);
        next.publications += 1;
        next.leaves_written += written;
        next.bytes_written += bytes;
        next.leaves_present += present;
        next.leaves_lost += lost;
        next.records_lost += u64::from(!records);
        next.last_error = None;
        write_atomic(&self.progress_path, &next)
            .map_err(|e| format!("{}: {e}", self.progress_path.display()))?;
        *self.lock() = next;
        *self.after.lock().unwrap_or_else(|p| p.into_inner()) = Some(p.id);
        Ok(())
    }

    /// Keeps `p`'s record blobs: read (and checked, signatures and all)
    /// through a layer that keeps what it reads. `false` when the layer
    /// had pruned them and the archive does not hold them.
    async fn record(&self, p: &PublicationEntry) -> Result<bool, String> {
        let loc: modelda_da::Locator = p
            .record
            .parse()
            .map_err(|e| format!("publication {}: {e}", p.id))?;
        let layer = self.api.layer_for(&loc).map_err(|e| e.message)?.clone();
        let keeping =
            modelda_archive::ArchivedLayer::new(layer, Some(self.archive.clone()), None, true);
        match modelda_wire::record::open(&keeping, &loc, Some(p.model_id), None).await {
            Ok(_) => Ok(true),
            Err(modelda_wire::Error::Da(e)) if e.is_pruned() => {
                tracing::warn!(record = %loc, "the layer pruned a record before it was archived");
                Ok(false)
            }
            Err(e) => Err(format!("archiving record {loc}: {e}")),
        }
    }

    /// Every leaf of `p`'s model, with its place in `p`'s blobs.
    fn wants(&self, p: &PublicationEntry) -> Result<Vec<Want>, crate::error::ApiError> {
        let index = self.api.index();
        let model = self.api.model(&p.model_id)?.ok_or_else(|| {
            crate::error::ApiError::internal(format!("model {} is missing", p.model_id))
        })?;
        let mut wants = Vec::new();
        for (fi, f) in model.manifest.files.iter().enumerate() {
            let cvs = crate::proof::leaf_cvs(&model, f)?;
            for leaf in 0..f.leaf_size.leaf_count(f.size).max(1) {
                let c = match cvs.get(leaf as usize) {
                    Some(cv) => *cv.as_bytes(),
                    None => *f.root.as_bytes(),
                };
                let Some(key) = LeafKey::in_file(f, leaf, c) else {
                    continue;
                };
                let mut places = Vec::new();
                if let Some(pl) = index.chunk_place(&c, p.id, fi as u32, leaf)? {
                    if let Some(loc) = index.publication_blob(p.id, pl.blob)? {
                        if let Ok(locator) = loc.parse() {
                            places.push(Place {
                                locator,
                                offset: pl.offset,
                            });
                        }
                    }
                }
                wants.push(Want { key, places });
            }
        }
        Ok(wants)
    }

    /// Runs a round every `every` (and as soon as the index moves) until
    /// `stop`.
    pub fn spawn(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut moved = self.api.index().watch_checkpoint();
            loop {
                if let Err(e) = self.round().await {
                    tracing::warn!(error = %e, "archiving stopped; the next round starts again there");
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = moved.changed() => {}
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }
}

enum Leaf {
    Written(u64),
    Present,
    Lost,
}

/// Longest one leaf may take to check, read and write.
const LEAF_TIMEOUT: Duration = Duration::from_secs(300);

async fn leaf(archive: &Archive, layer: &Sources, want: Want) -> Result<Leaf, String> {
    let key = want.key;
    tokio::time::timeout(LEAF_TIMEOUT, leaf_inner(archive, layer, want))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "leaf {key}: no answer from the archive at {} or the layer in {} s",
                archive.spec(),
                LEAF_TIMEOUT.as_secs()
            ))
        })
}

async fn leaf_inner(archive: &Archive, layer: &Sources, want: Want) -> Result<Leaf, String> {
    if archive
        .has_leaf(&want.key)
        .await
        .map_err(|e| format!("the archive at {}: {e}", archive.spec()))?
    {
        return Ok(Leaf::Present);
    }
    match layer.get(&want).await {
        Ok(got) => {
            archive
                .put_leaf(&want.key, got.bytes.clone())
                .await
                .map_err(|e| format!("writing to the archive at {}: {e}", archive.spec()))?;
            Ok(Leaf::Written(got.bytes.len() as u64))
        }
        Err(e) if e.is_pruned() => {
            tracing::warn!(leaf = %want.key, "the layer pruned a leaf before it was archived");
            Ok(Leaf::Lost)
        }
        Err(e) => Err(format!("reading leaf {}: {e}", want.key)),
    }
}

fn write_atomic(path: &Path, p: &ArchiveProgress) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(p).map_err(std::io::Error::other)?;
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
