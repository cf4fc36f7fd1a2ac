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
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelda_da::{DaLayer, LayerKind, Locator, Namespace, Receipt, Settlement};
use modelda_manifest::sign::{sign_model, OmsHash, PrivateKey};
use modelda_manifest::{commit_dir, scan_dir, CommitOptions, Progress};
use modelda_manifest::{ModelId, ModelManifest, CLAIMS_SIGNATURE_NAME, OMS_SIGNATURE_NAME};
use modelda_merkle::{leaf_cvs_par, LeafCv};
use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::envelope::{Header, Kind};
use crate::journal::{Entry, Journal};
use crate::plan::{FileStripes, Geometry, Plan, ReuseMap, Reused, ShardRef};
use crate::record::{self, FileShards, Layout, OpenedRecord, Publication};
use crate::{Error, Result, StripeCoder};

/// A model directory with a verified signature over its manifest.
#[derive(Clone, Debug)]
pub struct SignedModel {
    /// The directory.
    pub dir: PathBuf,
    /// The manifest.
    pub manifest: ModelManifest,
    /// The model id.
    pub id: ModelId,
    /// Per file, the signed leaf chaining values (files of 2+ leaves).
    pub leaves: Vec<Option<Vec<LeafCv>>>,
    /// The claims bundle JSON.
    pub claims: String,
    /// The OMS bundle JSON.
    pub oms: Option<String>,
    /// Whether this call hashed and signed the directory (else the existing
    /// signature was reused).
    pub signed_now: bool,
}

impl SignedModel {
    /// Uses `dir`'s signature when it is by `key`, lists exactly the files
    /// in `dir` with their sizes, is newer than every file, `accept`s its
    /// manifest, and `fresh` is false; otherwise
    /// commits the directory with `opts` and signs it (writing `model.sig`
    /// and `model.claims.sig`, as `modelda sign` does). Bytes are checked
    /// against the signed leaves while they are posted either way.
    pub fn prepare(
        dir: &Path,
        key: &PrivateKey,
        opts: &CommitOptions,
        fresh: bool,
        accept: impl Fn(&ModelManifest) -> bool,
        progress: &dyn Progress,
    ) -> Result<SignedModel> {
        if !fresh {
            if let Some(m) = Self::existing(dir, key)?.filter(|m| accept(&m.manifest)) {
                return Ok(m);
            }
        }
        let committed = commit_dir(dir, opts, progress)?;
        sign_model(dir, &committed, key, OmsHash::default())?;
        let mut m = Self::existing(dir, key)?.ok_or_else(|| Error::BadRecord {
            locator: dir.display().to_string(),
            reason: "the signature just written does not match the directory".into(),
        })?;
        m.signed_now = true;
        Ok(m)
    }

    fn existing(dir: &Path, key: &PrivateKey) -> Result<Option<SignedModel>> {
        let claims_path = dir.join(CLAIMS_SIGNATURE_NAME);
        let Ok(bytes) = std::fs::read(&claims_path) else {
            return Ok(None);
        };
        let public = key.public();
        let (claims, signer) =
            match modelda_manifest::verify::open_claims(&claims_path, &bytes, None) {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(error = %e, "existing claims not usable; signing again");
                    return Ok(None);
                }
            };
        if signer != public {
            return Err(Error::SignedByOtherKey {
                path: claims_path,
                signed: signer.hint(),
                given: public.hint(),
            });
        }
        let found = scan_dir(dir)?;
        let same = found.len() == claims.manifest.files.len()
            && found.iter().all(|f| {
                claims
                    .manifest
                    .file(&f.rel)
                    .is_some_and(|e| e.size == f.size)
            });
        // A file written after the claims were signed means they are stale.
        let signed_at = std::fs::metadata(&claims_path)
            .and_then(|m| m.modified())
            .ok();
        let newer = found.iter().any(|f| {
            let m = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
            matches!((m, signed_at), (Some(m), Some(s)) if m > s)
        });
        if !same || newer {
            return Ok(None);
        }
        let mut leaves = Vec::with_capacity(claims.manifest.files.len());
        for e in &claims.manifest.files {
            match claims.commitment(e) {
                Ok(c) => leaves.push(c.map(|c| c.leaves().to_vec())),
                Err(_) => return Ok(None),
            }
        }
        let oms = std::fs::read_to_string(dir.join(OMS_SIGNATURE_NAME)).ok();
        Ok(Some(SignedModel {
            dir: dir.to_path_buf(),
            id: claims.model_id,
            manifest: claims.manifest,
            leaves,
            claims: String::from_utf8_lossy(&bytes).into_owned(),
            oms,
            signed_now: false,
        }))
    }
}

/// Smallest blob size cap a publish accepts.
pub const MIN_BLOB_BYTES: usize = 4096;

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

/// A blob built by the producer, holding its share of the in-flight budget.
struct Built {
    id: u64,
    bytes: Vec<u8>,
    parity: Vec<[u8; 32]>,
    _permit: OwnedSemaphorePermit,
}

enum Produced {
    /// A blob to post.
    Blob(Built),
    /// A blob already on the layer.
    Found(u64, Receipt, Vec<[u8; 32]>),
}

/// What parents give a publish: which shards to reference, the parent blobs
/// they are in, the parent models, and the reused parity shards' digests.
struct Reuse {
    map: ReuseMap,
    parent_blobs: Vec<Locator>,
    reused_from: Vec<ModelId>,
    parity: Vec<Vec<Option<[u8; 32]>>>,
}

/// Builds the reuse map of `model` against parent records.
fn reuse_map(model: &SignedModel, geometry: Geometry, parents: &[OpenedRecord]) -> Reuse {
    let mut map: ReuseMap = Vec::new();
    let mut parity_digests = Vec::new();
    let mut parent_blobs: Vec<Locator> = Vec::new();
    let mut index: HashMap<Locator, u32> = HashMap::new();
    let mut used_parents = Vec::new();
    for (fi, entry) in model.manifest.files.iter().enumerate() {
        let fs = FileStripes::of(entry, geometry);
        let mut shards: Vec<Option<Reused>> = Vec::new();
        let mut digests: Vec<Option<[u8; 32]>> = Vec::new();
        let mut found_any = false;
        for s in 0..fs.count() {
            let leaves = fs.leaves_of(s);
            let mut stripe: Vec<Option<Reused>> = Vec::new();
            let mut stripe_parent: Option<(usize, usize)> = None; // parent, parent file
            for leaf in leaves.clone() {
                let mut hit = None;
                for (pi, p) in parents.iter().enumerate() {
                    let Some(pf_i) = p.files.iter().position(|f| f.entry.path == entry.path) else {
                        continue;
                    };
                    let pf = &p.files[pf_i];
                    if pf.entry.leaf_size != entry.leaf_size || leaf >= pf.stripes.leaves() {
                        continue;
                    }
                    let same = match (&pf.commitment, &model.leaves[fi]) {
                        (Some(pc), Some(ours)) => pc.leaves()[leaf as usize] == ours[leaf as usize],
                        (None, None) => pf.entry.root == entry.root,
                        _ => false,
                    };
                    if same {
                        let pk = u64::from(p.geometry().data);
                        let ps = leaf / pk;
                        let r = pf.refs[pf.stripe_starts[ps as usize] + (leaf % pk) as usize];
                        hit = Some((pi, pf_i, r));
                        break;
                    }
                }
                match hit {
                    Some((pi, pf_i, r)) => {
                        let p = &parents[pi];
                        stripe.push(Some(parent_ref(&p.blobs, r, &mut parent_blobs, &mut index)));
                        if !used_parents.contains(&p.model_id()) {
                            used_parents.push(p.model_id());
                        }
                        stripe_parent = match stripe_parent {
                            None if leaf == leaves.start => Some((pi, pf_i)),
                            Some(x) if x == (pi, pf_i) => Some(x),
                            _ => Some((usize::MAX, 0)),
                        };
                        found_any = true;
                    }
                    None => {
                        stripe.push(None);
                        stripe_parent = Some((usize::MAX, 0));
                    }
                }
            }
            // Parity too, when the parent's stripe is the same stripe.
            let mut parity: Vec<Option<Reused>> = vec![None; usize::from(geometry.parity)];
            let mut pdig: Vec<Option<[u8; 32]>> = vec![None; usize::from(geometry.parity)];
            if let Some((pi, pf_i)) = stripe_parent.filter(|x| x.0 != usize::MAX) {
                let p = &parents[pi];
                let pf = &p.files[pf_i];
                if p.geometry() == geometry
                    && s < pf.stripes.count()
                    && pf.stripes.leaves_of(s) == leaves
                    && pf.stripes.width(s) == fs.width(s)
                {
                    let start = pf.stripe_starts[s as usize] + (leaves.end - leaves.start) as usize;
                    for j in 0..usize::from(geometry.parity) {
                        parity[j] = Some(parent_ref(
                            &p.blobs,
                            pf.refs[start + j],
                            &mut parent_blobs,
                            &mut index,
                        ));
                        pdig[j] = Some(pf.parity[s as usize * usize::from(geometry.parity) + j]);
                    }
                }
            }
            shards.extend(stripe);
            shards.extend(parity);
            digests.extend(pdig);
        }
        map.push(if found_any { shards } else { Vec::new() });
        parity_digests.push(digests);
    }
    Reuse {
        map,
        parent_blobs,
        reused_from: used_parents,
        parity: parity_digests,
    }
}

fn parent_ref(
    blobs: &[Locator],
    r: ShardRef,
    parent_blobs: &mut Vec<Locator>,
    index: &mut HashMap<Locator, u32>,
) -> Reused {
    let loc = blobs[r.blob as usize].clone();
    let n = parent_blobs.len() as u32;
    let parent_blob = *index.entry(loc.clone()).or_insert_with(|| {
        parent_blobs.push(loc);
        n
    });
    Reused {
        parent_blob,
        offset: r.offset,
    }
}

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
        parents.push(record::open(layer.as_ref(), loc, None, None).await?);
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

/// Journals of the same plan begun with other keys (in the journal
/// directory): the blobs they confirmed are the same bytes (the plan does
/// not depend on the key), so they are journaled as this publication's and
/// only what is missing, at least this key's record, is posted. Returns the
/// blobs and bytes adopted, and the lowest head of their submissions still
/// unsettled (their blobs may be on the layer: settled and looked for
/// before anything is posted).
fn adopt_from_other_keys(
    journal: &mut Journal,
    dir: &Path,
    plan: &str,
    hint: &str,
    n_blobs: u64,
) -> Result<(u64, u64, Option<u64>)> {
    let (mut blobs, mut bytes, mut scan_from) = (0u64, 0u64, None::<u64>);
    if journal.state().record.is_some() {
        return Ok((blobs, bytes, scan_from));
    }
    for (path, other) in Journal::of_other_keys(dir, plan, hint)? {
        let mut entries = Vec::new();
        for i in 0..n_blobs {
            if journal.state().done.contains_key(&i) {
                continue;
            }
            if let Some((receipt, parity)) = other.done.get(&i) {
                bytes += receipt.size as u64;
                entries.push(Entry::Done {
                    id: i,
                    receipt: receipt.clone(),
                    parity: parity.clone(),
                });
            }
        }
        if !entries.is_empty() {
            tracing::info!(from = %path.display(), blobs = entries.len(), "adopting blobs another key's publication of this model confirmed");
            blobs += entries.len() as u64;
            journal.append(entries)?;
        }
        if let Some(h) = other.scan_from() {
            scan_from = Some(scan_from.map_or(h, |s| s.min(h)));
        }
    }
    Ok((blobs, bytes, scan_from))
}

/// Rounds of settling lost answers a publish goes through before it gives
/// up (each round waits out the layer's mempool TTL).
const MAX_SETTLE_ROUNDS: u32 = 8;

/// Every blob of `ns` that may hold a blob the journal does not know:
/// waits until submissions whose outcome is unknown are settled (see
/// [`Settlement`]), then lists every height after `from` (the head before
/// the oldest such submission), keyed by the BLAKE3 of the blob's bytes.
async fn find_unjournaled(
    layer: &dyn DaLayer,
    namespaces: &[Namespace],
    from: u64,
    progress: &dyn PublishProgress,
) -> Result<HashMap<[u8; 32], Receipt>> {
    let mut found = HashMap::new();
    let head = layer.head().await?;
    let follow = layer.as_follow();
    let until = match (layer.settlement(), follow) {
        (Settlement::Unlisted, _) | (_, None) => {
            tracing::warn!("this layer cannot be listed: blobs whose submission had no answer are posted again");
            return Ok(found);
        }
        (Settlement::Immediate, _) => head,
        (Settlement::WithinBlocks(ttl), Some(follow)) => {
            // A submission in flight entered the mempool at or below
            // `head`, so it is included or evicted by `head + ttl + 1`.
            let until = head.saturating_add(ttl).saturating_add(1);
            progress.settling(until);
            let _span = tracing::info_span!("settle", until, ttl).entered();
            follow.wait_for_height(until).await?;
            until
        }
    };
    let Some(follow) = follow else {
        return Ok(found);
    };
    let mut namespaces = namespaces.to_vec();
    namespaces.dedup();
    for h in from.saturating_add(1)..=until {
        for ns in &namespaces {
            for (loc, data) in follow.list(*ns, h).await? {
                found
                    .entry(*blake3::hash(&data).as_bytes())
                    .or_insert(Receipt {
                        locator: loc,
                        size: data.len(),
                        fee: 0,
                    });
            }
        }
    }
    Ok(found)
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
        namespace: (kind != LayerKind::Eigenda).then_some(ns),
        record_namespace: (kind != LayerKind::Eigenda).then_some(rns),
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
            let mut batch = Vec::new();
            let mut bytes = 0usize;
            while let Some(b) = ready.front() {
                if !batch.is_empty() && bytes + b.bytes.len() > limits.max_batch_bytes {
                    break;
                }
                bytes += b.bytes.len();
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

/// Reads stripes and builds blobs on a blocking thread.
struct Producer<'a> {
    plan: &'a Plan,
    model: &'a SignedModel,
    done: &'a std::collections::HashSet<u64>,
    on_layer: &'a HashMap<[u8; 32], Receipt>,
    sem: &'a Arc<Semaphore>,
    rt: &'a tokio::runtime::Handle,
    tx: &'a mpsc::Sender<Result<Produced>>,
    stop: &'a CancellationToken,
}

/// The blob being filled: id, bytes, parity digests, budget permit.
struct Open {
    id: usize,
    bytes: Vec<u8>,
    parity: Vec<[u8; 32]>,
    permit: OwnedSemaphorePermit,
}

impl Producer<'_> {
    /// The stripes that hold a shard of a blob still to post, in order.
    fn needed(&self) -> Vec<(usize, u64)> {
        let plan = self.plan;
        let own = plan.blobs.len() as u32;
        let mut slot = 0usize;
        let mut out = Vec::new();
        for (fi, entry) in self.model.manifest.files.iter().enumerate() {
            let fs = FileStripes::of(entry, plan.geometry);
            for s in 0..fs.count() {
                let start = plan.stripe_starts[fi][s as usize];
                let mut need = false;
                for r in &plan.refs[fi][start..start + fs.shards_of(s)] {
                    if r.blob < own {
                        need |= !self.done.contains(&(plan.blob_of_slot(slot) as u64));
                        slot += 1;
                    }
                }
                if need {
                    out.push((fi, s));
                }
            }
        }
        out
    }

    /// Reads the `needed` stripes in order on this thread, one or two ahead
    /// of the producer, reusing the buffers it sends back.
    fn read_ahead(
        &self,
        needed: &[(usize, u64)],
        tx: std::sync::mpsc::SyncSender<Result<Vec<u8>>>,
        spare: std::sync::mpsc::Receiver<Vec<u8>>,
    ) {
        let mut file: Option<(usize, File)> = None;
        for &(fi, s) in needed {
            if self.stop.is_cancelled() {
                return;
            }
            let entry = &self.model.manifest.files[fi];
            let fs = FileStripes::of(entry, self.plan.geometry);
            let path = self.model.dir.join(&entry.path);
            let read = (|| {
                if file.as_ref().is_none_or(|(i, _)| *i != fi) {
                    file = Some((fi, open_checked(&path, entry.size, &entry.path)?));
                }
                let f = &file.as_ref().expect("opened").1;
                let bytes = fs.bytes_of(s);
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.resize((bytes.end - bytes.start) as usize, 0);
                f.read_exact_at(&mut buf, bytes.start).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        Error::FileChanged {
                            path: entry.path.clone(),
                            leaf: fs.leaves_of(s).start,
                            offset: bytes.start,
                        }
                    } else {
                        Error::io(&path, e)
                    }
                })?;
                Ok(buf)
            })();
            let failed = read.is_err();
            if tx.send(read).is_err() || failed {
                return;
            }
        }
    }

    fn run(&self) -> Result<()> {
        let needed = self.needed();
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| self.read_ahead(&needed, tx, spare_rx));
            let r = self.produce(&rx, &spare_tx);
            drop(rx);
            r
        })
    }

    fn produce(
        &self,
        stripes: &std::sync::mpsc::Receiver<Result<Vec<u8>>>,
        spare: &std::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<()> {
        let plan = self.plan;
        let g = plan.geometry;
        let coder = StripeCoder::new(usize::from(g.data), usize::from(g.parity))?;
        let own = plan.blobs.len() as u32;
        let mut slot = 0usize;
        let mut open: Option<Open> = None;
        for (fi, entry) in self.model.manifest.files.iter().enumerate() {
            let fs = FileStripes::of(entry, g);
            for s in 0..fs.count() {
                if self.stop.is_cancelled() {
                    return Ok(());
                }
                let start = plan.stripe_starts[fi][s as usize];
                let refs = &plan.refs[fi][start..start + fs.shards_of(s)];
                let mut own_slots = Vec::with_capacity(refs.len());
                for (j, r) in refs.iter().enumerate() {
                    if r.blob < own {
                        own_slots.push((j, slot));
                        slot += 1;
                    }
                }
                if own_slots
                    .iter()
                    .all(|(_, sl)| self.done.contains(&(plan.blob_of_slot(*sl) as u64)))
                {
                    continue;
                }
                // The stripe, read ahead.
                let Ok(buf) = stripes.recv() else {
                    return Ok(()); // the reader stopped
                };
                let buf = buf?;
                let leaves = fs.leaves_of(s);
                let ls = entry.leaf_size.bytes() as usize;
                let digests: Vec<[u8; 32]> = match &self.model.leaves[fi] {
                    Some(signed) => {
                        let now = leaf_cvs_par(entry.leaf_size, leaves.start, &buf);
                        for (i, (a, b)) in now
                            .iter()
                            .zip(&signed[leaves.start as usize..leaves.end as usize])
                            .enumerate()
                        {
                            if a != b {
                                let leaf = leaves.start + i as u64;
                                return Err(Error::FileChanged {
                                    path: entry.path.clone(),
                                    leaf,
                                    offset: leaf * ls as u64,
                                });
                            }
                        }
                        now.iter().map(|c| *c.as_bytes()).collect()
                    }
                    None => {
                        let h = blake3::hash(&buf);
                        if h.as_bytes() != entry.root.as_bytes() {
                            return Err(Error::FileChanged {
                                path: entry.path.clone(),
                                leaf: 0,
                                offset: 0,
                            });
                        }
                        vec![*h.as_bytes()]
                    }
                };
                let leaf_slices: Vec<&[u8]> = buf.chunks(ls).collect();
                let n_data = leaf_slices.len();
                let need_parity = own_slots.iter().any(|(j, sl)| {
                    *j >= n_data && !self.done.contains(&(plan.blob_of_slot(*sl) as u64))
                });
                let parity = if need_parity {
                    coder.encode(&leaf_slices)?
                } else {
                    Vec::new()
                };
                for &(j, sl) in &own_slots {
                    let b = plan.blob_of_slot(sl);
                    if self.done.contains(&(b as u64)) {
                        continue;
                    }
                    let o = match &mut open {
                        Some(o) if o.id == b => o,
                        _ => {
                            let size = plan.blobs[b].size;
                            let permit = self
                                .rt
                                .block_on(
                                    self.sem
                                        .clone()
                                        .acquire_many_owned(size.div_ceil(1024) as u32),
                                )
                                .map_err(|_| Error::Interrupted {
                                    done: 0,
                                    total: own as u64,
                                    reason: "stopped".into(),
                                })?;
                            open.insert(Open {
                                id: b,
                                bytes: Vec::with_capacity(size),
                                parity: Vec::new(),
                                permit,
                            })
                        }
                    };
                    let (kind, payload, digest) = if j < n_data {
                        (fs.data_kind(), leaf_slices[j], digests[j])
                    } else {
                        let p = &parity[j - n_data];
                        let d = *blake3::hash(p).as_bytes();
                        o.parity.push(d);
                        (Kind::Parity, p.as_slice(), d)
                    };
                    let header = Header {
                        kind,
                        model: self.model.id,
                        file: fi as u32,
                        stripe: s,
                        shard: j as u16,
                        data_shards: g.data,
                        parity_shards: g.parity,
                        leaf_size: entry.leaf_size,
                    };
                    debug_assert_eq!(o.bytes.len() as u32, refs[j].offset);
                    header.encode_into(&digest, payload, &mut o.bytes);
                    if sl + 1 == plan.blobs[b].slots.end {
                        let o = open.take().expect("open blob");
                        self.finish(o)?;
                    }
                }
                drop(leaf_slices);
                let _ = spare.send(buf);
            }
        }
        Ok(())
    }

    fn finish(&self, o: Open) -> Result<()> {
        debug_assert_eq!(o.bytes.len(), self.plan.blobs[o.id].size);
        let found = if self.on_layer.is_empty() {
            None
        } else {
            self.on_layer.get(blake3::hash(&o.bytes).as_bytes())
        };
        let msg = match found {
            Some(r) => Produced::Found(o.id as u64, r.clone(), o.parity),
            None => Produced::Blob(Built {
                id: o.id as u64,
                bytes: o.bytes,
                parity: o.parity,
                _permit: o.permit,
            }),
        };
        self.tx
            .blocking_send(Ok(msg))
            .map_err(|_| Error::Interrupted {
                done: 0,
                total: self.plan.blobs.len() as u64,
                reason: "stopped".into(),
            })
    }
}

/// Opens a model file and checks that its size is the committed one.
fn open_checked(path: &Path, size: u64, rel: &str) -> Result<File> {
    let f = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::FileGone {
                path: rel.to_string(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len != size {
        return Err(Error::FileResized {
            path: rel.to_string(),
            was: size,
            now: len,
        });
    }
    Ok(f)
}
