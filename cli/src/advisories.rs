//! Advisories on the reader's side (`fetch`, `verify`): ask a node which
//! advisories apply to a model, check each one's signature here, decide
//! here which are believed, print them, and refuse with
//! `--deny-advisories`.
//!
//! Believed: advisories signed by the key the reader verified the model
//! with (the pinned `--key`, or the key in the record or claims), and by
//! the keys of `--trust-advisories-from`. Any other is a third-party
//! report: printed, never refusing. Through lineage, the node vouches for
//! the path and its evidence and for who published the ancestor; the
//! advisory's own signature is still checked here.
//!
//! A node can hide an advisory (nothing proves absence) but cannot forge
//! one: every statement is checked with the key it carries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use modelda_manifest::sign::PublicKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, Status};
use serde::Serialize;
use serde_json::Value;

/// The advisory options of `fetch` and `verify`.
#[derive(Args, Debug, Clone, Default)]
pub struct AdvisoryArgs {
    /// Also believe advisories signed by the keys in FILE (PEM public
    /// keys), about any model. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub trust_advisories_from: Vec<PathBuf>,
    /// Exit non-zero, before writing anything, when a believed advisory
    /// says revoked, compromised-key or poisoned-data (through lineage
    /// too). Needs --index (the node to ask).
    #[arg(long)]
    pub deny_advisories: bool,
}

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
    /// Whether `--deny-advisories` refuses for it.
    pub denies: bool,
    /// The signer's key hint.
    pub signer: String,
    /// Its summary.
    pub summary: Option<String>,
    /// The successor, for `superseded`.
    pub superseded_by: Option<ModelId>,
}

const QUERY: &str = "query($id: ID!) { model(id: $id) { \
    advisories { id stands statement withdrawal } \
    affectedThrough { path standing advisory { id stands statement withdrawal } } } }";

/// Most advisories of one answer looked at.
const MAX_ADVISORIES: usize = 1000;

/// Asks the node at `url` which advisories apply to `model`. `signer` is
/// the key the reader verified the model with; `trusted` the keys of
/// `--trust-advisories-from`.
pub async fn check(
    url: &str,
    model: &ModelId,
    signer: &str,
    trusted: &[PublicKey],
) -> Result<Vec<Applying>> {
    let data = crate::node_client::ask(
        url,
        QUERY,
        serde_json::json!({"id": model.to_hex()}),
        &format!("the advisories of model {model}"),
    )
    .await?;
    let m = &data["model"];
    if m.is_null() {
        bail!(
            "{} does not know model {model}: is it indexed?",
            crate::node_client::endpoint(url)
        );
    }
    let trusted: Vec<String> = trusted.iter().map(PublicKey::hint).collect();
    let mut out = Vec::new();
    for a in m["advisories"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .take(MAX_ADVISORIES)
    {
        let Some(ad) = standing_advisory(model, a) else {
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
    for t in m["affectedThrough"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .take(MAX_ADVISORIES)
    {
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
    Ok(out)
}

/// The advisory in `a` (a GraphQL `Advisory`), when its statement checks
/// for `model` and it stands: not withdrawn by a withdrawal that checks.
/// A node may say an advisory is replaced (`stands: false`) without a
/// withdrawal: the replacing advisory of the same key is then in the same
/// list, and is the one kept.
fn standing_advisory(model: &ModelId, a: &Value) -> Option<advisory::Advisory> {
    let bundle = a["statement"].as_str()?;
    let ad = advisory::parse(model, bundle.as_bytes()).ok()?;
    if ad.predicate.withdraws.is_some() || a["id"].as_str() != Some(ad.id()) {
        return None;
    }
    if let Some(w) = a["withdrawal"].as_str() {
        if let Ok(w) = advisory::parse(model, w.as_bytes()) {
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

fn applying(
    ad: &advisory::Advisory,
    path: Vec<ModelId>,
    standing: &'static str,
    believed: bool,
) -> Applying {
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

/// Prints each advisory on stderr (not with `--json`: the caller puts
/// them in its JSON).
pub fn print(json: bool, model: &ModelId, found: &[Applying]) {
    if json {
        return;
    }
    for a in found {
        let whose = match a.standing {
            "publisher" => "its publisher".to_string(),
            "trusted" => format!("trusted key {}", a.signer),
            "publisher_of_ancestor" => "the ancestor's publisher".to_string(),
            _ => format!("key {} (a third-party report, not believed)", a.signer),
        };
        let what = if a.path.is_empty() {
            format!("model {model} is {}", a.status)
        } else {
            let path: Vec<String> = a
                .path
                .iter()
                .map(|m| m.to_hex()[..12].to_string())
                .collect();
            format!(
                "model {model} is affected through lineage ({}): ancestor {} is {}",
                path.join(" -> "),
                a.about,
                a.status
            )
        };
        eprintln!("ADVISORY {}: {what}, says {whose}", a.id);
        if let Some(s) = &a.summary {
            eprintln!("         {s}");
        }
        if let Some(n) = &a.superseded_by {
            eprintln!("         superseded by model {n}");
        }
    }
}

/// The advisories as JSON, for `--json` output.
pub fn to_json(found: &[Applying]) -> Value {
    serde_json::to_value(found).unwrap_or_default()
}

/// With `deny`, an error naming the believed advisories that refuse.
pub fn enforce(deny: bool, model: &ModelId, found: &[Applying]) -> Result<()> {
    if !deny {
        return Ok(());
    }
    let mut refusing: BTreeMap<&str, &Applying> = BTreeMap::new();
    for a in found.iter().filter(|a| a.denies) {
        refusing.insert(&a.id, a);
    }
    if refusing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = refusing
        .values()
        .map(|a| {
            if a.path.is_empty() {
                format!("{} ({})", a.id, a.status)
            } else {
                format!("{} ({} of ancestor {})", a.id, a.status, a.about)
            }
        })
        .collect();
    bail!(
        "model {model} is refused (--deny-advisories): {}; nothing was written",
        list.join(", ")
    )
}

/// The trusted keys of `args`.
pub fn trusted(args: &AdvisoryArgs) -> Result<Vec<PublicKey>> {
    crate::trust::read_keys(&args.trust_advisories_from)
}
