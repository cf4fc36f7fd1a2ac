//! What every request shares: the index, the layer, limits, caches and
//! metrics.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelda_archive::{Archive, BlobReader, LayerSource, MemorySource, Sources};
use modelda_da::square::parts;
use modelda_da::{DaLayer, InclusionProof, Locator, Namespace};
use modelda_indexer::query::Trust;
use modelda_indexer::schema::{ModelEntry, PubId};
use modelda_indexer::Index;
use modelda_manifest::ModelId;
use modelda_wire::inclusion::InclusionDocument;
use tokio_util::sync::CancellationToken;

use crate::cost::Cost;
use crate::error::{ApiError, Code};
use crate::metrics::Metrics;

/// Most proofs hashing at once (the machine's cores are the bound that
/// matters; more would only queue inside the pool).
pub(crate) const PROVERS: usize = 2;

/// Limits on what one request may ask, each refused with its own code.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deepest selection nesting. Default: 16 (`QUERY_TOO_DEEP`).
    pub max_depth: usize,
    /// Highest complexity (one per field, list fields times their page
    /// size). Default: 20,000 (`QUERY_TOO_COMPLEX`).
    pub max_complexity: usize,
    /// Most aliased fields in one document. Default: 32 (`TOO_MANY_ALIASES`).
    pub max_aliases: usize,
    /// Largest `first` of a connection. Default: 100 (`PAGE_TOO_LARGE`).
    pub max_page: usize,
    /// Largest request body. Default: 64 KiB (`BODY_TOO_LARGE`).
    pub max_body_bytes: usize,
    /// Longest a request may run. Default: 10 s (`TIMEOUT`).
    pub timeout: Duration,
    /// Longest a request asking for an inclusion proof may run: a proof
    /// reads and hashes blob data, which on a slow or busy machine takes
    /// longer than a query. A proof still being built when its request
    /// times out goes on being built, and the same request asked again
    /// gets it. Default: 120 s (`TIMEOUT`).
    pub proof_timeout: Duration,
    /// Bytes of blobs kept in memory for chunks and proofs. Default: 256 MiB.
    pub blob_cache_bytes: usize,
    /// Bytes of query answers kept in memory, each valid while the index
    /// and the layer's head are unchanged. Default: 64 MiB (0: off).
    pub response_cache_bytes: usize,
    /// Bytes of checked leaves kept in memory for `/chunks`. Default:
    /// 64 MiB.
    pub leaf_cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 16,
            max_complexity: 20_000,
            max_aliases: 32,
            max_page: 100,
            max_body_bytes: 64 << 10,
            timeout: Duration::from_secs(10),
            proof_timeout: Duration::from_secs(120),
            blob_cache_bytes: 256 << 20,
            response_cache_bytes: 64 << 20,
            leaf_cache_bytes: 64 << 20,
        }
    }
}

/// The API's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub index: Arc<Index>,
    /// Where leaves come from: the cache, the archive (when there is
    /// one), the layer; every answer checked.
    pub sources: Sources,
    /// The archive, when the server keeps or reads one.
    pub archive: Option<Archive>,
    /// The layer alone, as a chunk source (what the archiver copies from).
    pub layer_source: Arc<dyn modelda_archive::ChunkSource>,
    /// The archiver's progress (default when there is none).
    pub archived: Mutex<crate::progress::ArchiveProgress>,
    /// Archiving rounds that stopped on an error.
    pub archive_errors: AtomicU64,
    /// Changes of the archiver's progress (cached answers with `_meta`
    /// go stale on each).
    pub archive_moves: AtomicU64,
    /// Whether an archiver writes to the archive (a node), or the archive
    /// is only read (`modelda serve`).
    pub archiving: std::sync::atomic::AtomicBool,
    pub layer: Option<Arc<dyn DaLayer>>,
    /// Further layers, for records registered from them (EigenDA).
    pub extra: Vec<Arc<dyn DaLayer>>,
    /// Keys believed about every model (advisories).
    pub trust: Trust,
    /// Batched index reads of the data loaders.
    pub loader_batches: Arc<AtomicU64>,
    pub limits: Limits,
    pub metrics: Metrics,
    /// The layer's head, as last read (0: not known).
    pub head: AtomicU64,
    pub blobs: Mutex<BlobCache>,
    pub proofs: Mutex<HashMap<String, Arc<DaProof>>>,
    /// Query answers by the hash of the request body.
    pub answers: Mutex<AnswerCache>,
    /// Decoded models: an entry is written once and never changes.
    pub models: Mutex<HashMap<ModelId, Arc<ModelEntry>>>,
    pub costs: Mutex<HashMap<PubId, Arc<Cost>>>,
    /// Proofs hashing now (see [`PROVERS`]).
    pub provers: tokio::sync::Semaphore,
    /// Blob layouts for share proofs, by locator, each computed once
    /// however many ask at the same time.
    pub layouts: Mutex<HashMap<String, Flight<Arc<BlobLayout>>>>,
    /// Blobs being read from the layer, by locator: one read however many
    /// ask at the same time.
    pub reading: Mutex<HashMap<String, Flight<Arc<Vec<u8>>>>>,
    /// Data roots by layer and height.
    pub roots: Mutex<HashMap<(String, u64), [u8; 32]>>,
    /// Inclusion documents being built, by what was asked.
    pub documents: Mutex<HashMap<String, DocumentCell>>,
}

/// An inclusion document being built or built: a request that times out
/// leaves the work going, and the next request for it picks it up.
pub(crate) type DocumentCell = Flight<Arc<Document>>;

/// An inclusion document and its JSON text, written once: answers carry
/// the text as it is (async-graphql's raw values), not re-encoded.
pub(crate) struct Document {
    pub doc: InclusionDocument,
    pub json: Box<serde_json::value::RawValue>,
}

/// A value computed once by whichever of its askers comes first; the
/// others wait for it (and take over if that one gives up).
pub(crate) type Flight<T> = Arc<tokio::sync::OnceCell<T>>;

/// Drops the flight `cell` from `flights` once it has landed, unless a
/// newer flight took its key.
pub(crate) fn land<T>(flights: &mut HashMap<String, Flight<T>>, key: &str, cell: &Flight<T>) {
    if flights.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
        flights.remove(key);
    }
}

/// A whole blob's DA proof (layers that prove only whole blobs), cached by
/// locator, with the blob's base64 once a proof has carried it.
pub(crate) struct DaProof {
    pub proof: InclusionProof,
    pub data_b64: std::sync::OnceLock<Arc<String>>,
}

impl Api {
    /// An API over `index`, reading blobs from `layer` (chunks and proofs
    /// need it; without one they answer `LAYER_UNAVAILABLE`).
    pub fn new(index: Arc<Index>, layer: Option<Arc<dyn DaLayer>>, limits: Limits) -> Api {
        Api::build(
            index,
            layer,
            Vec::new(),
            None,
            None,
            Trust::default(),
            limits,
        )
    }

    fn build(
        index: Arc<Index>,
        layer: Option<Arc<dyn DaLayer>>,
        extra: Vec<Arc<dyn DaLayer>>,
        archive: Option<Archive>,
        peer: Option<Arc<modelda_archive::PeerSource>>,
        trust: Trust,
        limits: Limits,
    ) -> Api {
        // With an archive, blobs the layer no longer gives (record pages
        // past its storage window) are read from the archive, then from
        // the peer (`archive sync`), every byte checked.
        let layer = match (&archive, layer) {
            (Some(a), Some(l)) => Some(Arc::new(modelda_archive::ArchivedLayer::new(
                l,
                Some(a.clone()),
                peer,
                false,
            )) as Arc<dyn DaLayer>),
            (_, l) => l,
        };
        Api {
            inner: Arc::new_cyclic(|me| {
                let layer_source: Arc<dyn modelda_archive::ChunkSource> =
                    Arc::new(LayerSource::new(ApiBlobs(me.clone())));
                let mut sources =
                    Sources::new().then(Arc::new(MemorySource::new(limits.leaf_cache_bytes)));
                if let Some(a) = &archive {
                    sources = sources.then(Arc::new(a.clone()));
                }
                Inner {
                    index,
                    sources: sources.then(layer_source.clone()),
                    layer_source,
                    archived: Mutex::default(),
                    archive_errors: AtomicU64::new(0),
                    archive_moves: AtomicU64::new(0),
                    archiving: std::sync::atomic::AtomicBool::new(false),
                    archive,
                    layer,
                    extra,
                    trust,
                    loader_batches: Arc::new(AtomicU64::new(0)),
                    blobs: Mutex::new(BlobCache::new(limits.blob_cache_bytes)),
                    limits,
                    metrics: Metrics::default(),
                    head: AtomicU64::new(0),
                    proofs: Mutex::new(HashMap::new()),
                    models: Mutex::new(HashMap::new()),
                    costs: Mutex::new(HashMap::new()),
                    answers: Mutex::new(AnswerCache::default()),
                    provers: tokio::sync::Semaphore::new(PROVERS),
                    layouts: Mutex::new(HashMap::new()),
                    reading: Mutex::new(HashMap::new()),
                    roots: Mutex::new(HashMap::new()),
                    documents: Mutex::new(HashMap::new()),
                }
            }),
        }
    }

    /// Also reads `layer` (an EigenDA proxy, to register and prove records
    /// that are there). Call before the API is shared.
    pub fn with_layer(self, layer: Arc<dyn DaLayer>) -> Api {
        let i = &self.inner;
        let mut extra = i.extra.clone();
        extra.push(layer);
        Api::build(
            i.index.clone(),
            i.layer.clone(),
            extra,
            i.archive.clone(),
            None,
            i.trust.clone(),
            i.limits.clone(),
        )
    }

    /// Believes advisories signed by the keys of `trust` about any model,
    /// besides each model's publisher (`modelda node
    /// --trust-advisories-from`). Call before the API is shared.
    pub fn with_advisory_trust(self, trust: Trust) -> Api {
        let i = &self.inner;
        Api::build(
            i.index.clone(),
            i.layer.clone(),
            i.extra.clone(),
            i.archive.clone(),
            None,
            trust,
            i.limits.clone(),
        )
    }

    /// The keys this node believes advisories from, besides each model's
    /// publisher.
    pub fn advisory_trust(&self) -> &Trust {
        &self.inner.trust
    }

    /// Also reads leaves from `archive`, after the cache and before the
    /// layer (and keeps there what the layer gives). Call before the API is
    /// shared.
    pub fn with_archive(self, archive: Archive) -> Api {
        self.with_archive_and_peer(archive, None)
    }

    /// [`Api::with_archive`], and blobs and proofs the layer and the
    /// archive do not give read from another node (`archive sync`), each
    /// checked against this node's commitments and headers.
    pub fn with_archive_and_peer(
        self,
        archive: Archive,
        peer: Option<Arc<modelda_archive::PeerSource>>,
    ) -> Api {
        let i = &self.inner;
        Api::build(
            i.index.clone(),
            i.layer.clone(),
            i.extra.clone(),
            Some(archive),
            peer,
            i.trust.clone(),
            i.limits.clone(),
        )
    }

    /// The archive, when there is one.
    pub fn archive(&self) -> Option<&Archive> {
        self.inner.archive.as_ref()
    }

    /// The layer alone as a chain of chunk sources (reads through the
    /// API's blob cache).
    pub(crate) fn layer_sources(&self) -> Sources {
        Sources::new().then(self.inner.layer_source.clone())
    }

    /// The archiver's progress, when the server keeps an archive.
    pub fn archive_progress(&self) -> Option<crate::progress::ArchiveProgress> {
        if !self.inner.archiving.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            self.inner
                .archived
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }

    /// Batched index reads the data loaders made so far.
    pub fn loader_batches(&self) -> u64 {
        self.inner.loader_batches.load(Ordering::Relaxed)
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Records the layer's head (the follower knows it as it goes).
    pub fn set_head(&self, head: u64) {
        self.inner.head.fetch_max(head, Ordering::Relaxed);
    }

    /// The layer's head as last read, when known.
    pub fn head(&self) -> Option<u64> {
        match self.inner.head.load(Ordering::Relaxed) {
            0 => None,
            h => Some(h),
        }
    }

    /// Reads the layer's head every `every` until `stop`, for `_meta` and
    /// `/metrics`; a reader's index also catches up with its writer.
    pub fn spawn_watch(&self, every: Duration, stop: CancellationToken) {
        self.spawn_prepare(every, stop.clone());
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                if let Some(l) = &api.inner.layer {
                    if l.as_follow().is_some() {
                        if let Ok(h) = l.head().await {
                            api.set_head(h);
                        }
                    }
                }
                if let Err(e) = api.inner.index.catch_up() {
                    tracing::warn!(error = %e, "the index reader could not catch up");
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    /// Gets the layer ready to prove each new height, one height at a time
    /// in the background (on the embedded chain: its square, built once),
    /// so that a proof asked later does not pay for it.
    fn spawn_prepare(&self, every: Duration, stop: CancellationToken) {
        let api = self.clone();
        tokio::spawn(async move {
            let Some(layer) = api.inner.layer.clone() else {
                return;
            };
            let mut ready = 0u64;
            loop {
                let head = api.head().unwrap_or(0);
                while ready < head && !stop.is_cancelled() {
                    if let Err(e) = layer.prepare_proofs(ready + 1).await {
                        tracing::warn!(height = ready + 1, error = %e, "preparing proofs failed");
                        break;
                    }
                    ready += 1;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    /// Most decoded models kept in memory.
    const MODEL_CACHE: usize = 4096;

    /// The model `id`, decoded once (entries never change once written).
    pub(crate) fn model(&self, id: &ModelId) -> Result<Option<Arc<ModelEntry>>, ApiError> {
        if let Some(m) = self.lock_models().get(id) {
            return Ok(Some(m.clone()));
        }
        let Some(m) = self.index().model(id)? else {
            return Ok(None);
        };
        let m = Arc::new(m);
        self.remember_models([m.clone()]);
        Ok(Some(m))
    }

    /// The models among `ids` already decoded, and the ids still to read.
    pub(crate) fn cached_models(
        &self,
        ids: &[ModelId],
    ) -> (HashMap<ModelId, Arc<ModelEntry>>, Vec<ModelId>) {
        let cache = self.lock_models();
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for id in ids {
            match cache.get(id) {
                Some(m) => {
                    found.insert(*id, m.clone());
                }
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    pub(crate) fn remember_models(&self, models: impl IntoIterator<Item = Arc<ModelEntry>>) {
        let mut cache = self.lock_models();
        for m in models {
            if cache.len() >= Self::MODEL_CACHE {
                cache.clear();
            }
            cache.insert(m.model_id, m);
        }
    }

    /// Most publication costs kept.
    const COST_CACHE: usize = 4096;

    fn cached_cost(&self, id: PubId) -> Option<Arc<Cost>> {
        self.lock_costs().get(&id).cloned()
    }

    fn remember_cost(&self, id: PubId, cost: Arc<Cost>) {
        let mut cache = self.lock_costs();
        if cache.len() >= Self::COST_CACHE {
            cache.clear();
        }
        cache.insert(id, cost);
    }

    fn lock_costs(&self) -> std::sync::MutexGuard<'_, HashMap<PubId, Arc<Cost>>> {
        self.inner.costs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_models(&self) -> std::sync::MutexGuard<'_, HashMap<ModelId, Arc<ModelEntry>>> {
        self.inner.models.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The layer that holds `locator`.
    pub(crate) fn layer_for(&self, locator: &Locator) -> Result<&Arc<dyn DaLayer>, ApiError> {
        let kind = locator.kind();
        self.inner
            .layer
            .iter()
            .chain(&self.inner.extra)
            .find(|l| l.kind() == kind)
            .ok_or_else(|| {
                ApiError::new(
                    Code::LayerUnavailable,
                    format!(
                        "this server reads no {kind} layer; start it with that layer configured"
                    ),
                )
            })
    }

    /// The blob at `locator`, from the cache or the layer.
    pub(crate) async fn blob(&self, locator: &Locator) -> Result<Arc<Vec<u8>>, ApiError> {
        let layer = self.layer_for(locator)?.clone();
        self.read_blob(&layer, locator).await.map_err(|e| {
            tracing::warn!(%locator, error = %e, "blob read failed");
            if e.is_pruned() {
                pruned(&format!("blob {locator}"), self.archive().is_some())
            } else {
                ApiError::new(
                    Code::LayerUnavailable,
                    format!("the DA layer did not return blob {locator}; try again"),
                )
            }
        })
    }

    /// The blob at `locator` on `layer`, from the cache or the layer, read
    /// once however many ask at the same time.
    pub(crate) async fn read_blob(
        &self,
        layer: &Arc<dyn DaLayer>,
        locator: &Locator,
    ) -> modelda_da::Result<Arc<Vec<u8>>> {
        let key = locator.to_string();
        if let Some(b) = self.lock_blobs().get(&key) {
            return Ok(b);
        }
        let cell = self.lock_reading().entry(key.clone()).or_default().clone();
        let r = cell
            .get_or_try_init(|| async {
                let bytes = Arc::new(layer.get(locator).await?);
                self.lock_blobs().insert(key.clone(), bytes.clone());
                Ok(bytes)
            })
            .await
            .cloned();
        // Read (or failed): the cache has it; the next miss reads afresh.
        land(&mut self.lock_reading(), &key, &cell);
        r
    }

    /// The cost of publication `p`, worked out once and kept.
    pub(crate) async fn cost(
        &self,
        p: &modelda_indexer::schema::PublicationEntry,
    ) -> Result<Arc<Cost>, ApiError> {
        if let Some(c) = self.cached_cost(p.id) {
            return Ok(c);
        }
        let loc: Locator = p.record.parse().map_err(ApiError::internal)?;
        let layer = self.layer_for(&loc)?.clone();
        let root = self.blob(&loc).await?;
        let c =
            Arc::new(crate::cost::work_out(self.index(), layer.as_ref(), &loc, &root, p).await?);
        self.remember_cost(p.id, c.clone());
        Ok(c)
    }

    /// The DA proof of the blob at `locator`, with the data root the server
    /// saw, from the cache or the layer.
    pub(crate) async fn da_proof(&self, locator: &Locator) -> Result<Arc<DaProof>, ApiError> {
        let key = locator.to_string();
        if let Some(p) = self.lock_proofs().get(&key) {
            return Ok(p.clone());
        }
        let layer = self.layer_for(locator)?;
        let unavailable = |e: modelda_da::Error| {
            tracing::warn!(%locator, error = %e, "proof failed");
            if e.is_pruned() {
                return pruned(
                    &format!("the proof of blob {locator}"),
                    self.archive().is_some(),
                );
            }
            ApiError::new(
                Code::LayerUnavailable,
                format!("the DA layer did not prove blob {locator}; try again"),
            )
        };
        let proof = layer.prove(locator).await.map_err(unavailable)?;
        let p = Arc::new(DaProof {
            proof,
            data_b64: std::sync::OnceLock::new(),
        });
        let mut cache = self.lock_proofs();
        if cache.len() >= 4096 {
            cache.clear();
        }
        cache.insert(key, p.clone());
        Ok(p)
    }

    fn lock_blobs(&self) -> std::sync::MutexGuard<'_, BlobCache> {
        self.inner.blobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_proofs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<DaProof>>> {
        self.inner.proofs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The error of data the layer has pruned: it names the pruning, and what
/// the operator can do about it.
pub(crate) fn pruned(what: &str, has_archive: bool) -> ApiError {
    ApiError::new(
        Code::Pruned,
        if has_archive {
            format!(
                "the DA layer has pruned {what} (it is past the layer's storage window) and this \
                 node's archive does not hold it; fill the archive from a node that does \
                 (`modelda archive sync --from URL`)"
            )
        } else {
            format!(
                "the DA layer has pruned {what} (it is past the layer's storage window) and this \
                 node keeps no archive; start the node with --archive DIR or --archive \
                 s3://BUCKET/PREFIX to keep weights past the window, or ask a node that has one"
            )
        },
    )
}

/// The API's blob reads as a chunk source's reader: the layer source
/// reads blobs through the API's cache (a weak reference: the sources live
/// in the API's state).
struct ApiBlobs(std::sync::Weak<Inner>);

#[async_trait::async_trait]
impl BlobReader for ApiBlobs {
    async fn blob(&self, locator: &Locator) -> modelda_da::Result<Arc<Vec<u8>>> {
        let inner = self.0.upgrade().ok_or_else(|| modelda_da::Error::Locator {
            locator: locator.to_string(),
            reason: "the server is stopping".into(),
        })?;
        let api = Api { inner };
        let layer = api
            .layer_for(locator)
            .map_err(|e| modelda_da::Error::Locator {
                locator: locator.to_string(),
                reason: e.message,
            })?
            .clone();
        api.read_blob(&layer, locator).await
    }
}

/// What proving parts of a blob needs that only its bytes give: its share
/// count and the subtree roots of its share commitment.
pub(crate) struct BlobLayout {
    pub height: u64,
    pub namespace: Namespace,
    pub blob_shares: u32,
    /// Base64, as a document carries them.
    pub roots: Arc<String>,
}

impl Api {
    /// Runs a read of many index entries (a feed) on the blocking pool,
    /// off the async executor.
    pub(crate) async fn reading_index<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs hashing work on the blocking pool, at most
    /// [`PROVERS`] at a time, off the async executor.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .inner
            .provers
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(ApiError::internal)?
    }

    /// The layout of the blob at `locator` when its layer proves parts of
    /// blobs (square layers), from the cache or its bytes.
    pub(crate) async fn blob_layout(
        &self,
        locator: &Locator,
    ) -> Result<Option<Arc<BlobLayout>>, ApiError> {
        let layer = self.layer_for(locator)?;
        let Some((height, namespace, _)) = locator.square_parts() else {
            return Ok(None);
        };
        if !layer.proves_shares() {
            return Ok(None);
        }
        let key = locator.to_string();
        let cell = {
            let mut cache = self.lock_layouts();
            if cache.len() >= 4096 && !cache.contains_key(&key) {
                cache.clear();
            }
            cache.entry(key).or_default().clone()
        };
        let layout = cell
            .get_or_try_init(|| async {
                let data = self.blob(locator).await?;
                let blob_shares = modelda_da::square::shares_for(data.len()) as u32;
                let kept = layer.subtree_roots(locator).await.map_err(|e| {
                    tracing::warn!(%locator, error = %e, "subtree roots failed");
                    if e.is_pruned() {
                        return pruned(&format!("blob {locator}"), self.archive().is_some());
                    }
                    ApiError::new(
                        Code::LayerUnavailable,
                        format!(
                            "the DA layer did not give the layout of blob {locator}; try again"
                        ),
                    )
                })?;
                let roots = match kept {
                    Some(r) => r,
                    None => Arc::new(
                        self.hashing(move || Ok(parts::subtree_roots(namespace, &data)))
                            .await?,
                    ),
                };
                Ok::<_, ApiError>(Arc::new(BlobLayout {
                    height,
                    namespace,
                    blob_shares,
                    roots,
                }))
            })
            .await?;
        Ok(Some(layout.clone()))
    }

    /// Shares `shares` of the blob at `locator`, proven up to the data root.
    pub(crate) async fn share_proof(
        &self,
        locator: &Locator,
        shares: std::ops::Range<u32>,
    ) -> Result<parts::ShareProof, ApiError> {
        self.layer_for(locator)?
            .prove_shares(locator, shares)
            .await
            .map_err(|e| {
                tracing::warn!(%locator, error = %e, "share proof failed");
                if e.is_pruned() {
                    return pruned(
                        &format!("the shares of blob {locator}"),
                        self.archive().is_some(),
                    );
                }
                ApiError::new(
                    Code::LayerUnavailable,
                    format!("the DA layer did not prove shares of blob {locator}; try again"),
                )
            })
    }

    /// The data root of the block holding `locator` (square layers), as
    /// this server's layer gives it.
    pub(crate) async fn data_root(&self, locator: &Locator) -> Result<Option<[u8; 32]>, ApiError> {
        let Some((h, _, _)) = locator.square_parts() else {
            return Ok(None);
        };
        let key = (locator.kind().to_string(), h);
        if let Some(r) = self.lock_roots().get(&key) {
            return Ok(Some(*r));
        }
        let root = self.layer_for(locator)?.data_root(h).await.map_err(|e| {
            tracing::warn!(%locator, error = %e, "header read failed");
            if e.is_pruned() {
                return pruned(
                    &format!("the header at height {h}"),
                    self.archive().is_some(),
                );
            }
            ApiError::new(
                Code::LayerUnavailable,
                format!("the DA layer did not give the header at height {h}; try again"),
            )
        })?;
        if let Some(r) = root {
            let mut cache = self.lock_roots();
            if cache.len() >= 65_536 {
                cache.clear();
            }
            cache.insert(key, r);
        }
        Ok(root)
    }
}

impl Api {
    pub(crate) fn lock_documents(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, DocumentCell>> {
        self.inner
            .documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn lock_layouts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight<Arc<BlobLayout>>>> {
        self.inner.layouts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_reading(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight<Arc<Vec<u8>>>>> {
        self.inner.reading.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_roots(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), [u8; 32]>> {
        self.inner.roots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A cached answer: its operation, and the index sequence and head it was
/// computed at.
#[derive(Clone)]
pub(crate) struct Answer {
    pub op: Arc<str>,
    pub sequence: u64,
    pub head: u64,
    pub body: axum::body::Bytes,
}

/// Query answers, dropped wholesale when full (they all go stale together
/// when the index moves).
#[derive(Default)]
pub(crate) struct AnswerCache {
    map: HashMap<[u8; 32], Answer>,
    bytes: usize,
}

impl Api {
    /// The state an answer depends on: the index's sequence and the head.
    pub(crate) fn answer_state(&self) -> (u64, u64) {
        // Both counters only grow, so their sum changes whenever either
        // does: an answer is stale once the index or the archive moved.
        (
            self.inner
                .index
                .sequence()
                .wrapping_add(self.inner.archive_moves.load(Ordering::Relaxed)),
            self.inner.head.load(Ordering::Relaxed),
        )
    }

    /// The cached answer to request `key`, if still current.
    pub(crate) fn cached_answer(&self, key: &[u8; 32]) -> Option<Answer> {
        if self.inner.limits.response_cache_bytes == 0 {
            return None;
        }
        let (sequence, head) = self.answer_state();
        let cache = self.inner.answers.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .map
            .get(key)
            .filter(|a| a.sequence == sequence && a.head == head)
            .cloned()
    }

    /// Keeps `answer` to request `key`.
    pub(crate) fn remember_answer(&self, key: [u8; 32], answer: Answer) {
        let limit = self.inner.limits.response_cache_bytes;
        if answer.body.len() > limit / 8 {
            return;
        }
        let mut cache = self.inner.answers.lock().unwrap_or_else(|p| p.into_inner());
        if cache.bytes + answer.body.len() > limit {
            cache.map.clear();
            cache.bytes = 0;
        }
        cache.bytes += answer.body.len();
        if let Some(old) = cache.map.insert(key, answer) {
            cache.bytes -= old.body.len();
        }
    }
}

/// Blobs by locator, least recently used out first, bounded in bytes.
pub(crate) struct BlobCache {
    map: HashMap<String, Arc<Vec<u8>>>,
    order: VecDeque<String>,
    bytes: usize,
    limit: usize,
}

impl BlobCache {
    fn new(limit: usize) -> BlobCache {
        BlobCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    fn get(&mut self, key: &str) -> Option<Arc<Vec<u8>>> {
        let v = self.map.get(key)?.clone();
        if let Some(i) = self.order.iter().position(|k| k == key) {
            let k = self.order.remove(i).expect("present");
            self.order.push_back(k);
        }
        Some(v)
    }

    fn insert(&mut self, key: String, value: Arc<Vec<u8>>) {
        if value.len() > self.limit || self.map.contains_key(&key) {
            return;
        }
        self.bytes += value.len();
        self.map.insert(key.clone(), value);
        self.order.push_back(key);
        while self.bytes > self.limit {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.map.remove(&old) {
                self.bytes -= v.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blob_cache_stays_within_its_bytes() {
        let mut c = BlobCache::new(10);
        c.insert("a".into(), Arc::new(vec![0; 4]));
        c.insert("b".into(), Arc::new(vec![0; 4]));
        assert!(c.get("a").is_some());
        c.insert("c".into(), Arc::new(vec![0; 4]));
        assert!(c.get("b").is_none(), "the least recently used goes first");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        c.insert("huge".into(), Arc::new(vec![0; 11]));
        assert!(c.get("huge").is_none());
        assert!(c.bytes <= 10);
    }
}
