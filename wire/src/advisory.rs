//! Advisories: a signed statement that a model should not be used, or only
//! with care (revoked, compromised key, poisoned data, vulnerable,
//! superseded), and its withdrawal.
//!
//! # Format
//!
//! An advisory is one envelope of kind [`Kind::Statement`] in a blob of the
//! record namespace: the header names the model it is about, and the
//! payload is a Sigstore bundle (v0.3 JSON) holding a DSSE envelope of an
//! in-toto Statement v1. Its subject is the model id (`blake3` digest), its
//! predicate type [`ADVISORY_PREDICATE_TYPE`], and its predicate an
//! [`AdvisoryPredicate`]: the status, the signer's public key (PEM, as the
//! claims carry it) and an OSV 1.7 document ([`Osv`]).
//!
//! - The OSV `id` is derived from the content ([`derive_id`]):
//!   `x_MDA-` and 32 hex digits of a BLAKE3 over the model, the status,
//!   the texts, the publication time and the signer. `MDA` is not a
//!   registered OSV prefix; the OSV schema admits unregistered databases
//!   under `x_`, so the documents validate against OSV's own schema.
//! - A withdrawal is a statement with `withdraws` set to the id it
//!   retracts: its OSV document has that id and `withdrawn` set. Only the
//!   key that signed the advisory may withdraw it (the indexer checks).
//! - `affected` names the model by its id (`database_specific`) and, where
//!   its card names a Hugging Face repository, as a package of the `GIT`
//!   ecosystem (the repository's URL) with a `pkg:huggingface/ORG/NAME`
//!   purl.
//!
//! # Checks ([`parse`])
//!
//! Every size is bounded before anything is allocated from it: the payload
//! ([`MAX_ADVISORY_BYTES`]), the texts, the references. The signature is
//! checked with the key in the predicate; the subject, the predicate's
//! model and the envelope header must name the same model; the OSV
//! document must have its required fields (`id`, `modified`) in the right
//! shape and the id its content gives. Who is *believed* is not decided
//! here: that is the reader's trust policy.

use std::collections::BTreeMap;
use std::path::Path;

use modelda_manifest::sign::{Bundle, PrivateKey, PublicKey, Statement, Subject, STATEMENT_TYPE};
use modelda_manifest::ModelId;
use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, Header, Kind};

/// The in-toto predicate type of an advisory.
pub const ADVISORY_PREDICATE_TYPE: &str = "https://modelda.dev/advisory/v1";

/// The OSV schema version the documents follow.
pub const OSV_SCHEMA_VERSION: &str = "1.7.0";

/// Largest advisory payload (the bundle's JSON), bytes.
pub const MAX_ADVISORY_BYTES: usize = 64 << 10;
/// Largest summary, bytes.
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// Largest details text, bytes.
pub const MAX_DETAILS_BYTES: usize = 32 << 10;
/// Most references.
pub const MAX_REFERENCES: usize = 32;
/// Largest URL, repository name or severity vector, bytes.
pub const MAX_FIELD_BYTES: usize = 2048;

/// What an advisory says of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Do not use: the publisher takes it back.
    Revoked,
    /// The key that signed it is compromised: its signatures prove nothing.
    CompromisedKey,
    /// It was trained on poisoned data.
    PoisonedData,
    /// It has a known vulnerability (see the details and severity).
    Vulnerable,
    /// A newer model replaces it (`superseded_by`).
    Superseded,
}

impl Status {
    /// Every status, in order.
    pub const ALL: [Status; 5] = [
        Status::Revoked,
        Status::CompromisedKey,
        Status::PoisonedData,
        Status::Vulnerable,
        Status::Superseded,
    ];

    /// Its name (`revoked`, `compromised-key`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Revoked => "revoked",
            Status::CompromisedKey => "compromised-key",
            Status::PoisonedData => "poisoned-data",
            Status::Vulnerable => "vulnerable",
            Status::Superseded => "superseded",
        }
    }

    /// Whether `--deny-advisories` refuses a model with this status.
    pub fn denies(self) -> bool {
        matches!(
            self,
            Status::Revoked | Status::CompromisedKey | Status::PoisonedData
        )
    }

    /// Whether it reaches the model's descendants (where the evidence
    /// shows they share its bytes).
    pub fn reaches_descendants(self) -> bool {
        matches!(self, Status::CompromisedKey | Status::PoisonedData)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?}: one of {}",
                    Status::ALL.map(Status::as_str).join(", ")
                )
            })
    }
}

/// An OSV 1.7 document, as modelda writes it. Unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Osv {
    /// `1.7.0`.
    pub schema_version: String,
    /// `x_MDA-` and 32 hex digits ([`derive_id`]).
    pub id: String,
    /// RFC 3339, UTC.
    pub modified: String,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// RFC 3339, UTC: set by a withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// CVSS vectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// The model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<OsvAffected>,
    /// Links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<OsvReference>,
    /// modelda's own fields.
    pub database_specific: OsvModelda,
}

/// An OSV severity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvSeverity {
    /// `CVSS_V2`, `CVSS_V3` or `CVSS_V4`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector.
    pub score: String,
}

/// An OSV affected entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvAffected {
    /// The Hugging Face repository, when the card names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<OsvPackage>,
    /// The model id.
    pub database_specific: OsvModelId,
}

/// An OSV package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvPackage {
    /// `GIT`.
    pub ecosystem: String,
    /// The repository's URL.
    pub name: String,
    /// `pkg:huggingface/ORG/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// The model an affected entry names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvModelId {
    /// The model id.
    pub model_id: ModelId,
}

/// An OSV reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvReference {
    /// `WEB`, `ADVISORY`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL.
    pub url: String,
}

/// modelda's fields of an OSV document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsvModelda {
    /// The status.
    pub status: Status,
    /// The successor, for `superseded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<ModelId>,
}

/// The predicate of an advisory statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryPredicate {
    /// The model it is about (the statement's subject too).
    pub model_id: ModelId,
    /// The id of the advisory this one withdraws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdraws: Option<String>,
    /// The signer's public key, PEM.
    pub public_key: String,
    /// The OSV document.
    pub osv: Osv,
}

/// What `modelda advise` says, before it is signed.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// The model.
    pub model: Option<ModelId>,
    /// The status.
    pub status: Option<Status>,
    /// The successor, for `superseded`.
    pub superseded_by: Option<ModelId>,
    /// One line.
    pub summary: Option<String>,
    /// Markdown.
    pub details: Option<String>,
    /// Links.
    pub references: Vec<String>,
    /// A CVSS vector.
    pub severity: Option<String>,
    /// The model's Hugging Face repository (`ORG/NAME`), from its card.
    pub hf_repo: Option<String>,
}

/// An advisory that parsed and checked ([`parse`]).
#[derive(Clone, Debug)]
pub struct Advisory {
    /// The model it is about.
    pub model: ModelId,
    /// The statement's predicate.
    pub predicate: AdvisoryPredicate,
    /// The signer.
    pub key: PublicKey,
}

impl Advisory {
    /// Its id (the OSV `id`).
    pub fn id(&self) -> &str {
        &self.predicate.osv.id
    }

    /// The status it sets (a withdrawal sets none).
    pub fn status(&self) -> Option<Status> {
        if self.predicate.withdraws.is_some() {
            None
        } else {
            Some(self.predicate.osv.database_specific.status)
        }
    }
}

/// Why an advisory is refused: a stable code (the indexer's rejection
/// code) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("advisory refused ({code}): {reason}")]
pub struct Refused {
    /// `advisory_too_large`, `advisory_malformed`, `advisory_signature`,
    /// `advisory_subject`, `advisory_osv`, `advisory_id`.
    pub code: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refused {
    Refused {
        code,
        reason: reason.into(),
    }
}

/// The id of an advisory with these contents: `x_MDA-` and 32 hex digits
/// of a BLAKE3 over the model, the status, the successor, the texts, the
/// publication time and the signer's key hint, each length-prefixed.
pub fn derive_id(osv: &Osv, model: &ModelId, key_hint: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"modelda advisory id v1\0");
    h.update(model.as_bytes());
    let mut field = |b: &[u8]| {
        h.update(&(b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(osv.database_specific.status.as_str().as_bytes());
    field(
        osv.database_specific
            .superseded_by
            .map(|m| m.to_hex())
            .unwrap_or_default()
            .as_bytes(),
    );
    field(osv.summary.as_deref().unwrap_or("").as_bytes());
    field(osv.details.as_deref().unwrap_or("").as_bytes());
    for r in &osv.references {
        field(r.url.as_bytes());
    }
    field(b"|");
    for s in &osv.severity {
        field(s.score.as_bytes());
    }
    field(osv.published.as_deref().unwrap_or("").as_bytes());
    field(key_hint.as_bytes());
    let d = h.finalize();
    format!("x_MDA-{}", hex::encode(&d.as_bytes()[..16]))
}

/// `MDA-…` or `x_MDA-…`, as a user may write it, in the document's form.
pub fn normalize_id(s: &str) -> std::result::Result<String, String> {
    let hex = s
        .strip_prefix("x_MDA-")
        .or_else(|| s.strip_prefix("MDA-"))
        .ok_or_else(|| format!("{s:?} is not an advisory id (x_MDA-<32 hex digits>)"))?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not an advisory id (x_MDA-<32 hex digits>)"
        ));
    }
    Ok(format!("x_MDA-{}", hex.to_ascii_lowercase()))
}

/// RFC 3339 (UTC, whole seconds) of `unix` seconds.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Whether `s` is an RFC 3339 UTC timestamp as OSV writes them
/// (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`).
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| -> u32 { s[r].parse().unwrap_or(u32::MAX) };
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let frac = &b[19..b.len() - 1];
    let frac_ok = frac.is_empty()
        || (frac.len() >= 2 && frac[0] == b'.' && frac[1..].iter().all(u8::is_ascii_digit));
    shape
        && frac_ok
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}

fn check_text(what: &str, s: &str, max: usize) -> std::result::Result<(), Refused> {
    if s.len() > max {
        return Err(refuse(
            "advisory_too_large",
            format!("its {what} is {} bytes, over {max}", s.len()),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(refuse(
            "advisory_osv",
            format!("its {what} holds control characters"),
        ));
    }
    Ok(())
}

fn check_url(s: &str) -> std::result::Result<(), Refused> {
    check_text("reference", s, MAX_FIELD_BYTES)?;
    if !(s.starts_with("https://") || s.starts_with("http://")) || s.contains(char::is_whitespace) {
        return Err(refuse(
            "advisory_osv",
            format!("reference {s:?} is not an http(s) URL"),
        ));
    }
    Ok(())
}

/// The OSV severity type of a CVSS vector.
fn severity_kind(vector: &str) -> std::result::Result<&'static str, Refused> {
    check_text("severity", vector, MAX_FIELD_BYTES)?;
    let kind = if vector.starts_with("CVSS:4.0/") {
        "CVSS_V4"
    } else if vector.starts_with("CVSS:3.0/") || vector.starts_with("CVSS:3.1/") {
        "CVSS_V3"
    } else if vector.starts_with("AV:") {
        "CVSS_V2"
    } else {
        return Err(refuse(
            "advisory_osv",
            format!("severity {vector:?} is not a CVSS vector (CVSS:3.1/AV:N/..., CVSS:4.0/...)"),
        ));
    };
    if !vector
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/:.".contains(&b))
    {
        return Err(refuse(
            "advisory_osv",
            format!("severity {vector:?} is not a CVSS vector"),
        ));
    }
    Ok(kind)
}

/// A Hugging Face repository name (`ORG/NAME`) fit for a URL and a purl.
fn check_repo(repo: &str) -> std::result::Result<(), Refused> {
    let ok = repo.len() <= 256
        && repo.split('/').count() == 2
        && repo.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(refuse(
            "advisory_osv",
            format!("{repo:?} is not a Hugging Face repository name (ORG/NAME)"),
        ))
    }
}

impl Draft {
    /// The OSV document of this draft, signed by `key` at `now` (unix
    /// seconds), with its id.
    pub fn osv(&self, key: &PublicKey, now: u64) -> std::result::Result<Osv, Refused> {
        let model = self
            .model
            .ok_or_else(|| refuse("advisory_subject", "no model"))?;
        let status = self
            .status
            .ok_or_else(|| refuse("advisory_osv", "no status"))?;
        if status == Status::Superseded && self.superseded_by.is_none() {
            return Err(refuse(
                "advisory_osv",
                "a `superseded` advisory names its successor (--superseded-by ID)",
            ));
        }
        if status != Status::Superseded && self.superseded_by.is_some() {
            return Err(refuse(
                "advisory_osv",
                "--superseded-by goes with the `superseded` status only",
            ));
        }
        let when = rfc3339(now);
        let affected = OsvAffected {
            package: match &self.hf_repo {
                Some(repo) => {
                    check_repo(repo)?;
                    Some(OsvPackage {
                        ecosystem: "GIT".into(),
                        name: format!("https://huggingface.co/{repo}"),
                        purl: Some(format!("pkg:huggingface/{repo}")),
                    })
                }
                None => None,
            },
            database_specific: OsvModelId { model_id: model },
        };
        let severity = match &self.severity {
            Some(v) => vec![OsvSeverity {
                kind: severity_kind(v)?.into(),
                score: v.clone(),
            }],
            None => Vec::new(),
        };
        let mut osv = Osv {
            schema_version: OSV_SCHEMA_VERSION.into(),
            id: String::new(),
            modified: when.clone(),
            published: Some(when),
            withdrawn: None,
            summary: self.summary.clone(),
            details: self.details.clone(),
            severity,
            affected: vec![affected],
            references: self
                .references
                .iter()
                .map(|u| OsvReference {
                    kind: "WEB".into(),
                    url: u.clone(),
                })
                .collect(),
            database_specific: OsvModelda {
                status,
                superseded_by: self.superseded_by,
            },
        };
        osv.id = derive_id(&osv, &model, &key.hint());
        check_osv(&osv, &model)?;
        Ok(osv)
    }
}

/// The withdrawal of `advisory` (its parsed form) at `now`: its document
/// with `withdrawn` and `modified` set.
pub fn withdrawal(advisory: &Advisory, now: u64) -> AdvisoryPredicate {
    let mut osv = advisory.predicate.osv.clone();
    let when = rfc3339(now);
    osv.modified = when.clone();
    osv.withdrawn = Some(when);
    AdvisoryPredicate {
        model_id: advisory.model,
        withdraws: Some(osv.id.clone()),
        public_key: String::new(),
        osv,
    }
}

/// The signed blob of `predicate` (its `public_key` set to `key`'s): one
/// envelope of kind [`Kind::Statement`] naming the model.
pub fn encode(key: &PrivateKey, mut predicate: AdvisoryPredicate) -> Vec<u8> {
    predicate.public_key = key.public().to_pem();
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: predicate.model_id.to_hex(),
            digest: BTreeMap::from([("blake3".to_string(), predicate.model_id.to_hex())]),
        }],
        predicate_type: ADVISORY_PREDICATE_TYPE.into(),
        predicate: &predicate,
    };
    let payload = serde_json::to_vec(&st).expect("statements always serialize");
    statement_blob(
        predicate.model_id,
        &Bundle::sign(key, &payload).to_json().into_bytes(),
    )
}

/// The blob of one [`Kind::Statement`] envelope about `model` carrying
/// `bundle` (a signed bundle's JSON).
pub fn statement_blob(model: ModelId, bundle: &[u8]) -> Vec<u8> {
    let header = Header {
        kind: Kind::Statement,
        model,
        file: 0,
        stripe: 0,
        shard: 0,
        data_shards: 1,
        parity_shards: 0,
        leaf_size: modelda_merkle::LeafSize::default(),
    };
    let digest = header
        .digest(bundle)
        .expect("a statement's digest is its BLAKE3");
    let mut out = Vec::new();
    header.encode_into(&digest, bundle, &mut out);
    out
}

fn check_osv(osv: &Osv, model: &ModelId) -> std::result::Result<(), Refused> {
    if osv.schema_version != OSV_SCHEMA_VERSION {
        return Err(refuse(
            "advisory_osv",
            format!(
                "schema_version {:?}, not {OSV_SCHEMA_VERSION}",
                osv.schema_version
            ),
        ));
    }
    normalize_id(&osv.id)
        .ok()
        .filter(|n| *n == osv.id)
        .ok_or_else(|| {
            refuse(
                "advisory_id",
                format!("id {:?} is not x_MDA-<32 hex>", osv.id),
            )
        })?;
    for (what, t) in [
        ("modified", Some(&osv.modified)),
        ("published", osv.published.as_ref()),
        ("withdrawn", osv.withdrawn.as_ref()),
    ] {
        if let Some(t) = t {
            if !is_timestamp(t) {
                return Err(refuse(
                    "advisory_osv",
                    format!("{what} {t:?} is not an RFC 3339 UTC time"),
                ));
            }
        }
    }
    if let Some(s) = &osv.summary {
        check_text("summary", s, MAX_SUMMARY_BYTES)?;
    }
    if let Some(d) = &osv.details {
        check_text("details", d, MAX_DETAILS_BYTES)?;
    }
    if osv.references.len() > MAX_REFERENCES {
        return Err(refuse(
            "advisory_too_large",
            format!("{} references, over {MAX_REFERENCES}", osv.references.len()),
        ));
    }
    for r in &osv.references {
        check_url(&r.url)?;
        check_text("reference type", &r.kind, 32)?;
    }
    if osv.severity.len() > 1 {
        return Err(refuse("advisory_osv", "more than one severity"));
    }
    for s in &osv.severity {
        if severity_kind(&s.score)? != s.kind {
            return Err(refuse(
                "advisory_osv",
                format!("severity type {:?} does not fit {:?}", s.kind, s.score),
            ));
        }
    }
    let [a] = osv.affected.as_slice() else {
        return Err(refuse("advisory_osv", "`affected` names exactly one model"));
    };
    if a.database_specific.model_id != *model {
        return Err(refuse(
            "advisory_subject",
            "`affected` names another model than the statement's subject",
        ));
    }
    if let Some(p) = &a.package {
        let repo = p.name.strip_prefix("https://huggingface.co/").unwrap_or("");
        check_repo(repo)?;
        if p.ecosystem != "GIT" || p.purl.as_deref() != Some(&format!("pkg:huggingface/{repo}")) {
            return Err(refuse(
                "advisory_osv",
                "the package is a Hugging Face repository: ecosystem GIT, its URL, its purl",
            ));
        }
    }
    let s = osv.database_specific.status;
    if (s == Status::Superseded) != osv.database_specific.superseded_by.is_some() {
        return Err(refuse(
            "advisory_osv",
            "`superseded_by` goes with the `superseded` status, and only with it",
        ));
    }
    Ok(())
}

/// Parses and checks the payload of a [`Kind::Statement`] envelope whose
/// header names `model`: an advisory, signed by the key it carries.
pub fn parse(model: &ModelId, payload: &[u8]) -> std::result::Result<Advisory, Refused> {
    if payload.len() > MAX_ADVISORY_BYTES {
        return Err(refuse(
            "advisory_too_large",
            format!("{} bytes, over {MAX_ADVISORY_BYTES}", payload.len()),
        ));
    }
    let here = Path::new("advisory");
    let bundle = Bundle::from_json(here, payload)
        .map_err(|e| refuse("advisory_malformed", e.to_string()))?;
    let unsigned = bundle
        .payload(here)
        .map_err(|e| refuse("advisory_malformed", e.to_string()))?;
    let st: Statement<serde_json::Value> = serde_json::from_slice(&unsigned)
        .map_err(|e| refuse("advisory_malformed", format!("statement: {e}")))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != ADVISORY_PREDICATE_TYPE {
        return Err(refuse(
            "advisory_malformed",
            format!(
                "statement type {:?} with predicate {:?}, not an advisory",
                st.type_, st.predicate_type
            ),
        ));
    }
    let predicate: AdvisoryPredicate = serde_json::from_value(st.predicate)
        .map_err(|e| refuse("advisory_malformed", format!("predicate: {e}")))?;
    if predicate.public_key.len() > MAX_FIELD_BYTES {
        return Err(refuse("advisory_too_large", "the public key is too long"));
    }
    let key = PublicKey::from_pem(here, &predicate.public_key)
        .map_err(|e| refuse("advisory_signature", e.to_string()))?;
    bundle
        .verify(here, &key)
        .map_err(|e| refuse("advisory_signature", e.to_string()))?;
    let [subject] = st.subject.as_slice() else {
        return Err(refuse(
            "advisory_subject",
            "the statement has not one subject",
        ));
    };
    let hex = model.to_hex();
    if predicate.model_id != *model
        || subject.digest.get("blake3") != Some(&hex)
        || subject.digest.len() != 1
    {
        return Err(refuse(
            "advisory_subject",
            "the subject, the predicate and the envelope do not name the same model",
        ));
    }
    check_osv(&predicate.osv, model)?;
    match &predicate.withdraws {
        Some(w) => {
            if *w != predicate.osv.id || predicate.osv.withdrawn.is_none() {
                return Err(refuse(
                    "advisory_id",
                    "a withdrawal carries the withdrawn advisory's document, with `withdrawn` set",
                ));
            }
        }
        None => {
            if predicate.osv.withdrawn.is_some() {
                return Err(refuse(
                    "advisory_osv",
                    "`withdrawn` is set by a withdrawal only",
                ));
            }
            let want = derive_id(&predicate.osv, model, &key.hint());
            if predicate.osv.id != want {
                return Err(refuse(
                    "advisory_id",
                    format!(
                        "id {} is not what its content gives ({want})",
                        predicate.osv.id
                    ),
                ));
            }
        }
    }
    Ok(Advisory {
        model: *model,
        predicate,
        key,
    })
}

/// Decodes a blob holding one advisory envelope and checks it ([`parse`]).
pub fn decode(blob: &[u8]) -> std::result::Result<Advisory, Refused> {
    let e =
        Envelope::decode_at(blob, 0).map_err(|e| refuse("advisory_malformed", e.to_string()))?;
    if e.header.kind != Kind::Statement {
        return Err(refuse("advisory_malformed", "not a statement envelope"));
    }
    parse(&e.header.model, &e.payload)
}

pub mod judge;

#[cfg(test)]
mod tests;
