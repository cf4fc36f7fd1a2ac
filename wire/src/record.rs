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
use modelda_core::{LayerKind, Locator, Namespace};
use modelda_manifest::sign::{
    Bundle, ClaimsPredicate, PrivateKey, PublicKey, Statement, Subject, STATEMENT_TYPE,
};
use modelda_manifest::{FileEntry, ModelId};
use modelda_merkle::{Commitment, LeafSize};
use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, Header, Kind, HEADER_LEN};
use crate::geometry::{FileStripes, Geometry, ShardRef};
use crate::{Error, Result};

mod validate;

pub use validate::{validate, validate_publication, Validated};

/// Predicate type of publication records.
pub const PUBLICATION_PREDICATE_TYPE: &str = "https://modelda.dev/publication/v1";

/// Largest record this build reads: 256 MiB (a model of millions of leaves).
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// Smallest payload of a record page other than the last: pages fill blobs
/// of at least [`crate::MIN_BLOB_BYTES`].
pub const MIN_PAGE_PAYLOAD: usize = crate::MIN_BLOB_BYTES - HEADER_LEN;

/// Most pages a record of [`MAX_RECORD_BYTES`] can take.
pub const MAX_PAGES: usize = MAX_RECORD_BYTES.div_ceil(MIN_PAGE_PAYLOAD);

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
    /// Namespace of the data and parity blobs (Celestia-style layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// Namespace of the record's pages (Celestia-style layers). Absent in
    /// records written before records had their own namespace, whose pages
    /// are in `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_namespace: Option<Namespace>,
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

/// Parses the payload of the root page read at `locator`. Never panics.
/// Refuses a record larger than [`MAX_RECORD_BYTES`], an index of more than
/// [`MAX_PAGES`] pages, and an index of more pages than its length allows
/// when every page but the last holds at least [`MIN_PAGE_PAYLOAD`] bytes,
/// so the reader's loop and buffer are bounded before it starts.
pub fn parse_root<'a>(locator: &Locator, payload: &'a [u8]) -> Result<RootPage<'a>> {
    let too_large = |what, found: usize, limit: usize| Error::RecordTooLarge {
        locator: Box::new(locator.clone()),
        what,
        found: found as u64,
        limit: limit as u64,
    };
    match payload.split_first() {
        Some((b'I', rest)) => {
            if rest.len() > MAX_RECORD_BYTES {
                return Err(too_large("record bytes", rest.len(), MAX_RECORD_BYTES));
            }
            Ok(RootPage::Inline(rest))
        }
        Some((b'P', rest)) => {
            let malformed = |e: serde_json::Error| Error::RecordMalformed {
                locator: Box::new(locator.clone()),
                part: "page index".into(),
                reason: e.to_string(),
            };
            // Count the pages before decoding them: a hostile index of
            // millions of tiny entries allocates nothing.
            let n = count_pages(rest).map_err(malformed)?;
            if n > MAX_PAGES {
                return Err(too_large("pages", n, MAX_PAGES));
            }
            let index: PageIndex = serde_json::from_slice(rest).map_err(malformed)?;
            let len = usize::try_from(index.len).unwrap_or(usize::MAX);
            if len > MAX_RECORD_BYTES {
                return Err(Error::RecordTooLarge {
                    locator: Box::new(locator.clone()),
                    what: "record bytes",
                    found: index.len,
                    limit: MAX_RECORD_BYTES as u64,
                });
            }
            let n = index.pages.len();
            if n == 0 || len == 0 {
                return Err(Error::RecordMalformed {
                    locator: Box::new(locator.clone()),
                    part: "page index".into(),
                    reason: "it lists no pages or no bytes".into(),
                });
            }
            let most = 1 + (len - 1) / MIN_PAGE_PAYLOAD;
            if n > most {
                return Err(too_large("pages for the index's length", n, most));
            }
            Ok(RootPage::Paged(index))
        }
        Some((other, _)) => Err(Error::RecordMalformed {
            locator: Box::new(locator.clone()),
            part: "root page".into(),
            reason: format!("unknown format byte 0x{other:02x} (this build reads 'I' and 'P')"),
        }),
        None => Err(Error::RecordMalformed {
            locator: Box::new(locator.clone()),
            part: "root page".into(),
            reason: "the payload is empty".into(),
        }),
    }
}

/// The number of pages a page index lists, counted without allocating
/// for them.
fn count_pages(json: &[u8]) -> serde_json::Result<usize> {
    struct Count(usize);
    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Counter;
            impl<'de> serde::de::Visitor<'de> for Counter {
                type Value = Count;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a list of pages")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> std::result::Result<Count, A::Error> {
                    let mut n = 0;
                    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Count(n))
                }
            }
            d.deserialize_seq(Counter)
        }
    }
    #[derive(Deserialize)]
    struct Pages {
        pages: Count,
    }
    Ok(serde_json::from_slice::<Pages>(json)?.pages.0)
}

/// Reads a record page by page, with no I/O: the caller fetches each page
/// it names, from wherever it reads the layer.
///
/// ```text
/// let mut r = RecordReader::new(&locator, &root_blob, expected)?;
/// while let Some(at) = r.next_page() {
///     let blob = layer.get(at).await?;   // the caller's I/O
///     r.page(&blob)?;
/// }
/// let record = r.finish(pinned)?;
/// ```
///
/// [`RecordReader::finish`] checks the record: envelope digests, page
/// hashes, the signature (with `pinned`, or with the key in the claims),
/// that the claims are signed by the same key, that the model id is the
/// expected one (when given) and the hash of the manifest, and that every
/// file's shards and leaves are consistent with its size and root (see
/// [`parse`]). A page must be on the root's layer and, where the layer has
/// heights, at or below the root's height (the publisher posts pages
/// first), so whether a record opens never depends on when it is read.
#[derive(Debug)]
pub struct RecordReader {
    locator: Locator,
    model: ModelId,
    /// The pages still to read (locator and payload hash), in order; empty
    /// for an inline record.
    pages: Vec<(Locator, String)>,
    /// Pages read so far.
    read: usize,
    /// The bundle's length, as the index says (inline: its length).
    len: u64,
    bundle: Vec<u8>,
}

impl RecordReader {
    /// Starts reading the record whose root page is `root_blob`, the blob
    /// at `locator` (a follower lists it with its height). Never panics;
    /// the page count and length are bounded (see [`parse_root`]) before
    /// anything is allocated from them.
    pub fn new(locator: &Locator, root_blob: &[u8], expected: Option<ModelId>) -> Result<Self> {
        let malformed = |part: String, reason: String| Error::RecordMalformed {
            locator: Box::new(locator.clone()),
            part,
            reason,
        };
        let root = Envelope::decode_at(root_blob, 0)
            .map_err(|e| malformed("root page".into(), e.to_string()))?;
        if root.header.kind != Kind::Record || root.header.stripe != 0 {
            return Err(Error::RecordInconsistent {
                locator: Box::new(locator.clone()),
                reason: "the blob is not the root page of a publication record".into(),
            });
        }
        if let Some(id) = expected {
            if root.header.model != id {
                return Err(Error::RecordModel {
                    locator: Box::new(locator.clone()),
                    expected: id,
                    found: root.header.model,
                });
            }
        }
        let model = root.header.model;
        let (pages, len, bundle) = match parse_root(locator, &root.payload)? {
            RootPage::Inline(bundle) => (Vec::new(), bundle.len() as u64, bundle.to_vec()),
            RootPage::Paged(index) => {
                let mut pages = Vec::with_capacity(index.pages.len());
                for (i, (loc, hash)) in index.pages.into_iter().enumerate() {
                    let page_no = i + 1;
                    let at: Locator = loc.parse().map_err(|e| {
                        malformed(format!("locator of page {page_no}"), format!("{e}"))
                    })?;
                    check_page_place(locator, page_no, &at)?;
                    pages.push((at, hash));
                }
                // Bounded by MAX_RECORD_BYTES in `parse_root`.
                (pages, index.len, Vec::with_capacity(index.len as usize))
            }
        };
        Ok(RecordReader {
            locator: locator.clone(),
            model,
            pages,
            read: 0,
            len,
            bundle,
        })
    }

    /// The model the root page names.
    pub fn model_id(&self) -> ModelId {
        self.model
    }

    /// Where the next page to read is, or `None` when every page is in.
    pub fn next_page(&self) -> Option<&Locator> {
        self.pages.get(self.read).map(|(at, _)| at)
    }

    /// Takes the blob at [`RecordReader::next_page`] and checks it: a page
    /// of this record, the one the index names, of a plausible length.
    pub fn page(&mut self, blob: &[u8]) -> Result<()> {
        let inconsistent = |reason: String| Error::RecordInconsistent {
            locator: Box::new(self.locator.clone()),
            reason,
        };
        let Some((at, hash)) = self.pages.get(self.read) else {
            return Err(inconsistent("a page was given after the last one".into()));
        };
        let page_no = self.read + 1;
        let last = page_no == self.pages.len();
        let page = Envelope::decode_at(blob, 0).map_err(|e| Error::RecordMalformed {
            locator: Box::new(self.locator.clone()),
            part: format!("page {page_no}"),
            reason: e.to_string(),
        })?;
        if page.header.kind != Kind::Record
            || page.header.model != self.model
            || page.header.stripe != page_no as u64
            || hex::encode(page.digest) != *hash
        {
            return Err(inconsistent(format!(
                "page {page_no} at {at} is not the page the index names"
            )));
        }
        if page.payload.is_empty() || (!last && page.payload.len() < MIN_PAGE_PAYLOAD) {
            return Err(inconsistent(format!(
                "page {page_no} at {at} holds {} bytes; every page but the last holds at least {MIN_PAGE_PAYLOAD}",
                page.payload.len()
            )));
        }
        if (self.bundle.len() + page.payload.len()) as u64 > self.len {
            return Err(inconsistent("pages are longer than the index says".into()));
        }
        self.bundle.extend_from_slice(&page.payload);
        self.read += 1;
        Ok(())
    }

    /// Checks the whole record (see [`RecordReader`]), once every page is
    /// in.
    pub fn finish(self, pinned: Option<&PublicKey>) -> Result<OpenedRecord> {
        if self.read < self.pages.len() {
            return Err(Error::RecordInconsistent {
                locator: Box::new(self.locator),
                reason: format!("{} of its {} pages were read", self.read, self.pages.len()),
            });
        }
        if self.bundle.len() as u64 != self.len {
            return Err(Error::RecordInconsistent {
                locator: Box::new(self.locator),
                reason: "pages are shorter than the index says".into(),
            });
        }
        let opened = parse(&self.locator, &self.bundle, pinned)?;
        if opened.model_id() != self.model {
            return Err(Error::RecordModel {
                locator: Box::new(self.locator),
                expected: self.model,
                found: opened.model_id(),
            });
        }
        Ok(opened)
    }
}

/// Refuses a page locator on another layer than the root's, or above the
/// root's height.
fn check_page_place(root: &Locator, page: usize, at: &Locator) -> Result<()> {
    let reason = if at.kind() != root.kind() {
        Some(format!(
            "it is on {}, the root page on {}",
            at.kind(),
            root.kind()
        ))
    } else {
        match (root.square_parts(), at.square_parts()) {
            (Some((r, ..)), Some((p, ..))) if p > r => Some(format!(
                "it is at height {p}, above the root page's height {r}; pages are posted before their root"
            )),
            _ => None,
        }
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::RecordPagePlace {
            locator: Box::new(root.clone()),
            page,
            at: at.to_string(),
            reason,
        }),
    }
}

/// Where `open_claims` or a bundle check failed: a signature or key problem
/// is [`Error::RecordSignature`], anything else about the claims is
/// [`Error::RecordClaims`].
fn claims_error(locator: &Locator, e: modelda_manifest::Error) -> Error {
    match e {
        modelda_manifest::Error::BadSignature { .. } | modelda_manifest::Error::Key { .. } => {
            Error::RecordSignature {
                locator: Box::new(locator.clone()),
                cause: Box::new(e),
            }
        }
        cause => Error::RecordClaims {
            locator: Box::new(locator.clone()),
            cause: Box::new(cause),
        },
    }
}

/// Parses signed record bytes and checks them (see [`open`]): the size
/// limit, the claims' signature (with `pinned`, or the key they carry) and
/// the record's signature with the same key; then the structure, with
/// [`validate`].
pub fn parse(locator: &Locator, bundle: &[u8], pinned: Option<&PublicKey>) -> Result<OpenedRecord> {
    if bundle.len() > MAX_RECORD_BYTES {
        return Err(Error::RecordTooLarge {
            locator: Box::new(locator.clone()),
            what: "record bytes",
            found: bundle.len() as u64,
            limit: MAX_RECORD_BYTES as u64,
        });
    }
    let malformed = |part: &str, reason: String| Error::RecordMalformed {
        locator: Box::new(locator.clone()),
        part: part.into(),
        reason,
    };
    let bundle_error = |e: modelda_manifest::Error| match e {
        modelda_manifest::Error::Bundle { reason, .. } => malformed("bundle", reason),
        e => claims_error(locator, e),
    };
    let label = Path::new("publication record");
    let bundle = Bundle::from_json(label, bundle).map_err(bundle_error)?;
    let unverified: Statement<Publication> =
        serde_json::from_slice(&bundle.payload(label).map_err(bundle_error)?)
            .map_err(|e| malformed("statement", e.to_string()))?;
    // The claims name the key; the record must be signed by it too.
    let (claims, key) = modelda_manifest::verify::open_claims(
        Path::new("claims in the publication record"),
        unverified.predicate.claims.as_bytes(),
        pinned,
    )
    .map_err(|e| claims_error(locator, e))?;
    let payload = bundle.verify(label, &key).map_err(bundle_error)?;
    let st: Statement<Publication> =
        serde_json::from_slice(&payload).map_err(|e| malformed("statement", e.to_string()))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != PUBLICATION_PREDICATE_TYPE {
        return Err(Error::RecordInconsistent {
            locator: Box::new(locator.clone()),
            reason: format!(
                "not a modelda publication record (statement {:?}, predicate {:?})",
                st.type_, st.predicate_type
            ),
        });
    }
    if st.subject.first().and_then(|s| s.digest.get("blake3"))
        != Some(&st.predicate.model_id.to_hex())
    {
        return Err(Error::RecordInconsistent {
            locator: Box::new(locator.clone()),
            reason: format!(
                "the statement's subject is not model {}",
                st.predicate.model_id
            ),
        });
    }
    // `open_claims` validated the claims; check the rest.
    let Validated { blobs, files } = validate_publication(locator, &st.predicate, &claims)?;
    Ok(OpenedRecord {
        locator: locator.clone(),
        publication: st.predicate,
        claims,
        key,
        blobs,
        files,
    })
}
