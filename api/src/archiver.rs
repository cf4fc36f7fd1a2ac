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
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use modelda_archive::{Archive, LeafKey, Place, Sources, Want};
use modelda_indexer::schema::{PubId, PublicationEntry};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::progress::{ArchiveProgress, PROGRESS_FILE};
use crate::state::Api;

/// Leaves read and written at the same time.
const CONCURRENCY: usize = 8;

/// Publications read from the index at a time.
const PAGE: usize = 32;

/// Copies the index's publications into an archive.
pub struct Archiver {
    api: Api,
    archive: Archive,
    progress_path: PathBuf,
    /// Whether kits held without a proof are done again.
    filling: std::sync::atomic::AtomicBool,
    /// Whether parity blobs are archived too (`--archive-parity`).
    parity: std::sync::atomic::AtomicBool,
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
        let spec = archive.spec().to_string();
        let progress = match &progress.archive {
            Some(a) if *a != spec => {
                tracing::info!(was = %a, now = %spec, "another archive: archiving every publication into it");
                ArchiveProgress {
                    archive: Some(spec),
                    ..ArchiveProgress::default()
                }
            }
            _ => ArchiveProgress {
                archive: Some(spec),
                ..progress
            },
        };
        *api.inner.archived.lock().unwrap_or_else(|p| p.into_inner()) = progress;
        api.inner.archiving.store(true, Ordering::Relaxed);
        Ok(Some(Arc::new(Archiver {
            api: api.clone(),
            archive,
            progress_path,
            filling: std::sync::atomic::AtomicBool::new(false),
            parity: std::sync::atomic::AtomicBool::new(false),
        })))
    }

    /// Has the archiver do again the kits it holds without a proof (when
    /// another node may give what the layer no longer does).
    pub fn fill_proofs(&self) {
        self.filling.store(true, Ordering::Relaxed);
    }

    /// Archives each publication's parity blobs too (`--archive-parity`):
    /// their shards stored once by content like leaves, each blob's kit
    /// with its proof. Without it, the archive holds the data only (a
    /// lost leaf is fetched again, not rebuilt from parity).
    pub fn archive_parity(&self) {
        self.parity.store(true, Ordering::Relaxed);
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
        // Registrations first (height 0: they sort before every height),
        // from their own cursor.
        loop {
            let after = self.cursors().1.map(|index| PubId { height: 0, index });
            let page = next_page(&self.api, after).await?;
            let mut more = !page.is_empty();
            for p in page {
                if p.id.height != 0 {
                    more = false;
                    break;
                }
                self.publication(&p).await?;
                done += 1;
            }
            if !more {
                break;
            }
        }
        loop {
            // Past every registration.
            let after = self.cursors().0.unwrap_or(PubId {
                height: 0,
                index: u32::MAX,
            });
            let page = next_page(&self.api, Some(after)).await?;
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
        let (tally, records) = self.archive_one(p).await?;
        let mut next = self.lock().clone();
        if p.id.height == 0 {
            next.registered = Some(p.id.index);
        } else {
            next.publication = Some(format!("{}.{}", p.id.height, p.id.index));
        }
        next.height = next.height.max(p.id.height);
        next.publications += 1;
        next.records_lost += u64::from(!records);
        next.leaves_lost += tally.lost;
        next.proofs_lost += tally.proofs_lost;
        tally.into_progress(&mut next);
        self.save(next)
    }

    /// Where the archiver is, from its progress: the last publication of a
    /// height archived, and the last registration (height 0). A progress
    /// file from before registrations had their own cursor holds theirs
    /// in `publication` while it is at height 0.
    fn cursors(&self) -> (Option<PubId>, Option<u32>) {
        let p = self.lock();
        let at = p.publication.as_deref().and_then(parse_pub);
        let registered = p
            .registered
            .or(at.filter(|a| a.height == 0).map(|a| a.index));
        (at.filter(|a| a.height > 0), registered)
    }

    /// Writes `next` as the progress, atomically, and shares it.
    fn save(&self, next: ArchiveProgress) -> Result<(), String> {
        write_atomic(&self.progress_path, &next)
            .map_err(|e| format!("{}: {e}", self.progress_path.display()))?;
        *self.lock() = next;
        Ok(())
    }

    /// Goes over every publication indexed up to the archiver's cursor
    /// again (those after it are the next round's), archiving what is
    /// missing: leaves the layer had pruned before their turn, which
    /// another node now gives (`modelda archive sync`), and records
    /// registered by hand after the cursor passed. What is held is
    /// skipped (a kit held means its blob is done). Calls `each` after
    /// each publication with it and what was found missing.
    pub async fn sweep(
        &self,
        mut each: impl FnMut(&PublicationEntry, &SweepTally),
    ) -> Result<SweepTally, String> {
        let upto = match self.cursors() {
            (Some(a), _) => a,
            (None, Some(index)) => PubId { height: 0, index },
            (None, None) => return Ok(SweepTally::default()),
        };
        let mut total = SweepTally::default();
        // What is still lost once every publication up to the cursor has
        // been gone over again.
        let (mut lost, mut proofs_lost, mut records_lost) = (0, 0, 0);
        let mut after = None;
        loop {
            let page = next_page(&self.api, after).await?;
            let mut passed = page.is_empty();
            for p in page {
                if p.id > upto && p.id.height != 0 {
                    passed = true;
                    break;
                }
                let (tally, records) = self.archive_one(&p).await?;
                lost += tally.lost;
                proofs_lost += tally.proofs_lost;
                records_lost += u64::from(!records);
                let t = SweepTally {
                    publications: 1,
                    leaves_written: tally.written,
                    kits_written: tally.kits,
                };
                each(&p, &t);
                total.publications += 1;
                total.leaves_written += t.leaves_written;
                total.kits_written += t.kits_written;
                let mut next = self.lock().clone();
                tally.into_progress(&mut next);
                self.save(next)?;
                after = Some(p.id);
            }
            if passed {
                let mut next = self.lock().clone();
                next.leaves_lost = lost;
                next.proofs_lost = proofs_lost;
                next.records_lost = records_lost;
                self.save(next)?;
                return Ok(total);
            }
        }
    }

    /// Archives publication `p`'s record and leaves; what it did, and
    /// whether its record is held.
    async fn archive_one(&self, p: &PublicationEntry) -> Result<(Tally, bool), String> {
        tracing::debug!("archiving the record");
        let records = self.record(p).await?;
        tracing::debug!(records, "archiving the leaves");
        let wants = self.wants(p).map_err(|e| e.message)?;
        // Leaves by the blob that holds them: each blob is read once, its
        // leaves and its kit written from it.
        let mut blobs: std::collections::BTreeMap<String, (modelda_da::Locator, Vec<Want>)> =
            Default::default();
        let mut loose = Vec::new();
        for w in wants {
            match w.places.first() {
                Some(pl) => blobs
                    .entry(pl.locator.to_string())
                    .or_insert_with(|| (pl.locator.clone(), Vec::new()))
                    .1
                    .push(w),
                None => loose.push(w),
            }
        }
        // The publication's other blobs: its stripes' parity.
        let mut parity = Vec::new();
        if self.parity.load(Ordering::Relaxed) {
            for b in self
                .api
                .index()
                .publication_blobs(p.id, p.blobs as usize)
                .map_err(|e| format!("reading the index: {e}"))?
            {
                if !blobs.contains_key(&b) && b != p.record {
                    if let Ok(loc) = b.parse::<modelda_da::Locator>() {
                        parity.push(loc);
                    }
                }
            }
        }
        let layer = self.api.layer_sources();
        let archive = &self.archive;
        let mut tally = Tally::default();
        let mut outcomes = futures::stream::iter(blobs.into_values())
            .map(|(loc, wants)| self.blob(loc, wants, false))
            .buffer_unordered(BLOBS);
        while let Some(t) = outcomes.next().await {
            tally.add(t?);
        }
        drop(outcomes);
        if self.parity.load(Ordering::Relaxed) {
            let mut outcomes = futures::stream::iter(parity)
                .map(|loc| self.blob(loc, Vec::new(), true))
                .buffer_unordered(BLOBS);
            while let Some(t) = outcomes.next().await {
                tally.add(t?);
            }
        }
        let mut outcomes = futures::stream::iter(loose)
            .map(|w| leaf(archive, &layer, w))
            .buffer_unordered(CONCURRENCY);
        while let Some(o) = outcomes.next().await {
            tally.leaf(o?);
        }
        tracing::debug!(
            written = tally.written,
            present = tally.present,
            lost = tally.lost,
            kits = tally.kits,
            proofs_lost = tally.proofs_lost,
            "archived"
        );
        Ok((tally, records))
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
        let keeping = modelda_archive::ArchivedLayer::new(
            layer.clone(),
            Some(self.archive.clone()),
            None,
            true,
        );
        match modelda_da::read::open_record(&keeping, &loc, Some(p.model_id), None).await {
            Ok(_) => {
                self.record_kit(&layer, &loc).await?;
                Ok(true)
            }
            Err(e) if e.is_pruned() => {
                tracing::warn!(record = %loc, "the layer pruned a record before it was archived");
                Ok(false)
            }
            Err(e) => Err(format!("archiving record {loc}: {e}")),
        }
    }

    /// Keeps the proof that the record's root page is in its block (a kit
    /// of the page, with no leaves): what lets another node adopt the
    /// publication from this one after the layer pruned it. Nothing when
    /// it is held, or when the layer no longer proves it.
    async fn record_kit(
        &self,
        layer: &Arc<dyn modelda_da::DaLayer>,
        loc: &modelda_da::Locator,
    ) -> Result<(), String> {
        let archive = &self.archive;
        let store_err =
            |e: modelda_archive::Error| format!("the archive at {}: {e}", archive.spec());
        if archive.has_kit(loc).await.map_err(store_err)? {
            return Ok(());
        }
        let blob = self
            .api
            .read_blob(layer, loc)
            .await
            .map_err(|e| format!("reading record {loc}: {e}"))?;
        let (mut kit, _) =
            modelda_archive::BlobKit::new(loc, &blob, Vec::new()).map_err(store_err)?;
        match self.blob_proof(layer, loc, &blob, &mut kit).await {
            Ok(()) => archive.put_kit(loc, &kit).await.map_err(store_err),
            Err(e) if e.is_pruned() || matches!(e, modelda_da::Error::BadProof { .. }) => {
                tracing::warn!(record = %loc, error = %e, "no proof of the record's page to keep");
                Ok(())
            }
            Err(e) => Err(format!("proving record {loc}: {e}")),
        }
    }

    /// Archives the leaves `wants` that blob `loc` holds, then its kit;
    /// nothing when its kit is held already (a kit is written after its
    /// leaves).
    async fn blob(
        &self,
        loc: modelda_da::Locator,
        wants: Vec<Want>,
        parity: bool,
    ) -> Result<Tally, String> {
        let key = loc.to_string();
        tokio::time::timeout(BLOB_TIMEOUT, self.blob_inner(loc, wants, parity))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "blob {key}: no answer from the archive at {} or the layer in {} s",
                    self.archive.spec(),
                    BLOB_TIMEOUT.as_secs()
                ))
            })
    }

    async fn blob_inner(
        &self,
        loc: modelda_da::Locator,
        wants: Vec<Want>,
        parity: bool,
    ) -> Result<Tally, String> {
        let archive = &self.archive;
        let store_err =
            |e: modelda_archive::Error| format!("the archive at {}: {e}", archive.spec());
        let mut tally = Tally::default();
        let held = if self.filling.load(Ordering::Relaxed) {
            // A kit kept without its proof (the layer, or a peer, failed
            // to prove the blob then) is done again: the proof may come
            // now.
            match archive.get_kit(&loc).await {
                Ok(Some(k)) => k.square.is_some() || k.proof.is_some(),
                Ok(None) => false,
                Err(e) if e.is_lie() => false,
                Err(e) => return Err(store_err(e)),
            }
        } else {
            archive.has_kit(&loc).await.map_err(store_err)?
        };
        if held {
            tally.present += wants.len() as u64;
            return Ok(tally);
        }
        let layer = self.api.layer_for(&loc).map_err(|e| e.message)?.clone();
        let blob = match self.api.read_blob(&layer, &loc).await {
            Ok(b) => b,
            Err(e) if e.is_pruned() && parity => {
                tracing::warn!(blob = %loc, "the layer pruned a parity blob before it was archived");
                return Ok(tally);
            }
            Err(e) if e.is_pruned() => {
                // Too late for this blob: its leaves may still be held.
                tracing::warn!(blob = %loc, "the layer pruned a blob before it was archived");
                let sources = self.api.layer_sources();
                for w in wants {
                    tally.leaf(leaf(archive, &sources, w).await?);
                }
                tally.proofs_lost += 1;
                return Ok(tally);
            }
            Err(e) => return Err(format!("reading blob {loc}: {e}")),
        };
        // The leaves at their places, each checked (once) as the kit is
        // made: one whose bytes are not there is lost, not stored.
        let mut placed = if parity {
            envelopes(&blob)
        } else {
            Vec::with_capacity(wants.len())
        };
        for w in &wants {
            let Some(place) = w.places.first() else {
                continue;
            };
            let at = place.offset as u64 + modelda_wire::envelope::HEADER_LEN as u64;
            if blob.len() as u64 >= at + w.key.len() {
                placed.push((at, w.key));
            } else {
                tracing::warn!(blob = %loc, leaf = %w.key, "the blob does not hold the leaf its record places there");
                tally.lost += 1;
            }
        }
        let (mut kit, refused) =
            modelda_archive::BlobKit::new(&loc, &blob, placed.clone()).map_err(store_err)?;
        for (_, key) in &refused {
            tracing::warn!(blob = %loc, leaf = %key, "the blob does not hold the leaf its record places there");
        }
        tally.lost += refused.len() as u64;
        let good: Vec<(u64, LeafKey)> = placed
            .into_iter()
            .filter(|p| !refused.contains(p))
            .collect();
        let mut puts = futures::stream::iter(good.iter().copied())
            .map(|(at, key)| {
                let blob = blob.clone();
                async move {
                    if archive.has_leaf(&key).await? {
                        return Ok::<_, modelda_archive::Error>(None);
                    }
                    let bytes = bytes::Bytes::copy_from_slice(
                        &blob[at as usize..(at + key.len()) as usize],
                    );
                    archive.put_leaf(&key, bytes).await?;
                    Ok(Some(key.len()))
                }
            })
            .buffer_unordered(CONCURRENCY);
        while let Some(r) = puts.next().await {
            match r.map_err(store_err)? {
                Some(n) => {
                    tally.written += 1;
                    tally.bytes += n;
                }
                None => tally.present += 1,
            }
        }
        drop(puts);
        match self.blob_proof(&layer, &loc, &blob, &mut kit).await {
            Ok(()) => {}
            Err(e) if e.is_pruned() => {
                tracing::warn!(blob = %loc, "the layer pruned a blob's proof before it was archived");
                tally.proofs_lost += 1;
            }
            // A proof that does not check will not check next time either:
            // the kit keeps the blob, without a proof, and archiving goes on.
            Err(e @ modelda_da::Error::BadProof { .. }) => {
                tracing::warn!(blob = %loc, error = %e, "the layer's proof of a blob does not check; its kit keeps no proof");
                tally.proofs_lost += 1;
            }
            Err(e) => return Err(format!("proving blob {loc}: {e}")),
        }
        archive.put_kit(&loc, &kit).await.map_err(store_err)?;
        tally.kits += 1;
        Ok(tally)
    }

    /// Adds to `kit` what proves `blob` in its block after the layer
    /// prunes it: on square layers, its shares' proof kept compact with
    /// the block's data root (also kept by height); on others, the
    /// layer's inclusion proof.
    async fn blob_proof(
        &self,
        layer: &Arc<dyn modelda_da::DaLayer>,
        loc: &modelda_da::Locator,
        blob: &Arc<Vec<u8>>,
        kit: &mut modelda_archive::BlobKit,
    ) -> Result<(), modelda_da::Error> {
        let Some((height, _, _)) = loc.square_parts().filter(|_| layer.proves_shares()) else {
            kit.proof = Some(layer.prove(loc).await?);
            return Ok(());
        };
        let shares = modelda_da::square::shares_for(blob.len()) as u32;
        let full = layer.prove_shares(loc, 0..shares).await?;
        let root = layer
            .data_root(height)
            .await?
            .ok_or_else(|| modelda_da::Error::Square {
                height,
                detail: "the header has no data root".into(),
            })?;
        let square = tokio::task::spawn_blocking(move || {
            modelda_da::square::kept::BlobSquareProof::keep(&full, shares, &root)
        })
        .await
        .map_err(|e| modelda_da::Error::BadProof {
            locator: loc.to_string(),
            reason: e.to_string(),
        })?
        .map_err(|reason| modelda_da::Error::BadProof {
            locator: loc.to_string(),
            reason,
        })?;
        kit.square = Some(square);
        kit.data_root = Some(hex::encode(root));
        self.archive
            .put_note(
                &modelda_archive::root_name(layer.kind(), height),
                hex::encode(root).into_bytes().into(),
            )
            .await
            .map_err(|e| modelda_da::Error::Io {
                path: modelda_archive::root_name(layer.kind(), height).into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        Ok(())
    }

    /// Every leaf of `p`'s model, with its place in `p`'s blobs.
    fn wants(&self, p: &PublicationEntry) -> Result<Vec<Want>, crate::error::ApiError> {
        wants(&self.api, p)
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

/// What an index references in an archive (`modelda archive gc` keeps it):
/// the names of its publications' leaves, and the locators of their blobs
/// and record root pages (whose kits it keeps, with the leaves they list).
#[derive(Default)]
pub struct Referenced {
    /// Leaf names (`leaves/...`).
    pub leaves: std::collections::HashSet<String>,
    /// Blob locators.
    pub blobs: std::collections::HashSet<String>,
}

/// What `api`'s index references (see [`Referenced`]).
pub async fn referenced(api: &Api) -> Result<Referenced, String> {
    let mut out = Referenced::default();
    let mut after = None;
    loop {
        let page = next_page(api, after).await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = Some(last.id);
        for p in &page {
            for w in wants(api, p).map_err(|e| e.message)? {
                out.leaves.insert(w.key.name());
            }
            out.blobs.insert(p.record.clone());
            out.blobs.extend(
                api.index()
                    .publication_blobs(p.id, p.blobs as usize)
                    .map_err(|e| format!("reading the index: {e}"))?,
            );
        }
    }
}

/// The index's next publications after `after`.
async fn next_page(api: &Api, after: Option<PubId>) -> Result<Vec<PublicationEntry>, String> {
    api.index()
        .next_publications(after, PAGE, false)
        .await
        .map_err(|e| format!("reading the index: {e}"))
}

/// Every leaf of `p`'s model, with its place in `p`'s blobs.
fn wants(api: &Api, p: &PublicationEntry) -> Result<Vec<Want>, crate::error::ApiError> {
    let index = api.index();
    let model = api.model(&p.model_id)?.ok_or_else(|| {
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

enum Leaf {
    Written(u64),
    Present,
    Lost,
}

/// What archiving some leaves and blobs did.
#[derive(Default)]
struct Tally {
    written: u64,
    bytes: u64,
    present: u64,
    lost: u64,
    kits: u64,
    proofs_lost: u64,
}

/// What [`Archiver::sweep`] found missing and archived.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SweepTally {
    /// Publications gone over.
    pub publications: u64,
    /// Leaves written.
    pub leaves_written: u64,
    /// Kits written.
    pub kits_written: u64,
}

impl Tally {
    /// Adds to the archiver's progress counters.
    fn into_progress(self, p: &mut ArchiveProgress) {
        p.leaves_written += self.written;
        p.bytes_written += self.bytes;
        p.leaves_present += self.present;
        p.kits_written += self.kits;
        p.last_error = None;
    }

    fn leaf(&mut self, l: Leaf) {
        match l {
            Leaf::Written(n) => {
                self.written += 1;
                self.bytes += n;
            }
            Leaf::Present => self.present += 1,
            Leaf::Lost => self.lost += 1,
        }
    }

    fn add(&mut self, t: Tally) {
        self.written += t.written;
        self.bytes += t.bytes;
        self.present += t.present;
        self.lost += t.lost;
        self.kits += t.kits;
        self.proofs_lost += t.proofs_lost;
    }
}

/// Blobs read and archived at the same time.
const BLOBS: usize = 4;

/// Longest one blob may take to read, check, write and prove.
const BLOB_TIMEOUT: Duration = Duration::from_secs(600);

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

/// Every envelope's payload in `blob` (a parity blob: the shards of its
/// stripes), at its offset, keyed by its BLAKE3 hash; what does not parse
/// as an envelope is left to the kit's other bytes.
fn envelopes(blob: &[u8]) -> Vec<(u64, LeafKey)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < blob.len() {
        let Ok((_, len)) = modelda_wire::Envelope::peek(&blob[at..]) else {
            break;
        };
        let start = at + modelda_wire::envelope::HEADER_LEN;
        let Some(payload) = blob.get(start..start + len) else {
            break;
        };
        if let Some(key) = LeafKey::whole(*blake3::hash(payload).as_bytes(), len as u64) {
            if len > 0 {
                out.push((start as u64, key));
            }
        }
        at = start + len;
    }
    out
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
