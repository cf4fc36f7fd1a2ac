//! The handler of publication records (envelopes of kind `Record`): a
//! record that opened becomes a model (the first time), a publication, its
//! chunks and its lineage edges with their evidence; a record of a model
//! already published by the same key is a repost.

use std::collections::{BTreeSet, HashSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::Locator;
use modelda_manifest::sign::{Bundle, Statement};
use modelda_manifest::ModelId;
use modelda_wire::record::OpenedRecord;

use super::{hint_bytes, reject, HeightReport, Indexed};
use crate::reject::Code;
use crate::schema::{
    self, key, ChunkPlace, EdgeEntry, EdgeStatus, Evidence, ModelEntry, PubId, PublicationEntry,
    PublisherEntry,
};
use crate::store::Overlay;
use crate::Result;

/// Most ancestors a lineage cycle check visits. Claims beyond it are not
/// followed (the walk is in key order, so every replica stops at the same
/// place).
pub const MAX_LINEAGE_WALK: usize = 100_000;

/// Indexes the opened record `rec`, read at `id`: a new publication (and
/// the model, the first time), a repost, or a rejection of its lineage.
pub(super) fn apply(
    ov: &mut Overlay<'_>,
    id: PubId,
    locator: &Locator,
    rec: &OpenedRecord,
    report: &mut HeightReport,
) -> Result<()> {
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
