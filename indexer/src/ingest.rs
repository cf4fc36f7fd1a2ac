//! Turning the blobs of one height into index entries: every blob is
//! opened and checked before anything is written; what fails becomes a
//! rejection with a stable code. One height is one write batch, with the
//! checkpoint inside it.
//!
//! What passes goes to the handler of its kind, one file each:
//! - [`publication`]: publication records (root pages, checked with
//!   [`modelda_wire::record::open_blob`]): models, publications, chunks,
//!   lineage edges;
//! - statements (envelopes of kind `Statement`) dispatch on their
//!   predicate type ([`modelda_wire::statement::predicate_type`]):
//!   [`advisory`] for advisories and their withdrawals. A type this build
//!   does not know is skipped, like an envelope of another kind.

use modelda_da::{DaLayer, Locator};
use modelda_manifest::ModelId;
use modelda_wire::advisory::ADVISORY_PREDICATE_TYPE;
use modelda_wire::record::OpenedRecord;
use modelda_wire::{statement, Envelope, Kind};

use crate::reject::{classify, classify_read, refused, Code, Verdict};
use crate::schema::{self, PubId, PublicationEntry, Rejection};
use crate::store::{Index, Overlay};
use crate::{Error, Result};

pub mod advisory;
pub mod publication;

pub use publication::{evidence, MAX_LINEAGE_WALK, MAX_NAME_BYTES};

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
    /// Envelopes of other kinds than records (skipped after the header),
    /// and statements of types this build does not read.
    pub skipped: u64,
    /// Advisories indexed (their ids).
    pub advisories: Vec<String>,
    /// Advisories withdrawn (their ids).
    pub withdrawals: Vec<String>,
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
    /// An advisory (or a withdrawal) that checked.
    Advisory(Box<advisory::Opened>),
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
    if header.kind == Kind::Statement {
        return Ok(read_statement(blob));
    }
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
    match modelda_da::read::open_record_blob(layer, locator, blob, None, None).await {
        Ok(r) => Ok(Read::Record(Box::new(r))),
        Err(e) => match classify_read(e) {
            Verdict::Reject(code, message) => Ok(Read::Reject(code, message)),
            Verdict::Retry(e) => Err(Error::Da(e)),
        },
    }
}

/// Opens a statement envelope and hands it to the reader of its predicate
/// type. Nothing here needs the layer: a statement is one envelope.
fn read_statement(blob: &[u8]) -> Read {
    let e = match Envelope::decode_at(blob, 0) {
        Ok(e) => e,
        Err(e) => {
            return match classify(e) {
                Verdict::Reject(code, message) => Read::Reject(code, message),
                // Decoding bytes in hand never reads the layer.
                Verdict::Retry(e) => Read::Reject(Code::EnvelopeMalformed, e.to_string()),
            };
        }
    };
    let ty = match statement::predicate_type(&e.payload) {
        Ok(t) => t,
        Err(r) => {
            let (code, message) = refused(r);
            return Read::Reject(code, message);
        }
    };
    match ty.as_str() {
        ADVISORY_PREDICATE_TYPE => advisory::read(&e.header.model, &e.payload),
        _ => Read::Skip { other_kind: true },
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
        } else if let Some(a) = index.advisory_at(id)? {
            report.advisories.push(a.id);
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

/// Hands what was read at `id` to its handler.
fn apply(
    ov: &mut Overlay<'_>,
    id: PubId,
    locator: &Locator,
    read: Read,
    report: &mut HeightReport,
) -> Result<()> {
    match read {
        Read::Skip { other_kind } => {
            if other_kind {
                report.skipped += 1;
            }
            Ok(())
        }
        Read::Reject(code, message) => reject(ov, id, locator, code, message, report),
        Read::Record(rec) => publication::apply(ov, id, locator, &rec, report),
        Read::Advisory(a) => advisory::apply(ov, id, locator, &a, report),
    }
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
fn hint_bytes(hint: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    // A hint is always 64 hex digits (SHA-256 of the PEM).
    hex::decode_to_slice(hint, &mut b).expect("a key hint is 64 hex digits");
    b
}

#[cfg(test)]
mod tests;
