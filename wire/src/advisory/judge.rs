//! A reader's judgment of the advisories a node lists for a model, with
//! no I/O: every statement and withdrawal is checked here with the key it
//! carries, and who is believed is decided by the reader's keys, not the
//! node's. The CLI (`fetch`/`verify --index`) and the Python client use it.
//!
//! Believed: advisories signed by the key the reader verified the model
//! with (the pinned key, or the key in the claims), and by the keys the
//! reader trusts. Through lineage, the node vouches for the path and its
//! evidence and for who published the ancestor; the advisory's own
//! signature is still checked here. Any other advisory is a third-party
//! report: listed, never refusing. A node can hide an advisory (nothing
//! proves absence) but cannot forge one.

use modelda_manifest::ModelId;
use serde::Serialize;
use serde_json::Value;

use super::{parse, Advisory, Status};

/// The GraphQL selection [`judge`] reads, under `model(id:)`.
pub const SELECTION: &str = "advisories { id stands statement withdrawal } \
    affectedThrough { path standing advisory { id stands statement withdrawal } }";

/// Most advisories of one answer looked at (the API lists at most 1,000).
pub const MAX_ADVISORIES: usize = 1000;

/// An advisory that applies to the model, as this reader judged it.
#[derive(Clone, Debug, Serialize)]
pub struct Applying {
    /// Its id.
    pub id: String,
    /// What it says.
    pub status: Status,
    /// The model it is about (the model itself, or an ancestor).
    pub about: ModelId,
    /// Through lineage: the model ids from the model up to `about`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<ModelId>,
    /// `publisher`, `trusted`, `publisher_of_ancestor` or `third_party`.
    pub standing: &'static str,
    /// Whether it is believed (only believed advisories refuse).
    pub believed: bool,
    /// Whether a reader that denies advisories refuses for it.
    pub denies: bool,
    /// The signer's key hint.
    pub signer: String,
    /// Its summary.
    pub summary: Option<String>,
    /// The successor, for `superseded`.
    pub superseded_by: Option<ModelId>,
}

/// Judges `answer`, a node's `model` object with [`SELECTION`], for
/// `model`: `signer` is the hint of the key the reader verified the model
/// with, `trusted` the hints of the keys it trusts besides.
pub fn judge(model: &ModelId, answer: &Value, signer: &str, trusted: &[String]) -> Vec<Applying> {
    let list = |field: &str| -> Vec<Value> {
        answer[field]
            .as_array()
            .map(|a| a.iter().take(MAX_ADVISORIES).cloned().collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for a in list("advisories") {
        let Some(ad) = standing_advisory(model, &a) else {
            continue;
        };
        let hint = ad.key.hint();
        let (standing, believed) = if hint == signer {
            ("publisher", true)
        } else if trusted.contains(&hint) {
            ("trusted", true)
        } else {
            ("third_party", false)
        };
        out.push(applying(&ad, Vec::new(), standing, believed));
    }
    for t in list("affectedThrough") {
        let path: Vec<ModelId> = t["path"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str()?.parse().ok())
            .collect();
        let Some(ancestor) = path.last().copied() else {
            continue;
        };
        if path.first() != Some(model) || path.len() < 2 {
            continue;
        }
        let Some(ad) = standing_advisory(&ancestor, &t["advisory"]) else {
            continue;
        };
        let Some(status) = ad.status() else { continue };
        if !status.reaches_descendants() {
            continue;
        }
        let hint = ad.key.hint();
        let (standing, believed) = if trusted.contains(&hint) {
            ("trusted", true)
        } else if t["standing"] == "PUBLISHER" {
            ("publisher_of_ancestor", true)
        } else {
            ("third_party", false)
        };
        out.push(applying(&ad, path, standing, believed));
    }
    out
}

/// The advisory in `a` (a GraphQL `Advisory`), when its statement checks
/// for `model` and it stands: not withdrawn by a withdrawal that checks.
/// A node may say an advisory is replaced (`stands: false`) without a
/// withdrawal: the replacing advisory of the same key is then in the same
/// list, and is the one kept.
fn standing_advisory(model: &ModelId, a: &Value) -> Option<Advisory> {
    let bundle = a["statement"].as_str()?;
    let ad = parse(model, bundle.as_bytes()).ok()?;
    if ad.predicate.withdraws.is_some() || a["id"].as_str() != Some(ad.id()) {
        return None;
    }
    if let Some(w) = a["withdrawal"].as_str() {
        if let Ok(w) = parse(model, w.as_bytes()) {
            if w.predicate.withdraws.as_deref() == Some(ad.id()) && w.key.hint() == ad.key.hint() {
                return None;
            }
        }
    }
    if a["stands"] == Value::Bool(false) && a["withdrawal"].is_null() {
        // Replaced by a later advisory of its key (listed too).
        return None;
    }
    Some(ad)
}

fn applying(ad: &Advisory, path: Vec<ModelId>, standing: &'static str, believed: bool) -> Applying {
    let status = ad.status().unwrap_or(Status::Vulnerable);
    Applying {
        id: ad.id().to_string(),
        status,
        about: ad.model,
        path,
        standing,
        believed,
        denies: believed && status.denies(),
        signer: ad.key.hint(),
        summary: ad.predicate.osv.summary.clone(),
        superseded_by: ad.predicate.osv.database_specific.superseded_by,
    }
}
