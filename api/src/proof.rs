//! Building inclusion documents (see `modelda_wire::inclusion`): the
//! server's half. Nothing here is trusted by a verifier; every part is
//! checked by `modelda_wire::inclusion::verify`.
//!
//! Only what the asked bytes need travels: the envelope header of each
//! covered leaf, the 1 KiB chunks of the asked bytes (whole leaves in the
//! middle of the range), and on square layers only the shares that hold
//! those, in runs. Hashing (subtree roots, sub-leaf proofs) runs on the
//! blocking pool, at most [`crate::state::PROVERS`] at a time, so that a slow proof never
//! holds an executor thread.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::square::parts::{self, BlobShares, ShareRun};
use modelda_da::Locator;
use modelda_indexer::schema::{ModelEntry, PubId};
use modelda_manifest::{FileEntry, ModelId};
use modelda_merkle::{Commitment, LeafCv, LeafPartProof};
use modelda_wire::envelope::HEADER_LEN;
use modelda_wire::inclusion::{
    plan, BlobInclusion, Evidence, InclusionDocument, LeafPlace, DOCUMENT_KIND, DOCUMENT_VERSION,
    MAX_BLOB_BYTES, MAX_LEAVES,
};

use crate::error::{ApiError, Code};
use crate::state::{land, Api, Document};

/// What to prove of a file.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) enum Target {
    /// One leaf.
    Leaf(u64),
    /// A byte range.
    Range(Range<u64>),
    /// A tensor, by name.
    Tensor(String),
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::BadInput, message)
}

/// The leaf chaining values of a file, from the index (as the signed claims
/// list them); none for a file of one leaf, whose root is its commitment.
pub(crate) fn leaf_cvs(model: &ModelEntry, f: &FileEntry) -> Result<Vec<LeafCv>, ApiError> {
    if f.leaf_size.leaf_count(f.size) < 2 {
        return Ok(Vec::new());
    }
    let b64 = model.leaves.get(&f.path).ok_or_else(|| {
        ApiError::internal(format!(
            "model {} lists no leaves of {}",
            model.model_id, f.path
        ))
    })?;
    let raw = B64.decode(b64).map_err(ApiError::internal)?;
    Ok(raw
        .chunks_exact(32)
        .map(|c| LeafCv::from_bytes(c.try_into().expect("32-byte chunks")))
        .collect())
}

/// The commitment leaf `leaf` of `f` carries (see [`leaf_digest`]).
pub(crate) fn leaf_commitment(
    model: &ModelEntry,
    f: &FileEntry,
    leaf: u64,
) -> Result<[u8; 32], ApiError> {
    Ok(leaf_digest(&leaf_cvs(model, f)?, f, leaf))
}

/// The commitment leaf `leaf` of `f` carries: its chaining value, or the
/// file's root for a file of one leaf.
pub(crate) fn leaf_digest(cvs: &[LeafCv], f: &FileEntry, leaf: u64) -> [u8; 32] {
    match cvs.get(leaf as usize) {
        Some(cv) => *cv.as_bytes(),
        None => *f.root.as_bytes(),
    }
}

/// One covered leaf: where its envelope is, and which of its bytes travel.
struct Covered {
    leaf: u64,
    slot: u32,
    offset: u32,
    /// Bytes of the leaf that travel (relative to its start).
    span: Range<u64>,
    /// Its length.
    len: u64,
}

/// Builds the inclusion document of `target` of file `path` of `model`, as
/// stored by publication `publication` (default: the model's first).
pub(crate) async fn build(
    api: &Api,
    model: ModelId,
    path: &str,
    target: Target,
    publication: Option<PubId>,
) -> Result<InclusionDocument, ApiError> {
    let index = api.index();
    let entry = api
        .model(&model)?
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("no model {model} is indexed")))?;
    let (fi, f) = entry
        .manifest
        .files
        .iter()
        .enumerate()
        .find(|(_, f)| f.path == path)
        .ok_or_else(|| {
            ApiError::new(
                Code::NotFound,
                format!("model {model} has no file {path:?}"),
            )
        })?;
    let ls = f.leaf_size;
    let n_leaves = ls.leaf_count(f.size);
    let (range, tensor) = match target {
        Target::Leaf(i) => {
            if i >= n_leaves {
                return Err(bad(format!(
                    "{path:?} has {n_leaves} leaves; leaf {i} is past them"
                )));
            }
            (ls.leaf_bytes(f.size, i), None)
        }
        Target::Range(r) => {
            if r.start >= r.end || r.end > f.size {
                return Err(bad(format!(
                    "bytes {}..{} are not a non-empty range of {path:?} ({} bytes)",
                    r.start, r.end, f.size
                )));
            }
            (r, None)
        }
        Target::Tensor(name) => {
            let t = f.tensors.iter().find(|t| t.name == name).ok_or_else(|| {
                ApiError::new(Code::NotFound, format!("{path:?} has no tensor {name:?}"))
            })?;
            if t.start == t.end {
                return Err(bad(format!("tensor {name:?} holds no bytes to prove")));
            }
            (t.start..t.end, Some(name))
        }
    };
    let leaves = ls
        .leaves_of(f.size, range.clone())
        .map_err(|e| bad(e.to_string()))?;
    if leaves.end - leaves.start > MAX_LEAVES {
        return Err(ApiError::new(
            Code::ProofTooLarge,
            format!(
                "the range covers {} leaves; a proof covers at most {MAX_LEAVES}: prove a \
                 narrower range",
                leaves.end - leaves.start
            ),
        ));
    }
    let pid = publication.unwrap_or(entry.first);
    let p = index
        .publication(pid)?
        .filter(|p| p.model_id == model)
        .ok_or_else(|| {
            ApiError::new(
                Code::NotFound,
                format!("publication {pid} is not a publication of model {model}"),
            )
        })?;
    let claims = index
        .claims(p.id)?
        .ok_or_else(|| ApiError::internal(format!("publication {pid} has no claims stored")))?;
    let cvs = leaf_cvs(&entry, f)?;
    let merkle = if n_leaves >= 2 {
        let c = Commitment::from_leaves(f.size, ls, cvs.clone()).map_err(ApiError::internal)?;
        let proof = c.prove(range.clone()).map_err(|e| bad(e.to_string()))?;
        Some(B64.encode(proof.encode()))
    } else {
        None
    };
    // Each leaf's place, the blobs that hold them, and what travels.
    let mut blob_slots: BTreeMap<u32, u32> = BTreeMap::new();
    let mut locators = Vec::new();
    let mut covered = Vec::new();
    for leaf in leaves.clone() {
        let digest = leaf_digest(&cvs, f, leaf);
        let place = index
            .chunk_place(&digest, p.id, fi as u32, leaf)?
            .ok_or_else(|| {
                ApiError::internal(format!("{pid}: leaf {leaf} of {path} has no place"))
            })?;
        let slot = match blob_slots.get(&place.blob) {
            Some(s) => *s,
            None => {
                let loc = index.publication_blob(p.id, place.blob)?.ok_or_else(|| {
                    ApiError::internal(format!("{pid}: blob {} has no locator", place.blob))
                })?;
                let loc: Locator = loc.parse().map_err(ApiError::internal)?;
                let s = locators.len() as u32;
                locators.push(loc);
                blob_slots.insert(place.blob, s);
                s
            }
        };
        let (span, len) = plan::leaf_span(ls, f.size, leaf, &range);
        covered.push(Covered {
            leaf,
            slot,
            offset: place.offset,
            span,
            len,
        });
    }
    let mut blobs = Vec::with_capacity(locators.len());
    let mut parts_of: Vec<Option<String>> = vec![None; covered.len()];
    let mut total = 0usize;
    for (slot, loc) in locators.iter().enumerate() {
        let data = api.blob(loc).await?;
        let mine: Vec<(usize, &Covered)> = covered
            .iter()
            .enumerate()
            .filter(|(_, c)| c.slot == slot as u32)
            .collect();
        // Sub-leaf proofs of the leaves that travel in part.
        let partial: Vec<(usize, u64, u32, Range<u64>, u64)> = mine
            .iter()
            .filter(|(_, c)| c.span != (0..c.len))
            .map(|(i, c)| (*i, c.leaf, c.offset, c.span.clone(), c.len))
            .collect();
        if !partial.is_empty() {
            let d = data.clone();
            let proofs = api
                .hashing(move || {
                    partial
                        .into_iter()
                        .map(|(i, leaf, offset, span, len)| {
                            let at = offset as usize + HEADER_LEN;
                            let bytes = d.get(at..at + len as usize).ok_or_else(|| {
                                ApiError::internal(format!("leaf {leaf} runs past its blob"))
                            })?;
                            let p = LeafPartProof::prove(ls, leaf, bytes, span)
                                .map_err(ApiError::internal)?;
                            Ok((i, B64.encode(p.encode())))
                        })
                        .collect::<Result<Vec<_>, ApiError>>()
                })
                .await?;
            for (i, p) in proofs {
                parts_of[i] = Some(p);
            }
        }
        let spans = plan::blob_spans(mine.iter().map(|(_, c)| (c.offset, c.span.clone())));
        let (evidence, carried) = match api.blob_layout(loc).await? {
            Some(layout) => {
                let runs = plan::share_runs(&spans, layout.blob_shares);
                let mut out = Vec::with_capacity(runs.len());
                let mut carried = 0usize;
                for r in runs {
                    let square = api.share_proof(loc, r.clone()).await?;
                    carried += square.data.len() * parts::SHARE_BYTES;
                    let (d, ns) = (data.clone(), layout.namespace);
                    out.push(
                        api.hashing(move || {
                            ShareRun::build(ns, &d, r.start, square).map_err(ApiError::internal)
                        })
                        .await?,
                    );
                }
                (
                    Evidence::Shares(BlobShares {
                        v: BlobShares::VERSION,
                        height: layout.height,
                        blob_shares: layout.blob_shares,
                        subtree_roots: layout.roots.as_str().to_owned(),
                        runs: out,
                    }),
                    carried,
                )
            }
            None => {
                let da = api.da_proof(loc).await?;
                let b64 = match da.data_b64.get() {
                    Some(d) => d.clone(),
                    None => da
                        .data_b64
                        .get_or_init(|| Arc::new(B64.encode(data.as_slice())))
                        .clone(),
                };
                (
                    Evidence::Whole {
                        data: b64.as_str().to_owned(),
                        proof: da.proof.clone(),
                    },
                    data.len(),
                )
            }
        };
        total += carried;
        if total > MAX_BLOB_BYTES / 4 * 3 {
            return Err(ApiError::new(
                Code::ProofTooLarge,
                "the blobs holding this range are more than a proof may carry: prove a \
                 narrower range",
            ));
        }
        blobs.push(BlobInclusion {
            locator: loc.to_string(),
            data_root: api.data_root(loc).await?.map(hex::encode),
            evidence,
        });
    }
    let places = covered
        .iter()
        .zip(parts_of)
        .map(|(c, part)| LeafPlace {
            leaf: c.leaf,
            blob: c.slot,
            offset: c.offset,
            part,
        })
        .collect();
    Ok(InclusionDocument {
        kind: DOCUMENT_KIND.to_string(),
        v: DOCUMENT_VERSION,
        model_id: model,
        file: path.to_string(),
        bytes: [range.start, range.end],
        tensor,
        claims,
        merkle,
        leaves: places,
        blobs,
    })
}

impl Api {
    /// Most inclusion documents kept between requests.
    const DOCUMENTS: usize = 64;

    /// The inclusion document of `target` of file `path` of `model`, built
    /// once however many ask at the same time. The work runs in its own
    /// task: a request that gives up (its deadline passed) leaves it going,
    /// and the next request for the same document picks it up.
    pub(crate) async fn inclusion_document(
        &self,
        model: ModelId,
        path: String,
        target: Target,
        publication: Option<PubId>,
    ) -> Result<Arc<Document>, ApiError> {
        let key = format!("{model}\n{path}\n{target:?}\n{publication:?}");
        let cell = {
            let mut docs = self.lock_documents();
            if docs.len() >= Self::DOCUMENTS && !docs.contains_key(&key) {
                // Finished documents are in the answer cache too.
                docs.retain(|_, c| c.get().is_none());
            }
            docs.entry(key.clone()).or_default().clone()
        };
        if let Some(d) = cell.get() {
            self.lock_documents().remove(&key);
            return Ok(d.clone());
        }
        let api = self.clone();
        let work = cell.clone();
        let task = tokio::spawn(async move {
            work.get_or_try_init(|| async {
                let doc = build(&api, model, &path, target, publication).await?;
                // Megabytes of JSON: written off the executor.
                api.hashing(move || {
                    let json = serde_json::value::to_raw_value(&doc).map_err(ApiError::internal)?;
                    Ok(Arc::new(Document { doc, json }))
                })
                .await
            })
            .await
            .cloned()
        });
        let r = task.await.map_err(ApiError::internal)?;
        // Taken (or failed): the next request builds afresh.
        land(&mut self.lock_documents(), &key, &cell);
        r
    }
}
