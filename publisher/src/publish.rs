//! Publishing: read each stripe once, check its leaves against the signed
//! commitment, add parity, pack envelopes into blobs, submit them
//! concurrently with the bytes in flight bounded, journal every confirmed
//! blob, then post the signed record last.
//!
//! # Exactly once
//!
//! Blobs are a pure function of the plan, so a resumed publish rebuilds the
//! same bytes. Before submitting, a `Submit` entry records the layer's head
//! height. A submission has three outcomes: confirmed (journaled), refused
//! (posted again), or unknown: the process died with it in flight, or the
//! answer was lost. An unknown submission is settled before anything is
//! posted again: the publisher waits until the layer can no longer include
//! it (on Celestia, the head past the current height plus the mempool TTL;
//! see [`Settlement`]), lists every height after the lowest head of an
//! unsettled submission, and journals a planned blob whose bytes are there
//! with that locator instead of posting it. (EigenDA cannot be listed:
//! there, the blobs in flight at a crash may be posted again; the record
//! references one copy.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use modelda_da::{DaLayer, LayerKind, Locator, Namespace, Receipt};
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::ModelId;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::journal::{Entry, Journal};
use crate::plan::{FileStripes, Geometry, Plan};
use crate::record::{self, FileShards, Layout, Publication};
use crate::{Error, Result};

mod producer;
mod reuse;
mod settle;
mod signed;

use producer::{Built, Produced, Producer};
use reuse::{reuse_map, Reuse};
use settle::{adopt_from_other_keys, find_unjournaled, MAX_SETTLE_ROUNDS};
pub use signed::SignedModel;

pub use modelda_wire::MIN_BLOB_BYTES;

/// Publish settings.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// Stripe geometry. Default: 16 + 4.
    pub geometry: Geometry,
    /// Namespace of the data and parity blobs on Celestia-style layers.
    /// Default: [`Namespace::DEFAULT`].
    pub namespace: Namespace,
    /// Namespace of the record's pages. Default: [`Namespace::RECORDS`],
    /// the one every modelda publication on a chain shares.
    pub record_namespace: Namespace,
    /// Where journals live. Default: `.modelda/journal`.
    pub journal_dir: PathBuf,
    /// Bound on blob bytes built but not yet confirmed. Default: 64 MiB.
    pub max_in_flight: usize,
    /// Concurrent submissions. Default: 4.
    pub jobs: usize,
    /// Records of parents whose leaves may be reused.
    pub parents: Vec<Locator>,
    /// Blob size cap below the layer's limit (tests use it to force paging
    /// and packing). Default: the layer's limit.
    pub max_blob_bytes: Option<usize>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            geometry: Geometry::default(),
            namespace: Namespace::DEFAULT,
            record_namespace: Namespace::RECORDS,
            journal_dir: PathBuf::from(".modelda/journal"),
            max_in_flight: 64 << 20,
            jobs: 4,
            parents: Vec::new(),
            max_blob_bytes: None,
        }
    }
}

/// What a publish did.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The model.
    pub model_id: ModelId,
    /// The record's locator (text form): what `fetch --record` takes.
    #[serde(serialize_with = "as_text")]
    pub record: Locator,
    /// Blobs of this publication (shards and record pages).
    pub blobs: u64,
    /// Blob bytes of this publication.
    pub bytes_posted: u64,
    /// Model bytes.
    pub model_bytes: u64,
    /// `bytes_posted / model_bytes`.
    pub overhead: f64,
    /// Fee, in the layer's smallest unit (utia on Celestia).
    pub fee: u64,
    /// Leaf bytes referenced from parents instead of posted.
    pub reused_bytes: u64,
    /// Leaves referenced from parents.
    pub reused_leaves: u64,
    /// Blobs posted by this run.
    pub posted_now: u64,
    /// Blobs confirmed by an earlier run (from the journal).
    pub resumed: u64,
    /// Blobs found on the layer that the journal had missed.
    pub recovered: u64,
    /// Blobs another key's publication of the same plan had confirmed,
    /// referenced instead of posted (an attestation pays only its record).
    pub adopted_blobs: u64,
    /// Bytes of those blobs.
    pub adopted_bytes: u64,
    /// The journal.
    pub journal: PathBuf,
}

fn as_text<S: serde::Serializer>(l: &Locator, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(l)
}

/// Progress of a publish.
pub trait PublishProgress: Sync {
    /// Called once with the bytes to post in this run.
    fn start(&self, _total: u64) {}
    /// Called as blobs are confirmed.
    fn advance(&self, _bytes: u64) {}
    /// Called before waiting for the layer to reach `height`, past which
    /// submissions whose outcome is unknown can no longer be included.
    fn settling(&self, _height: u64) {}
}

/// Progress that goes nowhere.
pub struct Quiet;
impl PublishProgress for Quiet {}

/// Publishes `model` to `layer`, signing the record with `key`. Resumes
/// from the journal when one exists for the same plan. `stop` ends the
/// publish early (blobs in flight are still journaled) with
/// [`Error::Interrupted`].
#[tracing::instrument(name = "publish", skip_all, fields(model = %model.id, layer = %layer.kind()))]
pub async fn publish(
    layer: Arc<dyn DaLayer>,
    model: &SignedModel,
    key: &PrivateKey,
    opts: &PublishOptions,
    progress: &dyn PublishProgress,
    stop: CancellationToken,
) -> Result<Outcome> {
    let limits = layer.limits().await?;
    let max_blob = opts
        .max_blob_bytes
        .map_or(limits.max_blob_bytes, |m| m.min(limits.max_blob_bytes));
    if max_blob < MIN_BLOB_BYTES {
        return Err(Error::InvalidOption {
            option: "--max-blob-bytes",
            reason: format!(
                "{max_blob} is below the smallest useful blob of {MIN_BLOB_BYTES} bytes"
            ),
        });
    }
    let mut parents = Vec::new();
    for loc in &opts.parents {
        parents.push(modelda_da::read::open_record(layer.as_ref(), loc, None, None).await?);
    }
    let reuse = reuse_map(model, opts.geometry, &parents);
    let plan = Plan::new(
        &model.manifest,
        opts.geometry,
        max_blob,
        &reuse.map,
        reuse.parent_blobs.len(),
    )?;
    let kind = layer.kind();
    let ns = opts.namespace;
    let rns = opts.record_namespace;
    let plan_id = plan.id(&model.id, kind.as_str(), &ns.to_string());
    let hint = key.public().hint();
    let mut journal = Journal::open(
        &opts.journal_dir,
        &Journal::path_for(&opts.journal_dir, &plan_id, &hint),
    )?;
    match &journal.state().begin {
        Some((_, _, started, _)) if *started != hint => {
            return Err(Error::KeyMismatch {
                journal: journal.path().to_path_buf(),
                started: started.clone(),
                given: hint,
            })
        }
        Some(_) => {}
        None => journal.append(vec![Entry::Begin {
            v: 1,
            plan: plan_id.clone(),
            model_id: model.id,
            key_hint: hint.clone(),
            blobs: plan.blobs.len() as u64,
        }])?,
    }
    let n_blobs = plan.blobs.len() as u64;
    let resumed = journal.state().done.len() as u64;
    let (adopted_blobs, adopted_bytes, mut others_from) =
        adopt_from_other_keys(&mut journal, &opts.journal_dir, &plan_id, &hint, n_blobs)?;

    let mut recovered = 0u64;
    let mut posted_now = 0u64;
    // Blobs confirmed by a run that died before journaling them, or whose
    // answer was lost: settled first, then adopted from the layer.
    let mut on_layer: HashMap<[u8; 32], Receipt> = HashMap::new();
    let mut rounds = 0u32;
    while journal.state().record.is_none() {
        let from = match (journal.state().scan_from(), others_from.take()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(from) = from {
            on_layer = find_unjournaled(layer.as_ref(), &[ns, rns], from, progress).await?;
        }
        let todo: u64 = plan
            .blobs
            .iter()
            .enumerate()
            .filter(|(i, _)| !journal.state().done.contains_key(&(*i as u64)))
            .map(|(_, b)| b.size as u64)
            .sum();
        progress.start(todo);
        let counts = post_blobs(
            layer.clone(),
            &plan,
            model,
            opts,
            &mut journal,
            &on_layer,
            progress,
            stop.clone(),
        )
        .await?;
        recovered += counts.found;
        posted_now += counts.posted;
        if counts.unknown == 0 {
            break;
        }
        rounds += 1;
        if rounds >= MAX_SETTLE_ROUNDS {
            return Err(interrupted(
                &journal,
                n_blobs,
                &format!("the layer lost the answer to submissions {rounds} times in a row"),
            ));
        }
        tracing::warn!(
            unknown = counts.unknown,
            "submissions with a lost answer: settling them before posting again"
        );
    }

    // The record, last.
    let record_locator = match journal.state().record.clone() {
        Some(l) => l,
        None => {
            if stop.is_cancelled() {
                return Err(interrupted(&journal, n_blobs, "stopped"));
            }
            let publication = publication(model, &plan, &journal, kind, (ns, rns), &reuse)?;
            let bundle = record::sign(key, &publication);
            let (loc, r, p) = post_record(
                layer.as_ref(),
                model.id,
                &bundle,
                max_blob,
                rns,
                n_blobs,
                &mut journal,
                &on_layer,
                progress,
            )
            .await?;
            recovered += r;
            posted_now += p;
            journal.append(vec![Entry::Record {
                locator: loc.clone(),
            }])?;
            loc
        }
    };
    let state = journal.state();
    let bytes_posted: u64 = state.done.values().map(|(r, _)| r.size as u64).sum();
    let model_bytes = model.manifest.total_size();
    Ok(Outcome {
        model_id: model.id,
        record: record_locator,
        blobs: state.done.len() as u64,
        bytes_posted,
        model_bytes,
        overhead: if model_bytes == 0 {
            0.0
        } else {
            bytes_posted as f64 / model_bytes as f64
        },
        fee: state.done.values().map(|(r, _)| r.fee).sum(),
        reused_bytes: plan.reused_bytes,
        reused_leaves: plan.reused_leaves,
        posted_now,
        resumed,
        recovered,
        adopted_blobs,
        adopted_bytes,
        journal: journal.path().to_path_buf(),
    })
}

fn interrupted(journal: &Journal, total: u64, reason: &str) -> Error {
    Error::Interrupted {
        done: journal.state().done.len() as u64,
        total,
        reason: reason.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn publication(
    model: &SignedModel,
    plan: &Plan,
    journal: &Journal,
    kind: LayerKind,
    (ns, rns): (Namespace, Namespace),
    reuse: &Reuse,
) -> Result<Publication> {
    let (parent_blobs, reused_from, parent_parity) =
        (&reuse.parent_blobs, &reuse.reused_from, &reuse.parity);
    let state = journal.state();
    let mut blobs = Vec::with_capacity(plan.blobs.len() + parent_blobs.len());
    for i in 0..plan.blobs.len() as u64 {
        let (r, _) = state.done.get(&i).ok_or_else(|| Error::Interrupted {
            done: state.done.len() as u64,
            total: plan.blobs.len() as u64,
            reason: format!("blob {i} is not confirmed"),
        })?;
        blobs.push(r.locator.to_string());
    }
    blobs.extend(parent_blobs.iter().map(|l| l.to_string()));
    // Parity digests of own slots, from the journal, in slot order.
    let mut own_parity = Vec::new();
    for (bi, b) in plan.blobs.iter().enumerate() {
        let (_, digests) = &state.done[&(bi as u64)];
        let want = plan.slots[b.slots.clone()]
            .iter()
            .filter(|s| s.parity)
            .count();
        if digests.len() != want {
            return Err(Error::JournalCorrupt {
                path: journal.path().to_path_buf(),
                line: 0,
            });
        }
        own_parity.extend(digests.iter().cloned());
    }
    let mut own_parity = own_parity.into_iter();
    let mut files = Vec::with_capacity(model.manifest.files.len());
    let own = plan.blobs.len() as u32;
    for (fi, entry) in model.manifest.files.iter().enumerate() {
        let fs = FileStripes::of(entry, plan.geometry);
        let mut parity = Vec::new();
        for s in 0..fs.count() {
            let start = plan.stripe_starts[fi][s as usize];
            let n_data = (fs.leaves_of(s).end - fs.leaves_of(s).start) as usize;
            for j in 0..usize::from(plan.geometry.parity) {
                let r = plan.refs[fi][start + n_data + j];
                let d = if r.blob < own {
                    let hex = own_parity.next().unwrap_or_default();
                    let mut d = [0u8; 32];
                    hex::decode_to_slice(&hex, &mut d).map_err(|_| Error::JournalCorrupt {
                        path: journal.path().to_path_buf(),
                        line: 0,
                    })?;
                    d
                } else {
                    parent_parity[fi][s as usize * usize::from(plan.geometry.parity) + j]
                        .expect("reused parity has the parent's digest")
                };
                parity.extend_from_slice(&d);
            }
        }
        use base64::Engine as _;
        files.push(FileShards {
            path: entry.path.clone(),
            shards: record::encode_refs(&plan.refs[fi]),
            parity: base64::engine::general_purpose::STANDARD.encode(parity),
        });
    }
    Ok(Publication {
        v: 1,
        model_id: model.id,
        layer: kind,
        namespace: kind.has_namespaces().then_some(ns),
        record_namespace: kind.has_namespaces().then_some(rns),
        data_shards: plan.geometry.data,
        parity_shards: plan.geometry.parity,
        blobs,
        files,
        reused_from: reused_from.to_vec(),
        claims: model.claims.clone(),
        oms: model.oms.clone(),
    })
}

/// Posts the record pages then the root page; returns its locator and the
/// counts of recovered and posted blobs.
#[allow(clippy::too_many_arguments)]
async fn post_record(
    layer: &dyn DaLayer,
    model: ModelId,
    bundle: &[u8],
    max_blob: usize,
    ns: Namespace,
    first_id: u64,
    journal: &mut Journal,
    on_layer: &HashMap<[u8; 32], Receipt>,
    progress: &dyn PublishProgress,
) -> Result<(Locator, u64, u64)> {
    let mut counts = (0u64, 0u64);
    let mut post = async |id: u64, blob: Vec<u8>, journal: &mut Journal| -> Result<Locator> {
        let (loc, (found, posted)) =
            post_one(layer, ns, id, blob, journal, on_layer, progress).await?;
        counts.0 += found;
        counts.1 += posted;
        Ok(loc)
    };
    let root = match record::layout(model, bundle, max_blob) {
        Layout::Inline(blob) => post(first_id, blob, journal).await?,
        Layout::Paged(pages) => {
            let mut locs = Vec::with_capacity(pages.len());
            for (i, p) in pages.iter().enumerate() {
                locs.push(post(first_id + i as u64, p.clone(), journal).await?);
            }
            let root = record::root_of_pages(model, &pages, &locs);
            post(first_id + pages.len() as u64, root, journal).await?
        }
    };
    Ok((root, counts.0, counts.1))
}

/// Posts one record blob unless the journal or the layer already has it;
/// returns its locator and the blobs (found, posted). A submission whose
/// answer is lost is settled and looked for before it is sent again.
async fn post_one(
    layer: &dyn DaLayer,
    ns: Namespace,
    id: u64,
    blob: Vec<u8>,
    journal: &mut Journal,
    on_layer: &HashMap<[u8; 32], Receipt>,
    progress: &dyn PublishProgress,
) -> Result<(Locator, (u64, u64))> {
    if let Some((r, _)) = journal.state().done.get(&id) {
        return Ok((r.locator.clone(), (0, 0)));
    }
    let hash = *blake3::hash(&blob).as_bytes();
    let mut counts = (0u64, 0u64);
    let mut found = on_layer.get(&hash).cloned();
    let mut rounds = 0u32;
    let receipt = loop {
        if let Some(r) = found.take() {
            counts.0 += 1;
            break r;
        }
        let head = layer.head().await?;
        journal.append(vec![Entry::Submit {
            ids: vec![id],
            head,
        }])?;
        counts.1 += 1;
        match layer.submit(ns, vec![blob.clone()]).await {
            Ok(r) => {
                break r.into_iter().next().ok_or_else(|| Error::Interrupted {
                    done: journal.state().done.len() as u64,
                    total: id + 1,
                    reason: "the layer confirmed no blob for a record page".into(),
                })?
            }
            Err(e) if e.is_outcome_unknown() && rounds < MAX_SETTLE_ROUNDS => {
                rounds += 1;
                tracing::warn!(id, "record page submission without an answer: settling it");
                counts.1 -= 1;
                found = find_unjournaled(layer, &[ns], head, progress)
                    .await?
                    .remove(&hash);
            }
            Err(e) => return Err(e.into()),
        }
    };
    let loc = receipt.locator.clone();
    journal.append(vec![Entry::Done {
        id,
        receipt,
        parity: vec![],
    }])?;
    Ok((loc, counts))
}

/// What one pass of [`post_blobs`] did.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// Blobs found already on the layer and adopted.
    found: u64,
    /// Blobs posted and confirmed.
    posted: u64,
    /// Submissions whose answer was lost: their blobs may or may not be on
    /// the layer, and must be settled before they are posted again.
    unknown: u64,
}

/// What is journaled of a submitted blob: id, size, parity digests.
type BlobMeta = (u64, usize, Vec<[u8; 32]>);

/// Builds and posts every plan blob the journal does not hold yet.
#[allow(clippy::too_many_arguments)]
async fn post_blobs(
    layer: Arc<dyn DaLayer>,
    plan: &Plan,
    model: &SignedModel,
    opts: &PublishOptions,
    journal: &mut Journal,
    on_layer: &HashMap<[u8; 32], Receipt>,
    progress: &dyn PublishProgress,
    stop: CancellationToken,
) -> Result<Counts> {
    let limits = layer.limits().await?;
    let total = plan.blobs.len() as u64;
    let done: std::collections::HashSet<u64> = journal.state().done.keys().copied().collect();
    if (0..total).all(|i| done.contains(&i)) {
        return Ok(Counts::default());
    }
    let budget = opts.max_in_flight.max(plan.max_blob_bytes);
    let sem = Arc::new(Semaphore::new(budget.div_ceil(1024)));
    let (tx, mut rx) = mpsc::channel::<Result<Produced>>(64);
    let producer = {
        let plan = Arc::new(plan.clone());
        let model = Arc::new(model.clone());
        let on_layer: HashMap<[u8; 32], Receipt> = on_layer.clone();
        let sem = sem.clone();
        let stop = stop.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let p = Producer {
                plan: &plan,
                model: &model,
                done: &done,
                on_layer: &on_layer,
                sem: &sem,
                rt: &rt,
                tx: &tx,
                stop: &stop,
            };
            if let Err(e) = p.run() {
                let _ = tx.blocking_send(Err(e));
            }
        })
    };

    let mut counts = Counts::default();
    let mut inflight: JoinSet<(Vec<BlobMeta>, modelda_da::Result<Vec<Receipt>>)> = JoinSet::new();
    let mut ready: std::collections::VecDeque<Built> = Default::default();
    let mut rx_open = true;
    let mut failure: Option<Error> = None;
    let jobs = opts.jobs.max(1);
    let ns = opts.namespace;
    loop {
        let halted = failure.is_some() || stop.is_cancelled();
        if halted && rx_open {
            rx.close();
            sem.close();
            ready.clear();
            while rx.try_recv().is_ok() {}
            rx_open = false;
        }
        // Take what the producer has ready, without waiting.
        while rx_open && ready.len() < 256 {
            match rx.try_recv() {
                Ok(m) => handle(m, &mut ready, journal, progress, &mut counts, &mut failure)?,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    rx_open = false;
                    break;
                }
            }
        }
        if failure.is_none() && !stop.is_cancelled() && inflight.len() < jobs && !ready.is_empty() {
            // Weighed as the layer fills (on square layers, whole shares:
            // many small blobs need more shares than their bytes), so a
            // batch always fits one submission.
            let mut batch = Vec::new();
            let mut weight = 0usize;
            let kind = layer.kind();
            while let Some(b) = ready.front() {
                let w = kind.batch_weight(b.bytes.len());
                if !batch.is_empty() && weight.saturating_add(w) > limits.max_batch_bytes {
                    break;
                }
                weight = weight.saturating_add(w);
                batch.push(ready.pop_front().expect("front exists"));
            }
            let head = match layer.head().await {
                Ok(h) => h,
                Err(e) => {
                    failure = Some(e.into());
                    continue;
                }
            };
            journal.append(vec![Entry::Submit {
                ids: batch.iter().map(|b| b.id).collect(),
                head,
            }])?;
            let layer = layer.clone();
            inflight.spawn(async move {
                let meta: Vec<BlobMeta> = batch
                    .iter()
                    .map(|b| (b.id, b.bytes.len(), b.parity.clone()))
                    .collect();
                let mut blobs = Vec::with_capacity(batch.len());
                let mut permits = Vec::with_capacity(batch.len());
                for b in batch {
                    blobs.push(b.bytes);
                    permits.push(b._permit);
                }
                let r = layer.submit(ns, blobs).await;
                drop(permits);
                (meta, r)
            });
            continue;
        }
        if !rx_open
            && inflight.is_empty()
            && (ready.is_empty() || failure.is_some() || stop.is_cancelled())
        {
            break;
        }
        tokio::select! {
            m = rx.recv(), if rx_open && ready.is_empty() => match m {
                Some(m) => handle(m, &mut ready, journal, progress, &mut counts, &mut failure)?,
                None => rx_open = false,
            },
            r = inflight.join_next(), if !inflight.is_empty() => match r {
                Some(Ok((meta, Ok(receipts)))) if receipts.len() != meta.len() => {
                    failure = failure.or(Some(Error::Interrupted {
                        done: 0,
                        total,
                        reason: format!(
                            "the layer confirmed {} of {} blobs of one submission",
                            receipts.len(),
                            meta.len()
                        ),
                    }));
                }
                Some(Ok((meta, Ok(receipts)))) => {
                    let mut entries = Vec::with_capacity(meta.len());
                    let mut bytes = 0u64;
                    for ((id, size, parity), receipt) in meta.into_iter().zip(receipts) {
                        bytes += size as u64;
                        entries.push(done_entry(id, receipt, &parity));
                    }
                    counts.posted += entries.len() as u64;
                    crate::faults::before_journal();
                    journal.append(entries)?;
                    progress.advance(bytes);
                }
                Some(Ok((_, Err(e)))) if e.is_outcome_unknown() => {
                    // Neither journaled nor retried: the next pass settles
                    // it, adopts its blobs if they landed, posts them if not.
                    tracing::warn!(error = %e, "a submission's answer was lost");
                    counts.unknown += 1;
                }
                Some(Ok((_, Err(e)))) => failure = failure.or(Some(e.into())),
                Some(Err(e)) => failure = failure.or(Some(Error::Interrupted {
                    done: 0,
                    total,
                    reason: format!("a submission task failed: {e}"),
                })),
                None => {}
            },
            // Wake up on a stop request.
            _ = stop.cancelled(), if !stop.is_cancelled() => {}
        }
    }
    let _ = producer.await;
    if let Some(e) = failure {
        return Err(match e {
            e @ (Error::FileChanged { .. }
            | Error::FileResized { .. }
            | Error::FileGone { .. }
            | Error::Io { .. }) => e,
            e => interrupted(journal, total, &e.to_string()),
        });
    }
    if stop.is_cancelled() {
        return Err(interrupted(journal, total, "stopped"));
    }
    Ok(counts)
}

fn done_entry(id: u64, receipt: Receipt, parity: &[[u8; 32]]) -> Entry {
    Entry::Done {
        id,
        receipt,
        parity: parity.iter().map(hex::encode).collect(),
    }
}

fn handle(
    m: Result<Produced>,
    ready: &mut std::collections::VecDeque<Built>,
    journal: &mut Journal,
    progress: &dyn PublishProgress,
    counts: &mut Counts,
    failure: &mut Option<Error>,
) -> Result<()> {
    match m {
        Ok(Produced::Blob(b)) => ready.push_back(b),
        Ok(Produced::Found(id, receipt, parity)) => {
            let size = receipt.size as u64;
            journal.append(vec![done_entry(id, receipt, &parity)])?;
            counts.found += 1;
            progress.advance(size);
        }
        Err(e) => {
            if failure.is_none() {
                *failure = Some(e);
            }
        }
    }
    Ok(())
}
