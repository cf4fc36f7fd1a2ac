//! The structural checks of a publication record, apart from its
//! signatures: pure functions of the publication and its claims, so a fuzz
//! target reaches them without a valid signature.
//!
//! Everything a stranger's record states is bounded by the bytes actually
//! present before anything is allocated from it: a file's size must imply
//! exactly as many leaves as the claims list chaining values for, and
//! exactly as many shards and parity digests as the record lists places
//! and digests for. Arithmetic on claimed numbers is checked.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_core::Locator;
use modelda_manifest::sign::ClaimsPredicate;

use super::{Publication, RecordFile};
use crate::geometry::{FileStripes, Geometry, ShardRef};
use crate::{Error, Result};

/// What [`validate`] found: the parts of an opened record that follow from
/// the publication and its claims.
#[derive(Clone, Debug)]
pub struct Validated {
    /// Blob locators, parsed.
    pub blobs: Vec<Locator>,
    /// Files, in manifest order.
    pub files: Vec<RecordFile>,
}

/// Checks a publication read at `locator` against its claims, without
/// looking at any signature: the claims themselves
/// ([`ClaimsPredicate::validate`]: a strict manifest, the model id its hash,
/// leaf counts that match sizes), the record version and model, the stripe
/// geometry, the blob locators, and for every file its path, shard places,
/// parity digests and leaf commitment. Pure, and bounded in time and memory
/// by the size of its input.
pub fn validate(
    locator: &Locator,
    publication: &Publication,
    claims: &ClaimsPredicate,
) -> Result<Validated> {
    claims.validate().map_err(|cause| Error::RecordClaims {
        locator: Box::new(locator.clone()),
        cause: Box::new(cause),
    })?;
    validate_publication(locator, publication, claims)
}

/// [`validate`] for claims already validated (by
/// [`modelda_manifest::verify::open_claims`], which [`super::parse`] calls):
/// everything but [`ClaimsPredicate::validate`].
pub fn validate_publication(
    locator: &Locator,
    p: &Publication,
    claims: &ClaimsPredicate,
) -> Result<Validated> {
    let malformed = |part: String, reason: String| Error::RecordMalformed {
        locator: Box::new(locator.clone()),
        part,
        reason,
    };
    let inconsistent = |reason: String| Error::RecordInconsistent {
        locator: Box::new(locator.clone()),
        reason,
    };
    let count =
        |file: Option<&str>, what, expected: Option<u64>, found: usize| Error::RecordCount {
            locator: Box::new(locator.clone()),
            file: file.map(str::to_string),
            what,
            expected: expected.unwrap_or(u64::MAX),
            found: found as u64,
        };
    if p.v != 1 {
        return Err(Error::RecordVersion {
            locator: Box::new(locator.clone()),
            what: "record",
            found: u64::from(p.v),
            supported: 1,
        });
    }
    if p.model_id != claims.model_id {
        return Err(Error::RecordModel {
            locator: Box::new(locator.clone()),
            expected: claims.model_id,
            found: p.model_id,
        });
    }
    let geometry =
        Geometry::new(p.data_shards, p.parity_shards).map_err(|e| inconsistent(e.to_string()))?;
    let blobs: Vec<Locator> = p
        .blobs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Locator>()
                .map_err(|e| malformed(format!("locator of blob {i}"), e.to_string()))
        })
        .collect::<Result<_>>()?;
    let manifest = &claims.manifest;
    if p.files.len() != manifest.files.len() {
        return Err(count(
            None,
            "files",
            Some(manifest.files.len() as u64),
            p.files.len(),
        ));
    }
    let mut files = Vec::with_capacity(p.files.len());
    for (i, (fs, entry)) in p.files.iter().zip(&manifest.files).enumerate() {
        let path = entry.path.as_str();
        if fs.path != entry.path {
            return Err(inconsistent(format!(
                "file {i} is listed as {:?}, but the manifest names {path:?}",
                fs.path
            )));
        }
        let stripes = FileStripes::of(entry, geometry);
        // Decoding allocates no more than the text present; compare counts
        // before allocating anything per stripe.
        let refs = decode_refs(&fs.shards)
            .map_err(|reason| malformed(format!("shard places of {path}"), reason.into()))?;
        let want_refs = stripes.shard_count();
        if want_refs != Some(refs.len() as u64) {
            return Err(count(Some(path), "shard places", want_refs, refs.len()));
        }
        if let Some(r) = refs.iter().find(|r| r.blob as usize >= blobs.len()) {
            return Err(inconsistent(format!(
                "{path}: a shard is placed in blob {}, but the record lists {} blobs",
                r.blob,
                blobs.len()
            )));
        }
        let parity = decode_digests(&fs.parity)
            .map_err(|reason| malformed(format!("parity digests of {path}"), reason.into()))?;
        let want_parity = stripes.parity_count();
        if want_parity != Some(parity.len() as u64) {
            return Err(count(
                Some(path),
                "parity digests",
                want_parity,
                parity.len(),
            ));
        }
        // Every stripe holds at least one leaf, so there are no more stripes
        // than shard places present.
        let mut stripe_starts = Vec::with_capacity(refs.len().min(stripes.count() as usize));
        let mut total = 0usize;
        for s in 0..stripes.count() {
            stripe_starts.push(total);
            total += stripes.shards_of(s);
        }
        let commitment = claims
            .commitment(entry)
            .map_err(|cause| Error::RecordClaims {
                locator: Box::new(locator.clone()),
                cause: Box::new(cause),
            })?;
        files.push(RecordFile {
            entry: entry.clone(),
            stripes,
            commitment,
            refs,
            parity,
            stripe_starts,
        });
    }
    Ok(Validated { blobs, files })
}

fn decode_b64(s: &str, unit: usize) -> std::result::Result<Vec<u8>, &'static str> {
    let raw = B64.decode(s).map_err(|_| "not standard padded base64")?;
    if raw.len() % unit != 0 {
        return Err(if unit == 8 {
            "not a whole number of 8-byte places"
        } else {
            "not a whole number of 32-byte digests"
        });
    }
    Ok(raw)
}

fn decode_refs(s: &str) -> std::result::Result<Vec<ShardRef>, &'static str> {
    Ok(decode_b64(s, 8)?
        .chunks_exact(8)
        .map(|c| ShardRef {
            blob: u32::from_be_bytes(c[..4].try_into().expect("4 bytes")),
            offset: u32::from_be_bytes(c[4..].try_into().expect("4 bytes")),
        })
        .collect())
}

fn decode_digests(s: &str) -> std::result::Result<Vec<[u8; 32]>, &'static str> {
    Ok(decode_b64(s, 32)?
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect())
}
