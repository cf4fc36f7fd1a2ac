//! Turning the blobs of one height into index entries: every root page is
//! opened and checked with [`modelda_wire::record::open_blob`] before
//! anything is written; what fails becomes a rejection with a stable code;
//! what passes becomes a model, a publication, its chunks and its lineage
//! edges. One height is one write batch, with the checkpoint inside it.

use std::collections::{BTreeSet, HashSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::{DaLayer, Locator};
use modelda_manifest::sign::{Bundle, Statement};
use modelda_manifest::ModelId;
use modelda_wire::record::{self, OpenedRecord};
use modelda_wire::{Envelope, Kind};

use crate::reject::{classify, Code, Verdict};
use crate::schema::{
    self, key, ChunkPlace, EdgeEntry, EdgeStatus, Evidence, ModelEntry, PubId, PublicationEntry,
    PublisherEntry, Rejection,
};
use crate::store::{Index, Overlay};
use crate::{Error, Result};

/// Most ancestors a lineage cycle check visits. Claims beyond it are not
/// followed (the walk is in key order, so every replica stops at the same
/// place).
pub const MAX_LINEAGE_WALK: usize = 100_000;

/// What one height (or one registration) added.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HeightReport {
    /// The height (0 for a registration).
    pub height: u64,
    /// Blobs read in the record namespace.
    pub blobs: u64,
    /// Records indexed as new publications.
    pub indexed: Vec<Indexed>,
    /// Records that repeat a publication (same model, same key).
    pub reposts: u64,
    /// Records refused.
    pub rejected: Vec<Rejection>,
    /// Envelopes of other kinds than records (skipped after the header).
    pub skipped: u64,
}

/// A record indexed as a new publication.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Indexed {
    /// Where it was read.
    pub id: PubId,
    /// The model.
    pub model_id: ModelId,
    /// Its locator.
    pub locator: String,
    /// Leaves indexed as chunks.
    pub leaves: u64,
}

/// What reading one blob came to.
enum Read {
    /// A record page other than a root, or another kind of envelope.
    Skip { other_kind: bool },
    /// A root page that opened.
    Record(Box<OpenedRecord>),
    /// A blob refused.
    Reject(Code, String),
}

/// Opens the blob at `locator` if it is a root page. Reads only the header
/// of anything else. A layer failure (not the record's fault) is an error:
/// the height is read again.
async fn read(layer: &dyn DaLayer, locator: &Locator, blob: &[u8]) -> Result<Read> {
    let header = match Envelope::peek(blob) {
        Ok((h, _)) => h,
        Err(e) => {
            return match classify(e) {
                Verdict::Reject(code, message) => Ok(Read::Reject(code, message)),
                Verdict::Retry(e) => Err(Error::Da(e)),
            }
        }
    };
    if header.kind != Kind::Record {
        return Ok(Read::Skip { other_kind: true });
    }
    if header.stripe != 0 {
        return Ok(Read::Skip { other_kind: false });
    }
    // The root page's own digest first, for a precise reason code.
    if let Err(e) = Envelope::decode(blob) {
        return match classify(e) {
            Verdict::Reject(code, message) => Ok(Read::Reject(code, message)),
            Verdict::Retry(e) => Err(Error::Da(e)),
        };
    }
    match record::open_blob(layer, locator, blob, None, None).await {
        Ok(r) => Ok(Read::Record(Box::new(r))),
        Err(e) => match classify(e) {
            Verdict::Reject(code, message) => Ok(Read::Reject(code, message)),
            Verdict::Retry(e) => Err(Error::Da(e)),
        },
    }
}

/// Indexes the blobs of the record namespace at `height` (in the layer's
/// order) and writes them with the checkpoint in one batch. Nothing is
/// written when the layer fails; the caller reads the height again.
pub async fn ingest_height(
    index: &Index,
    layer: &dyn DaLayer,
    height: u64,
    blobs: &[(Locator, Vec<u8>)],
) -> Result<HeightReport> {
    let _writing = index.writes.lock().await;
    let mut report = HeightReport {
        height,
        blobs: blobs.len() as u64,
        ..HeightReport::default()
    };
    let mut ov = Overlay::new(index);
    for (i, (locator, blob)) in blobs.iter().enumerate() {
        let id = PubId {
            height,
            index: u32::try_from(i).unwrap_or(u32::MAX),
        };
        let read = read(layer, locator, blob).await?;
        apply(&mut ov, id, locator, read, &mut report)?;
    }
    ov.count("skipped", report.skipped)?;
    ov.commit(Some(height))?;
    Ok(report)
}

/// Indexes the record at `locator` (an EigenDA cert, or any locator) by
/// hand. Idempotent: a locator registered before is not read again.
pub async fn register(
    index: &Index,
    layer: &dyn DaLayer,
    locator: &Locator,
) -> Result<HeightReport> {
    let _writing = index.writes.lock().await;
    let mut ov = Overlay::new(index);
    let reg_key = format!("registered/{locator}").into_bytes();
    if let Some(v) = ov.get(schema::CF_META, &reg_key)? {
        let id =
            PubId::from_bytes(&v).ok_or_else(|| index.corrupt("registration", "not 12 bytes"))?;
        let mut report = HeightReport::default();
        if let Some(p) =
            index.get_json::<PublicationEntry>(schema::CF_PUBS, &id.to_bytes(), "publication")?
        {
            report.indexed.push(Indexed {
                id,
                model_id: p.model_id,
                locator: p.record,
                leaves: p.leaves,
            });
        } else if let Some(r) =
            index.get_json::<Rejection>(schema::CF_REJECTIONS, &id.to_bytes(), "rejection")?
        {
            report.rejected.push(r);
        }
        return Ok(report);
    }
    let n = match ov.get(schema::CF_META, schema::META_REGISTERED)? {
        Some(v) => <[u8; 4]>::try_from(&v[..])
            .map(u32::from_be_bytes)
            .map_err(|_| index.corrupt("registration count", "not 4 bytes"))?,
        None => 0,
    };
    let id = PubId::registered(n);
    let blob = layer.get(locator).await?;
    let mut report = HeightReport {
        blobs: 1,
        ..HeightReport::default()
    };
    let read = read_root(layer, locator, &blob).await?;
    apply(&mut ov, id, locator, read, &mut report)?;
    ov.put(
        schema::CF_META,
        schema::META_REGISTERED,
        (n + 1).to_be_bytes().to_vec(),
    );
    ov.put(schema::CF_META, &reg_key, id.to_bytes().to_vec());
    ov.commit(None)?;
    Ok(report)
}

/// Indexes the record at `locator` as publication `id`, as another node's
/// index lists it (`modelda archive sync`, for heights this node's layer
/// has pruned): the record is read through `layer` and checked exactly as
/// if this node had read it at that height. `None` when the index holds
/// `id` already; an error when it holds another record there.
pub async fn adopt(
    index: &Index,
    layer: &dyn DaLayer,
    id: PubId,
    locator: &Locator,
) -> Result<Option<HeightReport>> {
    let _writing = index.writes.lock().await;
    let held = |record: &str| -> Result<Option<HeightReport>> {
        if record == locator.to_string() {
            Ok(None)
        } else {
            Err(Error::Unsupported(format!(
                "publication {id} is {record} in this index, not {locator}"
            )))
        }
    };
    if let Some(p) =
        index.get_json::<PublicationEntry>(schema::CF_PUBS, &id.to_bytes(), "publication")?
    {
        return held(&p.record);
    }
    if let Some(r) =
        index.get_json::<Rejection>(schema::CF_REJECTIONS, &id.to_bytes(), "rejection")?
    {
        return held(&r.locator);
    }
    let blob = layer.get(locator).await?;
    let mut report = HeightReport {
        height: id.height,
        blobs: 1,
        ..HeightReport::default()
    };
    let read = read_root(layer, locator, &blob).await?;
    let mut ov = Overlay::new(index);
    apply(&mut ov, id, locator, read, &mut report)?;
    ov.commit(None)?;
    Ok(Some(report))
}

/// Moves the checkpoint to `height` (never back): the heights up to it
/// count as read. `archive sync` does this after adopting another node's
/// publications of heights this node's layer pruned.
pub async fn advance(index: &Index, height: u64) -> Result<()> {
    let _writing = index.writes.lock().await;
    if index.checkpoint().is_some_and(|c| c >= height) {
        return Ok(());
    }
    Overlay::new(index).commit(Some(height))
}

/// [`read`] of a blob named as a record's root page (registered by hand,
/// or adopted from another index): anything else is refused.
async fn read_root(layer: &dyn DaLayer, locator: &Locator, blob: &[u8]) -> Result<Read> {
    Ok(match read(layer, locator, blob).await? {
        Read::Skip { .. } => Read::Reject(
            Code::Inconsistent,
            format!("{locator} is not the root page of a publication record"),
        ),
        r => r,
    })
}

fn apply(
    ov: &mut Overlay<'_>,
    id: PubId,
    locator: &Locator,
    read: Read,
    report: &mut HeightReport,
) -> Result<()> {
    let rec = match read {
        Read::Skip { other_kind } => {
            if other_kind {
                report.skipped += 1;
            }
            return Ok(());
        }
        Read::Reject(code, message) => {
            reject(ov, id, locator, code, message, report)?;
            return Ok(());
        }
        Read::Record(rec) => rec,
    };
    let parents: Vec<ModelId> = rec
        .claims
        .manifest
        .lineage
        .iter()
        .map(|c| c.parent)
        .collect();
    if let Some((code, message)) = check_lineage(ov, rec.model_id(), &parents)? {
        reject(ov, id, locator, code, message, report)?;
        return Ok(());
    }
    let model = rec.model_id();
    let hint = rec.key.hint();
    let hint_bytes = hint_bytes(&hint);
    let signer_key = key::pair(model.as_bytes(), &hint_bytes);
    if let Some(first) = ov.get(schema::CF_SIGNERS, &signer_key)? {
        // The same model by the same key: nothing new to index.
        let first = PubId::from_bytes(&first)
            .ok_or_else(|| ov.index().corrupt("signer entry", "not 12 bytes"))?;
        let mut p: PublicationEntry = ov
            .get_json(schema::CF_PUBS, &first.to_bytes(), "publication")?
            .ok_or_else(|| {
                ov.index()
                    .corrupt("publication", format!("{first} is missing"))
            })?;
        p.reposts += 1;
        ov.put_json(schema::CF_PUBS, &first.to_bytes(), &p);
        ov.count("reposts", 1)?;
        report.reposts += 1;
        return Ok(());
    }

    // The model, its tensors and its lineage, the first time it is seen.
    if !ov.contains(schema::CF_MODELS, model.as_bytes())? {
        let entry = ModelEntry {
            model_id: model,
            name: claims_name(&rec.publication.claims),
            manifest: rec.claims.manifest.clone(),
            leaves: rec.claims.leaves.clone(),
            first: id,
        };
        if !entry.name.is_empty() {
            ov.put_blind(
                schema::CF_NAMES,
                &key::name(&entry.name, model.as_bytes()),
                Vec::new(),
            );
        }
        for (fi, f) in entry.manifest.files.iter().enumerate() {
            ov.put_blind(
                schema::CF_FILES,
                &key::file(f.root.as_bytes(), model.as_bytes(), fi as u32),
                Vec::new(),
            );
            for (ti, t) in f.tensors.iter().enumerate() {
                ov.put_blind(
                    schema::CF_TENSORS,
                    &key::tensor(t.blake3.as_bytes(), model.as_bytes(), fi as u32, ti as u32),
                    Vec::new(),
                );
            }
        }
        for claim in &entry.manifest.lineage {
            let parent = claim.parent;
            let edge =
                match ov.get_json::<ModelEntry>(schema::CF_MODELS, parent.as_bytes(), "model")? {
                    Some(p) => EdgeEntry {
                        claim: *claim,
                        status: EdgeStatus::Resolved,
                        evidence: Some(evidence(&entry, &p)),
                    },
                    None => {
                        ov.put(
                            schema::CF_PENDING,
                            &key::pair(parent.as_bytes(), model.as_bytes()),
                            Vec::new(),
                        );
                        EdgeEntry {
                            claim: *claim,
                            status: EdgeStatus::Pending,
                            evidence: None,
                        }
                    }
                };
            ov.put_json(
                schema::CF_EDGES,
                &key::pair(model.as_bytes(), parent.as_bytes()),
                &edge,
            );
            ov.put(
                schema::CF_EDGES_REV,
                &key::pair(parent.as_bytes(), model.as_bytes()),
                Vec::new(),
            );
        }
        // Children that were waiting for this model.
        for k in ov.keys_with_prefix(schema::CF_PENDING, model.as_bytes(), usize::MAX)? {
            let child = ModelId::from_bytes(k[32..64].try_into().expect("64-byte key"));
            let edge_key = key::pair(child.as_bytes(), model.as_bytes());
            let c: ModelEntry = ov
                .get_json(schema::CF_MODELS, child.as_bytes(), "model")?
                .ok_or_else(|| ov.index().corrupt("model", format!("{child} is missing")))?;
            let mut edge: EdgeEntry = ov
                .get_json(schema::CF_EDGES, &edge_key, "edge")?
                .ok_or_else(|| {
                    ov.index()
                        .corrupt("edge", format!("{child} -> {model} is missing"))
                })?;
            edge.status = EdgeStatus::Resolved;
            edge.evidence = Some(evidence(&c, &entry));
            ov.put_json(schema::CF_EDGES, &edge_key, &edge);
            ov.delete(schema::CF_PENDING, &k);
        }
        ov.put_json(schema::CF_MODELS, model.as_bytes(), &entry);
    }

    // The publication, its blobs and its chunks.
    let g = rec.geometry();
    let mut leaves = 0u64;
    for (fi, f) in rec.files.iter().enumerate() {
        let k = u64::from(g.data);
        for leaf in 0..f.stripes.leaves() {
            let stripe = leaf / k;
            let shard = (leaf % k) as u16;
            let r = f.refs[f.stripe_starts[stripe as usize] + usize::from(shard)];
            let place = ChunkPlace {
                blob: r.blob,
                offset: r.offset,
                stripe,
                shard,
            };
            ov.put_blind(
                schema::CF_CHUNKS,
                &key::chunk(&f.leaf_digest(leaf), id, fi as u32, leaf),
                place.to_bytes().to_vec(),
            );
            leaves += 1;
        }
    }
    for (bi, b) in rec.blobs.iter().enumerate() {
        ov.put_blind(
            schema::CF_PUB_BLOBS,
            &key::pub_blob(id, bi as u32),
            b.to_string().into_bytes(),
        );
    }
    let p = &rec.publication;
    let entry = PublicationEntry {
        id,
        model_id: model,
        record: locator.to_string(),
        layer: p.layer.to_string(),
        namespace: p.namespace.map(|n| n.to_string()),
        signer: hint.clone(),
        data_shards: p.data_shards,
        parity_shards: p.parity_shards,
        blobs: rec.blobs.len() as u32,
        leaves,
        reused_from: p.reused_from.clone(),
        reposts: 0,
    };
    ov.put_json(schema::CF_PUBS, &id.to_bytes(), &entry);
    ov.put_blind(
        schema::CF_CLAIMS,
        &id.to_bytes(),
        p.claims.as_bytes().to_vec(),
    );
    ov.put(
        schema::CF_MODEL_PUBS,
        &key::model_pub(model.as_bytes(), id),
        Vec::new(),
    );
    ov.put(schema::CF_SIGNERS, &signer_key, id.to_bytes().to_vec());
    if !ov.contains(schema::CF_PUBLISHERS, &hint_bytes)? {
        ov.put_json(
            schema::CF_PUBLISHERS,
            &hint_bytes,
            &PublisherEntry {
                hint: hint.clone(),
                public_key: rec.key.to_pem(),
                first: id,
            },
        );
    }
    let pm = key::pair(&hint_bytes, model.as_bytes());
    if !ov.contains(schema::CF_PUBLISHER_MODELS, &pm)? {
        ov.put(schema::CF_PUBLISHER_MODELS, &pm, id.to_bytes().to_vec());
    }
    ov.count("records", 1)?;
    report.indexed.push(Indexed {
        id,
        model_id: model,
        locator: locator.to_string(),
        leaves,
    });
    Ok(())
}

fn reject(
    ov: &mut Overlay<'_>,
    id: PubId,
    locator: &Locator,
    code: Code,
    message: String,
    report: &mut HeightReport,
) -> Result<()> {
    let r = Rejection {
        id,
        locator: locator.to_string(),
        code: code.as_str().to_string(),
        message,
    };
    ov.put_json(schema::CF_REJECTIONS, &id.to_bytes(), &r);
    ov.count("rejections", 1)?;
    ov.count(&format!("rejections/{code}"), 1)?;
    report.rejected.push(r);
    Ok(())
}

/// The 32 bytes of a key hint (64 hex digits, as `PublicKey::hint` makes).
/// The subject name of a claims bundle whose signature was checked (empty
/// when it has none); at most [`MAX_NAME_BYTES`], cut at a character.
fn claims_name(claims: &str) -> String {
    let label = std::path::Path::new("claims");
    let name = Bundle::from_json(label, claims.as_bytes())
        .and_then(|b| b.payload(label))
        .ok()
        .and_then(|p| serde_json::from_slice::<Statement<serde::de::IgnoredAny>>(&p).ok())
        .and_then(|st| st.subject.into_iter().next())
        .map(|s| s.name)
        .unwrap_or_default();
    let mut end = name.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// Longest model name kept.
pub const MAX_NAME_BYTES: usize = 256;

fn hint_bytes(hint: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    // A hint is always 64 hex digits (SHA-256 of the PEM).
    hex::decode_to_slice(hint, &mut b).expect("a key hint is 64 hex digits");
    b
}

/// A lineage claim the index refuses: a model that is its own parent, or a
/// parent that descends from the model (the claim would close a cycle).
pub(crate) fn check_lineage(
    ov: &Overlay<'_>,
    model: ModelId,
    parents: &[ModelId],
) -> Result<Option<(Code, String)>> {
    for parent in parents {
        if *parent == model {
            return Ok(Some((
                Code::LineageSelf,
                format!("model {model} claims itself as its parent"),
            )));
        }
    }
    if ov.contains(schema::CF_MODELS, model.as_bytes())? {
        // Its edges are already in the index (from its first publication).
        return Ok(None);
    }
    // Walk up from the claimed parents; reaching the model is a cycle.
    let mut seen: HashSet<ModelId> = HashSet::new();
    let mut todo: Vec<ModelId> = parents.to_vec();
    while let Some(m) = todo.pop() {
        if m == model {
            return Ok(Some((
                Code::LineageCycle,
                format!(
                    "model {model} descends from its claimed parent: the claim would close a cycle"
                ),
            )));
        }
        if seen.len() >= MAX_LINEAGE_WALK || !seen.insert(m) {
            continue;
        }
        for k in ov.keys_with_prefix(schema::CF_EDGES, m.as_bytes(), 1024)? {
            todo.push(ModelId::from_bytes(
                k[32..64].try_into().expect("64-byte key"),
            ));
        }
    }
    Ok(None)
}

/// Every chunk commitment of a model: the leaf chaining values of its files
/// of two or more leaves, the roots of the others.
fn chunk_set(m: &ModelEntry) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for f in &m.manifest.files {
        match m.leaves.get(&f.path).and_then(|b| B64.decode(b).ok()) {
            Some(raw) => out.extend(
                raw.chunks_exact(32)
                    .map(|c| <[u8; 32]>::try_from(c).expect("32 bytes")),
            ),
            None => out.push(*f.root.as_bytes()),
        }
    }
    out
}

/// Compares a child with its parent: tensors with the same hash, leaves
/// with the same commitment, and the tensors that are new.
pub fn evidence(child: &ModelEntry, parent: &ModelEntry) -> Evidence {
    let parent_tensors: HashSet<[u8; 32]> = parent
        .manifest
        .files
        .iter()
        .flat_map(|f| f.tensors.iter().map(|t| *t.blake3.as_bytes()))
        .collect();
    let mut ev = Evidence::default();
    for f in &child.manifest.files {
        for t in &f.tensors {
            ev.child_tensors += 1;
            if parent_tensors.contains(t.blake3.as_bytes()) {
                ev.identical_tensors += 1;
                ev.identical_bytes += t.end.saturating_sub(t.start);
            } else {
                ev.new_tensor_count += 1;
                if ev.new_tensors.len() < Evidence::MAX_NEW_TENSORS {
                    ev.new_tensors.push(format!("{}:{}", f.path, t.name));
                }
            }
        }
    }
    let parent_leaves: BTreeSet<[u8; 32]> = chunk_set(parent).into_iter().collect();
    for c in chunk_set(child) {
        ev.child_leaves += 1;
        if parent_leaves.contains(&c) {
            ev.shared_leaves += 1;
        }
    }
    ev.supported = ev.identical_tensors > 0 || ev.shared_leaves > 0;
    ev
}

#[cfg(test)]
mod tests;
