//! Advisories on the reader's side (`fetch`, `verify`): ask a node which
//! advisories apply to a model, judge them here with the core's rules
//! (`modelda_wire::advisory::judge`: every statement checked with its key;
//! believed when signed by the key the model was verified with, the
//! pinned `--key` or the key in the record or claims, or by a key of
//! `--trust-advisories-from`), print them, and refuse with
//! `--deny-advisories`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use modelda_manifest::sign::PublicKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory;
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

pub use advisory::judge::Applying;

/// Asks the node at `url` which advisories apply to `model`, and judges
/// them here ([`advisory::judge::judge`]). `signer` is the key the reader
/// verified the model with; `trusted` the keys of `--trust-advisories-from`.
pub async fn check(
    url: &str,
    model: &ModelId,
    signer: &str,
    trusted: &[PublicKey],
) -> Result<Vec<Applying>> {
    let data = crate::node_client::ask(
        url,
        &format!(
            "query($id: ID!) {{ model(id: $id) {{ {} }} }}",
            advisory::judge::SELECTION
        ),
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
    Ok(advisory::judge::judge(model, m, signer, &trusted))
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
