//! The publication record: the signed list of where every shard of a model
//! is, posted last as the commit point of a publish.
//!
//! The record is an in-toto Statement v1 whose subject is the model id and
//! whose predicate ([`Publication`], type [`PUBLICATION_PREDICATE_TYPE`])
//! holds the layer, the stripe geometry, the blob locators, each shard's
//! place (blob index and envelope offset), the parity digests, and the
//! claims bundle (manifest, leaf chaining values, key). It is signed into a
//! Sigstore bundle with the publisher's key, like the claims.
//!
//! On the layer the bundle's JSON travels in envelopes of kind
//! [`Kind::Record`]. The **root page** (stripe 0) is posted last; its
//! locator is the record's locator. Its payload is `I` followed by the whole
//! bundle, or, when that does not fit one blob, `P` followed by a JSON
//! [`PageIndex`] naming pages 1..n (posted before it), whose payloads
//! concatenate to the bundle.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::{DaLayer, LayerKind, Locator, Namespace};
use modelda_manifest::sign::{
    Bundle, ClaimsPredicate, PrivateKey, PublicKey, Statement, Subject, STATEMENT_TYPE,
};
use modelda_manifest::{FileEntry, ModelId};
use modelda_merkle::{Commitment, LeafSize};
use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, Header, Kind, HEADER_LEN};
use crate::plan::{FileStripes, Geometry, ShardRef};
use crate::{Error, Result};

/// Predicate type of publication records.
pub const PUBLICATION_PREDICATE_TYPE: &str = "https://modelda.dev/publication/v1";

/// Largest record this build reads: 256 MiB (a model of millions of leaves).
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// The predicate of a publication record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Format version (1).
    pub v: u32,
    /// The model.
    pub model_id: ModelId,
    /// The layer the shards are on.
    pub layer: LayerKind,
    /// Namespace (Celestia-style layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// Data shards per stripe.
    pub data_shards: u16,
    /// Parity shards per stripe.
    pub parity_shards: u16,
    /// Blob locators (text form): this publication's blobs, then the parent
    /// blobs it reuses.
    pub blobs: Vec<String>,
    /// Per manifest file, in order.
    pub files: Vec<FileShards>,
    /// Models whose blobs this publication reuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reused_from: Vec<ModelId>,
    /// The claims bundle (JSON), exactly as signed.
    pub claims: String,
    /// The OpenSSF Model Signing bundle (`model.sig`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oms: Option<String>,
}

/// Where the shards of one file are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShards {
    /// Path (as in the manifest).
    pub path: String,
    /// Base64 of 8 bytes per shard in stripe-major order (each stripe's
    /// leaves, then its parity shards): blob index and envelope offset, both
    /// big-endian u32.
    pub shards: String,
    /// Base64 of the 32-byte digests of the parity shards, in the same order.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parity: String,
}

/// The index a paged root page holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageIndex {
    /// Pages 1..n in order: locator (text) and BLAKE3 of the payload (hex).
    pub pages: Vec<(String, String)>,
    /// Total bundle length.
    pub len: u64,
}

/// Encodes shard places for [`FileShards::shards`].
pub fn encode_refs(refs: &[ShardRef]) -> String {
    let mut raw = Vec::with_capacity(refs.len() * 8);
    for r in refs {
        raw.extend_from_slice(&r.blob.to_be_bytes());
        raw.extend_from_slice(&r.offset.to_be_bytes());
    }
    B64.encode(raw)
}

fn decode_b64(what: &str, s: &str, unit: usize) -> std::result::Result<Vec<u8>, String> {
    let raw = B64
        .decode(s)
        .map_err(|e| format!("{what} is not base64 ({e})"))?;
    if raw.len() % unit != 0 {
        return Err(format!("{what} is not a whole number of {unit}-byte items"));
    }
    Ok(raw)
}

fn decode_refs(s: &str) -> std::result::Result<Vec<ShardRef>, String> {
    Ok(decode_b64("shard places", s, 8)?
        .chunks_exact(8)
        .map(|c| ShardRef {
            blob: u32::from_be_bytes(c[..4].try_into().expect("4 bytes")),
            offset: u32::from_be_bytes(c[4..].try_into().expect("4 bytes")),
        })
        .collect())
}

/// The header of record page `page` of `model`.
pub fn page_header(model: ModelId, page: u64) -> Header {
    Header {
        kind: Kind::Record,
        model,
        file: 0,
        stripe: page,
        shard: 0,
        data_shards: 1,
        parity_shards: 0,
        leaf_size: LeafSize::MIN,
    }
}

fn page_blob(model: ModelId, page: u64, payload: &[u8]) -> Vec<u8> {
    let h = page_header(model, page);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    h.encode_into(blake3::hash(payload).as_bytes(), payload, &mut out);
    out
}

/// Signs a publication into bundle JSON.
pub fn sign(key: &PrivateKey, publication: &Publication) -> Vec<u8> {
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: publication.model_id.to_hex(),
            digest: [("blake3".to_string(), publication.model_id.to_hex())].into(),
        }],
        predicate_type: PUBLICATION_PREDICATE_TYPE.into(),
        predicate: publication,
    };
    let payload = serde_json::to_vec(&st).expect("records always serialize");
    Bundle::sign(key, &payload).to_json().into_bytes()
}

/// How a record goes on the layer.
pub enum Layout {
    /// One blob: the root page with the whole bundle.
    Inline(Vec<u8>),
    /// Page blobs to post first; the root page follows from their locators
    /// through [`root_of_pages`].
    Paged(Vec<Vec<u8>>),
}

/// Splits signed record bytes into page blobs of at most `max_blob_bytes`.
pub fn layout(model: ModelId, bundle: &[u8], max_blob_bytes: usize) -> Layout {
    let room = max_blob_bytes - HEADER_LEN - 1;
    if bundle.len() <= room {
        let mut payload = Vec::with_capacity(1 + bundle.len());
        payload.push(b'I');
        payload.extend_from_slice(bundle);
        return Layout::Inline(page_blob(model, 0, &payload));
    }
    Layout::Paged(
        bundle
            .chunks(max_blob_bytes - HEADER_LEN)
            .enumerate()
            .map(|(i, c)| page_blob(model, i as u64 + 1, c))
            .collect(),
    )
}

/// The root page blob naming the page blobs at `locators`.
pub fn root_of_pages(model: ModelId, pages: &[Vec<u8>], locators: &[Locator]) -> Vec<u8> {
    let index = PageIndex {
        pages: pages
            .iter()
            .zip(locators)
            .map(|(p, l)| {
                let payload = &p[HEADER_LEN..];
                (l.to_string(), blake3::hash(payload).to_hex().to_string())
            })
            .collect(),
        len: pages.iter().map(|p| (p.len() - HEADER_LEN) as u64).sum(),
    };
    let mut payload = b"P".to_vec();
    payload.extend(serde_json::to_vec(&index).expect("indexes always serialize"));
    page_blob(model, 0, &payload)
}

/// One file of an opened record.
#[derive(Clone, Debug)]
pub struct RecordFile {
    /// The manifest entry.
    pub entry: FileEntry,
    /// Stripes of the file.
    pub stripes: FileStripes,
    /// Leaf commitment (chaining values checked against the root), for files
    /// of two or more leaves.
    pub commitment: Option<Commitment>,
    /// Every shard's place, stripe-major.
    pub refs: Vec<ShardRef>,
    /// Parity digests, in the order of the parity shards.
    pub parity: Vec<[u8; 32]>,
    /// Index in `refs` where each stripe starts.
    pub stripe_starts: Vec<usize>,
}

impl RecordFile {
    /// The digest data shard `leaf` must carry.
    pub fn leaf_digest(&self, leaf: u64) -> [u8; 32] {
        match &self.commitment {
            Some(c) => *c.leaves()[leaf as usize].as_bytes(),
            None => *self.entry.root.as_bytes(),
        }
    }
}

/// A record that was fetched, its signatures checked, and its structure
/// validated against its manifest.
#[derive(Clone, Debug)]
pub struct OpenedRecord {
    /// Where it was read.
    pub locator: Locator,
    /// The publication.
    pub publication: Publication,
    /// The claims it carries.
    pub claims: ClaimsPredicate,
    /// The key that signed record and claims.
    pub key: PublicKey,
    /// Blob locators.
    pub blobs: Vec<Locator>,
    /// Files, in manifest order.
    pub files: Vec<RecordFile>,
}

impl OpenedRecord {
    /// Stripe geometry.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            data: self.publication.data_shards,
            parity: self.publication.parity_shards,
        }
    }

    /// The model id.
    pub fn model_id(&self) -> ModelId {
        self.publication.model_id
    }
}

/// What a root page holds.
#[derive(Debug)]
pub enum RootPage<'a> {
    /// The whole signed record.
    Inline(&'a [u8]),
    /// The index of its pages.
    Paged(PageIndex),
}

/// Parses a root page's payload. Never panics; refuses indexes of records
/// larger than [`MAX_RECORD_BYTES`].
pub fn parse_root(payload: &[u8]) -> std::result::Result<RootPage<'_>, String> {
    match payload.split_first() {
        Some((b'I', rest)) => Ok(RootPage::Inline(rest)),
        Some((b'P', rest)) => {
            let index: PageIndex =
                serde_json::from_slice(rest).map_err(|e| format!("page index: {e}"))?;
            if index.len > MAX_RECORD_BYTES as u64 {
                return Err(format!(
                    "record of {} bytes is larger than this build reads ({MAX_RECORD_BYTES})",
                    index.len
                ));
            }
            Ok(RootPage::Paged(index))
        }
        _ => Err("unknown root page format".into()),
    }
}

/// Fetches the record at `locator` from `layer` and checks it: envelope
/// digests, page hashes, the signature (with `pinned`, or with the key in
/// the claims), that the claims are signed by the same key, that the model
/// id is `expected` (when given) and the hash of the manifest, and that
/// every file's shards and leaves are consistent with its size and root.
pub async fn open(
    layer: &dyn DaLayer,
    locator: &Locator,
    expected: Option<ModelId>,
    pinned: Option<&PublicKey>,
) -> Result<OpenedRecord> {
    let where_ = locator.to_string();
    let bad = |reason: String| Error::BadRecord {
        locator: where_.clone(),
        reason,
    };
    let root_blob = layer.get(locator).await?;
    let root = Envelope::decode_at(&root_blob, 0).map_err(|e| bad(format!("root page: {e}")))?;
    if root.header.kind != Kind::Record || root.header.stripe != 0 {
        return Err(bad(
            "the blob is not the root page of a publication record".into()
        ));
    }
    if let Some(id) = expected {
        if root.header.model != id {
            return Err(bad(format!(
                "the record is for model {}, not {id}",
                root.header.model
            )));
        }
    }
    let model = root.header.model;
    let bundle = match parse_root(&root.payload).map_err(bad)? {
        RootPage::Inline(bundle) => bundle.to_vec(),
        RootPage::Paged(index) => {
            let mut out = Vec::with_capacity(index.len as usize);
            for (i, (loc, hash)) in index.pages.iter().enumerate() {
                let loc: Locator = loc
                    .parse()
                    .map_err(|e| bad(format!("page {}: {e}", i + 1)))?;
                let blob = layer.get(&loc).await?;
                let page = Envelope::decode_at(&blob, 0)
                    .map_err(|e| bad(format!("page {}: {e}", i + 1)))?;
                if page.header.kind != Kind::Record
                    || page.header.model != model
                    || page.header.stripe != i as u64 + 1
                    || hex::encode(page.digest) != *hash
                {
                    return Err(bad(format!(
                        "page {} at {loc} is not the page the index names",
                        i + 1
                    )));
                }
                out.extend_from_slice(&page.payload);
                if out.len() > index.len as usize {
                    return Err(bad("pages are longer than the index says".into()));
                }
            }
            if out.len() as u64 != index.len {
                return Err(bad("pages are shorter than the index says".into()));
            }
            out
        }
    };
    let opened = parse(locator, &bundle, pinned)?;
    if opened.model_id() != model {
        return Err(bad(format!(
            "the root page names model {model} but the signed record is for {}",
            opened.model_id()
        )));
    }
    Ok(opened)
}

/// Parses and checks signed record bytes (see [`open`]).
pub fn parse(locator: &Locator, bundle: &[u8], pinned: Option<&PublicKey>) -> Result<OpenedRecord> {
    let where_ = locator.to_string();
    let bad = |reason: String| Error::BadRecord {
        locator: where_.clone(),
        reason,
    };
    let label = Path::new("publication record");
    let bundle = Bundle::from_json(label, bundle).map_err(|e| bad(e.to_string()))?;
    let unverified: Statement<Publication> =
        serde_json::from_slice(&bundle.payload(label).map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(format!("statement: {e}")))?;
    // The claims name the key; the record must be signed by it too.
    let (claims, key) = modelda_manifest::verify::open_claims(
        Path::new("claims in the publication record"),
        unverified.predicate.claims.as_bytes(),
        pinned,
    )
    .map_err(|e| bad(e.to_string()))?;
    let payload = bundle.verify(label, &key).map_err(|e| bad(e.to_string()))?;
    let st: Statement<Publication> =
        serde_json::from_slice(&payload).map_err(|e| bad(format!("statement: {e}")))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != PUBLICATION_PREDICATE_TYPE {
        return Err(bad(format!(
            "not a modelda publication record ({})",
            st.predicate_type
        )));
    }
    let p = st.predicate;
    if p.v != 1 {
        return Err(bad(format!("record version {} (this build reads 1)", p.v)));
    }
    if p.model_id != claims.model_id
        || st.subject.first().and_then(|s| s.digest.get("blake3")) != Some(&p.model_id.to_hex())
    {
        return Err(bad(format!(
            "the record is for model {} but its claims are for {}",
            p.model_id, claims.model_id
        )));
    }
    let geometry = Geometry::new(p.data_shards, p.parity_shards).map_err(|e| bad(e.to_string()))?;
    let blobs: Vec<Locator> = p
        .blobs
        .iter()
        .map(|s| s.parse::<Locator>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(format!("blob locator: {e}")))?;
    let manifest = &claims.manifest;
    if p.files.len() != manifest.files.len() {
        return Err(bad(format!(
            "{} files listed, the manifest has {}",
            p.files.len(),
            manifest.files.len()
        )));
    }
    let mut files = Vec::with_capacity(p.files.len());
    for (fs, entry) in p.files.iter().zip(&manifest.files) {
        let bad_file = |reason: String| bad(format!("{}: {reason}", entry.path));
        if fs.path != entry.path {
            return Err(bad_file(format!("listed as {}", fs.path)));
        }
        let stripes = FileStripes::of(entry, geometry);
        let refs = decode_refs(&fs.shards).map_err(&bad_file)?;
        let mut stripe_starts = Vec::with_capacity(stripes.count() as usize);
        let mut total = 0usize;
        for s in 0..stripes.count() {
            stripe_starts.push(total);
            total += stripes.shards_of(s);
        }
        if refs.len() != total {
            return Err(bad_file(format!(
                "{} shards listed, {total} expected",
                refs.len()
            )));
        }
        if let Some(r) = refs.iter().find(|r| r.blob as usize >= blobs.len()) {
            return Err(bad_file(format!(
                "shard in blob {} of {}",
                r.blob,
                blobs.len()
            )));
        }
        let parity: Vec<[u8; 32]> = decode_b64("parity digests", &fs.parity, 32)
            .map_err(&bad_file)?
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        let want_parity = stripes.count() as usize * usize::from(geometry.parity);
        if parity.len() != want_parity {
            return Err(bad_file(format!(
                "{} parity digests, {want_parity} expected",
                parity.len()
            )));
        }
        let commitment = claims.commitment(entry).map_err(&bad)?;
        files.push(RecordFile {
            entry: entry.clone(),
            stripes,
            commitment,
            refs,
            parity,
            stripe_starts,
        });
    }
    Ok(OpenedRecord {
        locator: locator.clone(),
        publication: p,
        claims,
        key,
        blobs,
        files,
    })
}
