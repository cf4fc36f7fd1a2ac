//! Inclusion proofs of model bytes, and their verification.
//!
//! An [`InclusionDocument`] proves that some bytes of a file of a model are
//! what its signer committed to and that they are available on a DA layer.
//! It is what the API's `inclusionProof` returns (its `document` field), and
//! what a client saves and checks with [`verify`], trusting nothing the
//! server said. Verification does no I/O: [`needs`] lists what the
//! verifier must look up on its own DA node (data roots of headers, and
//! the layer's check of a whole blob), and [`verify`] takes the answers
//! as a [`Witness`]:
//!
//! 1. the signed claims (a DSSE bundle, exactly as signed): their signature,
//!    and the model id as the hash of the manifest inside;
//! 2. the file's entry in that manifest: its root, size and leaf size;
//! 3. each blob holding the leaves, against the data root of a header the
//!    verifier's own DA node gives:
//!    - on square layers (the embedded chain, Celestia) only the shares that
//!      hold the asked bytes travel, proven in the block and in the blob's
//!      share commitment ([`BlobShares`]);
//!    - where a layer proves only whole blobs, the whole blob travels with
//!      the layer's proof: Avail (a data proof covers a whole submission),
//!      EigenDA (the cert, re-read through the verifier's own proxy);
//! 4. each leaf's envelope header at its offset in its blob: this model,
//!    file and leaf index, and the leaf's chaining value;
//! 5. the leaves against the file root, with the BLAKE3 range proof; a leaf
//!    the range covers only in part travels as the 1 KiB chunks it needs,
//!    with a proof of its chaining value from them
//!    ([`LeafPartProof`](modelda_merkle::LeafPartProof));
//! 6. for a tensor, the BLAKE3 of its bytes against the signed tensor hash.
//!
//! Every count and size read from the document is bounded before anything
//! is allocated for it. Version 1 documents (whole blobs on every layer)
//! are refused with a version error.

use std::ops::Range;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::collections::BTreeMap;

use modelda_core::square::parts::{BlobPiece, BlobShares};
use modelda_core::{InclusionProof, Locator};
use modelda_manifest::sign::PublicKey;
use modelda_manifest::verify::open_claims;
use modelda_manifest::{FileEntry, ModelId};
use modelda_merkle::{LeafCv, RangeProof};
use serde::{Deserialize, Serialize};

use crate::record::MAX_RECORD_BYTES;
use crate::{Error, Result};

mod leaves;
pub mod plan;

/// The `kind` every document carries.
pub const DOCUMENT_KIND: &str = "modelda.inclusion";

/// The version this build writes and reads.
pub const DOCUMENT_VERSION: u32 = 2;

/// Most leaves one document proves.
pub const MAX_LEAVES: u64 = 1024;

/// Most blobs one document carries.
pub const MAX_BLOBS: usize = 1024;

/// Most blob bytes one document carries, in all: 256 MiB.
pub const MAX_BLOB_BYTES: usize = 256 << 20;

/// Everything a verifier needs to check some bytes of a model's file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionDocument {
    /// Always [`DOCUMENT_KIND`].
    pub kind: String,
    /// Format version ([`DOCUMENT_VERSION`]).
    pub v: u32,
    /// The model.
    pub model_id: ModelId,
    /// The file's path in the manifest.
    pub file: String,
    /// The proven byte range of the file (`[start, end)`).
    pub bytes: [u64; 2],
    /// The tensor the range is, when a tensor was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
    /// The signed claims bundle (JSON text, exactly as signed): the
    /// manifest, the leaves and the signer's key.
    pub claims: String,
    /// Base64 of the BLAKE3 range proof of the covered leaves under the
    /// file root (absent for a file of one leaf, whose root is the hash of
    /// its bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle: Option<String>,
    /// Where each covered leaf is, in leaf order.
    pub leaves: Vec<LeafPlace>,
    /// The blobs holding those leaves, with their DA evidence.
    pub blobs: Vec<BlobInclusion>,
}

/// Where one leaf of the proven range is stored, and how much of it
/// travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafPlace {
    /// Leaf index in the file.
    pub leaf: u64,
    /// Index in [`InclusionDocument::blobs`].
    pub blob: u32,
    /// Byte offset of the leaf's envelope in the blob.
    pub offset: u32,
    /// For a leaf the range covers only in part: base64 of the
    /// [`LeafPartProof`](modelda_merkle::LeafPartProof) of the chunks that
    /// travel. Absent: the whole leaf travels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

/// One blob, and the evidence that it (or part of it) is included.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobInclusion {
    /// Where the blob is (text form).
    pub locator: String,
    /// The header's data root (hex), as the server saw it (square layers);
    /// the verifier compares it with its own node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<String>,
    /// The evidence.
    pub evidence: Evidence,
}

/// What proves a blob's bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Evidence {
    /// Runs of the blob's shares, proven in the block and in the blob's
    /// share commitment (square layers).
    Shares(BlobShares),
    /// The whole blob and the layer's proof of it (layers that prove only
    /// whole blobs: Avail, EigenDA).
    Whole {
        /// The blob's bytes, base64.
        data: String,
        /// The layer's inclusion proof.
        proof: InclusionProof,
    },
}

/// What [`verify`] checked.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// The model.
    pub model_id: ModelId,
    /// Hint of the key that signed the claims.
    pub signer: String,
    /// Whether that key was pinned by the caller (otherwise the key the
    /// claims carry was used: integrity, not identity).
    pub pinned: bool,
    /// The file.
    pub file: String,
    /// The proven byte range.
    pub bytes: Range<u64>,
    /// The tensor, when one was proven (its hash checked).
    pub tensor: Option<String>,
    /// BLAKE3 of the proven bytes (hex).
    pub blake3: String,
    /// The blobs whose inclusion was checked, with the height of each
    /// (absent on layers without heights).
    pub blobs: Vec<(String, Option<u64>)>,
    /// The proven bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
}

pub(crate) fn bad(part: &'static str, reason: impl Into<String>) -> Error {
    Error::Inclusion {
        part,
        reason: reason.into(),
    }
}

/// Parses a document from JSON: the document itself, or an API answer
/// holding it as the `document` field (at any depth of `data`). A document
/// of another version is refused with a version error.
pub fn parse(json: &[u8]) -> Result<InclusionDocument> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| bad("document", e.to_string()))?;
    fn find(v: &serde_json::Value) -> Option<&serde_json::Value> {
        if v.get("kind").and_then(|k| k.as_str()) == Some(DOCUMENT_KIND) {
            return Some(v);
        }
        match v {
            serde_json::Value::Object(m) => m
                .get("document")
                .and_then(find)
                .or_else(|| m.values().find_map(find)),
            _ => None,
        }
    }
    let doc = find(&v).ok_or_else(|| {
        bad(
            "document",
            "no inclusion document in it (an object with kind \"modelda.inclusion\", or an \
             answer with a `document` field)",
        )
    })?;
    check_version(doc.get("v").and_then(|v| v.as_u64()))?;
    // The blobs hold celestia-types' proofs; the claims, a bundle's JSON.
    if let Some(blobs) = doc.get("blobs") {
        modelda_core::untrusted::check(blobs).map_err(|e| bad("blobs", e))?;
    }
    modelda_core::untrusted::deserialize(doc.clone()).map_err(|e| bad("document", e))
}

fn check_version(v: Option<u64>) -> Result<()> {
    match v {
        Some(v) if v == u64::from(DOCUMENT_VERSION) => Ok(()),
        Some(1) => Err(bad(
            "version",
            "this is a version 1 document (whole blobs), which this build no longer reads; \
             ask the server again for a version 2 document",
        )),
        v => Err(bad(
            "version",
            format!(
                "version {}; this build reads version {DOCUMENT_VERSION}",
                v.map_or_else(|| "(none)".to_string(), |v| v.to_string())
            ),
        )),
    }
}

/// The file entry at `path` of a manifest's files.
fn file_entry<'a>(files: &'a [FileEntry], path: &str) -> Option<(usize, &'a FileEntry)> {
    files.iter().enumerate().find(|(_, f)| f.path == path)
}

/// What a verifier looks up on its own DA node before [`verify`]: never
/// anything the document's author says.
#[derive(Clone, Debug)]
pub enum Need {
    /// The data root of the header at `height` (square layers).
    DataRoot {
        /// Block height.
        height: u64,
    },
    /// The layer's own check that `data` is the blob at `locator`, with
    /// `proof` (layers that prove whole blobs: Avail checks the data proof
    /// against a header the verifier fetches, EigenDA re-reads the cert
    /// through the verifier's proxy).
    WholeBlob {
        /// Index of the blob in [`InclusionDocument::blobs`].
        index: usize,
        /// Where it is.
        locator: Locator,
        /// Its bytes, as the document carries them.
        data: Vec<u8>,
        /// The layer's proof, as the document carries it.
        proof: Box<InclusionProof>,
    },
}

/// The verifier's answers to [`needs`].
#[derive(Clone, Debug, Default)]
pub struct Witness {
    roots: BTreeMap<u64, Option<[u8; 32]>>,
    whole: BTreeMap<usize, std::result::Result<(), String>>,
}

impl Witness {
    /// The data root the verifier's node gives for `height` (`None`: the
    /// layer has none there).
    pub fn data_root(&mut self, height: u64, root: Option<[u8; 32]>) -> &mut Self {
        self.roots.insert(height, root);
        self
    }

    /// The outcome of the layer's check of whole blob `index`.
    pub fn whole_blob(
        &mut self,
        index: usize,
        outcome: std::result::Result<(), String>,
    ) -> &mut Self {
        self.whole.insert(index, outcome);
        self
    }
}

/// The bytes of a whole-blob evidence, bounded by what is left of
/// [`MAX_BLOB_BYTES`] after `total`.
fn whole_bytes(locator: &Locator, data: &str, total: &mut usize) -> Result<Vec<u8>> {
    // Base64 of n bytes is 4/3 n characters: bound before decoding.
    *total = total.saturating_add(data.len() / 4 * 3);
    if *total > MAX_BLOB_BYTES {
        return Err(bad("blobs", "more blob bytes than a document may carry"));
    }
    B64.decode(data)
        .map_err(|e| bad("blob data", format!("{locator}: not base64 ({e})")))
}

/// The blobs' parsed locators, with the count bounded.
fn blob_locators(doc: &InclusionDocument) -> Result<Vec<Locator>> {
    if doc.blobs.len() > MAX_BLOBS {
        return Err(bad(
            "blobs",
            format!("{} blobs; at most {MAX_BLOBS}", doc.blobs.len()),
        ));
    }
    doc.blobs
        .iter()
        .map(|b| {
            b.locator
                .parse()
                .map_err(|e: modelda_core::Error| bad("blob locator", e.to_string()))
        })
        .collect()
}

/// What the verifier must look up on its own node to [`verify`] `doc`:
/// one data root per height the document's blobs are at, and the layer's
/// check of each whole blob. Bounded like [`verify`].
pub fn needs(doc: &InclusionDocument) -> Result<Vec<Need>> {
    let locators = blob_locators(doc)?;
    let mut out = Vec::new();
    let mut heights = std::collections::BTreeSet::new();
    let mut total = 0usize;
    for (i, (b, locator)) in doc.blobs.iter().zip(locators).enumerate() {
        if let Some((h, _, _)) = locator.square_parts() {
            if heights.insert(h) {
                out.push(Need::DataRoot { height: h });
            }
        }
        if let Evidence::Whole { data, proof } = &b.evidence {
            let data = whole_bytes(&locator, data, &mut total)?;
            out.push(Need::WholeBlob {
                index: i,
                locator,
                data,
                proof: Box::new(proof.clone()),
            });
        }
    }
    Ok(out)
}

/// Verifies `doc` (see the module docs). `witness` holds what the
/// verifier's own access to the DA layer said ([`needs`]): headers and,
/// on EigenDA and Avail, the layer's check of the whole blob, never the
/// document's author's. `pinned` is the key the signer must have. `data`,
/// when given, must be the proven bytes.
pub fn verify(
    doc: &InclusionDocument,
    witness: &Witness,
    pinned: Option<&PublicKey>,
    data: Option<&[u8]>,
) -> Result<Verified> {
    if doc.kind != DOCUMENT_KIND {
        return Err(bad(
            "document",
            format!("kind {:?}; this build reads {DOCUMENT_KIND:?}", doc.kind),
        ));
    }
    check_version(Some(u64::from(doc.v)))?;
    // 1. The claims: signature, model id = hash of the manifest.
    if doc.claims.len() > MAX_RECORD_BYTES {
        return Err(bad("claims", "larger than any record this build reads"));
    }
    let (claims, key) = open_claims(Path::new("claims"), doc.claims.as_bytes(), pinned)
        .map_err(|e| bad("claims", e.to_string()))?;
    if claims.model_id != doc.model_id {
        return Err(bad(
            "claims",
            format!(
                "the claims are for model {}, the document for {}",
                claims.model_id, doc.model_id
            ),
        ));
    }
    // 2. The file, the range and the tensor.
    let (fi, entry) = file_entry(&claims.manifest.files, &doc.file)
        .ok_or_else(|| bad("file", format!("the manifest has no file {:?}", doc.file)))?;
    let range = doc.bytes[0]..doc.bytes[1];
    if range.start >= range.end || range.end > entry.size {
        return Err(bad(
            "range",
            format!(
                "bytes {}..{} are not a non-empty range of the file's {} bytes",
                range.start, range.end, entry.size
            ),
        ));
    }
    let ls = entry.leaf_size;
    let leaves = ls
        .leaves_of(entry.size, range.clone())
        .map_err(|e| bad("range", e.to_string()))?;
    let n_leaves = leaves.end - leaves.start;
    if n_leaves > MAX_LEAVES {
        return Err(bad(
            "range",
            format!("{n_leaves} leaves; one document proves at most {MAX_LEAVES}"),
        ));
    }
    if doc.leaves.len() as u64 != n_leaves
        || doc
            .leaves
            .iter()
            .zip(leaves.clone())
            .any(|(p, l)| p.leaf != l)
    {
        return Err(bad(
            "leaves",
            format!(
                "the document places {} leaves, the range covers leaves {}..{}",
                doc.leaves.len(),
                leaves.start,
                leaves.end
            ),
        ));
    }
    let tensor = match &doc.tensor {
        Some(name) => {
            let t = entry
                .tensors
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| bad("tensor", format!("{:?} has no tensor {name:?}", entry.path)))?;
            if (t.start..t.end) != range {
                return Err(bad(
                    "tensor",
                    format!(
                        "tensor {name:?} is bytes {}..{}, the document proves {}..{}",
                        t.start, t.end, range.start, range.end
                    ),
                ));
            }
            Some(t)
        }
        None => None,
    };
    // 3. The blobs, against the verifier's own node.
    let locators = blob_locators(doc)?;
    let mut total = 0usize;
    let mut pieces: Vec<Vec<BlobPiece>> = Vec::with_capacity(doc.blobs.len());
    let mut checked = Vec::with_capacity(doc.blobs.len());
    for (i, (b, locator)) in doc.blobs.iter().zip(locators).enumerate() {
        let height = locator.square_parts().map(|(h, _, _)| h);
        let own = match height {
            Some(h) => *witness.roots.get(&h).ok_or_else(|| {
                bad(
                    "header",
                    format!("no data root at height {h} was looked up on your node"),
                )
            })?,
            None => None,
        };
        if let (Some(h), Some(own)) = (height, own) {
            let claimed = b.data_root.as_deref().map(str::to_ascii_lowercase);
            if claimed.as_deref() != Some(hex::encode(own).as_str()) {
                return Err(bad(
                    "header",
                    format!(
                        "the document says the data root at height {h} is {}, your node says {}",
                        claimed.unwrap_or_else(|| "(missing)".into()),
                        hex::encode(own)
                    ),
                ));
            }
        }
        let got = match &b.evidence {
            Evidence::Shares(s) => {
                let shares: usize = s.runs.iter().map(|r| r.square.data.len()).sum();
                total = total.saturating_add(shares * 512);
                if total > MAX_BLOB_BYTES {
                    return Err(bad("blobs", "more blob bytes than a document may carry"));
                }
                let Some(own) = own else {
                    return Err(bad(
                        "blob inclusion",
                        format!(
                            "{locator}: shares are proven against a data root, and your layer \
                             has none for this locator"
                        ),
                    ));
                };
                s.verify(&locator, &own)
                    .map_err(|e| bad("blob inclusion", e.to_string()))?
            }
            Evidence::Whole { data, .. } => {
                let bytes = whole_bytes(&locator, data, &mut total)?;
                match witness.whole.get(&i) {
                    Some(Ok(())) => {}
                    Some(Err(reason)) => return Err(bad("blob inclusion", reason.clone())),
                    None => {
                        return Err(bad(
                            "blob inclusion",
                            format!("{locator}: the whole blob was not checked on your layer"),
                        ))
                    }
                }
                vec![BlobPiece { offset: 0, bytes }]
            }
        };
        checked.push((b.locator.clone(), height));
        pieces.push(got);
    }
    // 4. The leaves, out of their envelopes.
    let placed = leaves::place(doc, fi, entry, &range, &pieces)?;
    // 5. The leaves against the file root.
    let proven: Vec<u8> = match &doc.merkle {
        Some(m) => {
            if m.len() > 4 * 64 * 1024 {
                return Err(bad("merkle", "longer than any range proof"));
            }
            let raw = B64
                .decode(m)
                .map_err(|e| bad("merkle", format!("not base64 ({e})")))?;
            let proof = RangeProof::decode(&raw).map_err(|e| bad("merkle", e.to_string()))?;
            let cvs: Vec<LeafCv> = placed.iter().map(|l| l.cv).collect();
            proof
                .verify_cvs(&entry.root, entry.size, ls, range.clone(), &cvs)
                .map_err(|e| bad("merkle", e.to_string()))?;
            leaves::range_bytes(&placed, &range)
        }
        None => {
            // A file of one leaf: its root was checked with the leaf.
            if entry.size > ls.bytes() {
                return Err(bad(
                    "merkle",
                    "a file of two or more leaves needs a range proof",
                ));
            }
            leaves::range_bytes(&placed, &range)
        }
    };
    // 6. The tensor hash.
    if let Some(t) = tensor {
        if blake3::hash(&proven).as_bytes() != t.blake3.as_bytes() {
            return Err(bad(
                "tensor",
                "the bytes do not hash to the signed tensor hash",
            ));
        }
    }
    if let Some(d) = data {
        if d != proven.as_slice() {
            return Err(bad(
                "data",
                format!(
                    "the given {} bytes differ from the {} proven bytes",
                    d.len(),
                    proven.len()
                ),
            ));
        }
    }
    Ok(Verified {
        model_id: doc.model_id,
        signer: key.hint(),
        pinned: pinned.is_some(),
        file: doc.file.clone(),
        bytes: range,
        tensor: doc.tensor.clone(),
        blake3: blake3::hash(&proven).to_hex().to_string(),
        blobs: checked,
        data: proven,
    })
}
