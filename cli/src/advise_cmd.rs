//! `modelda advise`: sign an advisory about a model (an OSV document in a
//! DSSE in-toto statement, see `modelda_wire::advisory`) and post it to the
//! record namespace, or show what posting it would cost (`--dry-run`).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use modelda_da::LayerKind;
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, AdvisoryPredicate, Draft, Status, MAX_DETAILS_BYTES};
use serde_json::json;

use crate::da_cmd::{runtime, DaArgs};

/// `modelda advise` options.
#[derive(Args, Clone, Debug)]
pub struct AdviseArgs {
    /// The model the advisory is about.
    model_id: ModelId,
    /// Private key (PEM) that signs the advisory. Readers believe it when
    /// the key published or attested the model, or when they trust it
    /// (`--trust-advisories-from`).
    #[arg(long, short)]
    key: PathBuf,
    /// What the advisory says: revoked, compromised-key, poisoned-data,
    /// vulnerable or superseded.
    #[arg(long, value_parser = parse_status)]
    status: Status,
    /// The model that replaces it (with --status superseded).
    #[arg(long, value_name = "MODEL_ID")]
    superseded_by: Option<ModelId>,
    /// One line that says what is wrong.
    #[arg(long)]
    summary: Option<String>,
    /// A Markdown file with the details (at most 32 KiB).
    #[arg(long, value_name = "FILE")]
    details: Option<PathBuf>,
    /// A link to a report or fix (http or https). Repeatable.
    #[arg(long = "reference", value_name = "URL")]
    references: Vec<String>,
    /// A CVSS vector (CVSS:3.1/..., CVSS:4.0/...).
    #[arg(long, value_name = "CVSS_VECTOR")]
    severity: Option<String>,
    /// The model's Hugging Face repository (ORG/NAME), named in the OSV
    /// document as a package with a pkg:huggingface purl.
    #[arg(long, value_name = "ORG/NAME")]
    hf_repo: Option<String>,
    #[command(flatten)]
    da: DaArgs,
    /// Post nothing: print the advisory, its size and the fee.
    #[arg(long)]
    dry_run: bool,
}

fn parse_status(s: &str) -> std::result::Result<Status, String> {
    s.parse()
}

/// Runs `modelda advise`.
pub fn advise(json: bool, args: &AdviseArgs) -> Result<()> {
    let key = PrivateKey::load(&args.key)
        .with_context(|| format!("reading the key {}", args.key.display()))?;
    let details = match &args.details {
        Some(p) => {
            let len = std::fs::metadata(p)
                .with_context(|| format!("reading {}", p.display()))?
                .len();
            if len > MAX_DETAILS_BYTES as u64 {
                bail!(
                    "{} is {len} bytes: details hold at most {MAX_DETAILS_BYTES} bytes (link a longer report with --reference)",
                    p.display()
                );
            }
            Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("reading {} (UTF-8 text)", p.display()))?,
            )
        }
        None => None,
    };
    let draft = Draft {
        model: Some(args.model_id),
        status: Some(args.status),
        superseded_by: args.superseded_by,
        summary: args.summary.clone(),
        details,
        references: args.references.clone(),
        severity: args.severity.clone(),
        hf_repo: args.hf_repo.clone(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let osv = draft
        .osv(&key.public(), now)
        .map_err(|e| anyhow::anyhow!("{}", e.reason))?;
    let id = osv.id.clone();
    let blob = advisory::encode(
        &key,
        AdvisoryPredicate {
            model_id: args.model_id,
            withdraws: None,
            public_key: String::new(),
            osv: osv.clone(),
        },
    );
    // What a reader will check, checked here first.
    advisory::decode(&blob).map_err(|e| anyhow::anyhow!("the advisory does not check: {e}"))?;
    let (fee, fee_basis) = fee_of(&args.da, blob.len());
    if args.dry_run {
        if json {
            out!(
                "{}",
                json!({
                    "dry_run": true,
                    "id": id,
                    "model_id": args.model_id.to_hex(),
                    "status": args.status.as_str(),
                    "layer": args.da.da.as_str(),
                    "bytes": blob.len(),
                    "fee": fee,
                    "osv": osv,
                })
            );
        } else {
            out!("advisory {id}");
            out!("model    {}", args.model_id);
            out!("status   {}", args.status);
            out!("bytes    {} in one blob", blob.len());
            out!("fee      {fee_basis}");
            out!("(dry run: nothing was posted)");
        }
        return Ok(());
    }
    let rt = runtime()?;
    let receipt = rt.block_on(async {
        let layer = args.da.open().await?;
        let mut r = layer
            .submit(args.da.record_namespace, vec![blob.clone()])
            .await
            .with_context(|| format!("posting advisory {id}"))?;
        r.pop().context("the layer returned no receipt")
    })?;
    if json {
        out!(
            "{}",
            json!({
                "id": id,
                "model_id": args.model_id.to_hex(),
                "status": args.status.as_str(),
                "locator": receipt.locator.to_string(),
                "layer": args.da.da.as_str(),
                "bytes": blob.len(),
                "fee": receipt.fee,
            })
        );
    } else {
        out!("advisory {id}");
        out!("model    {}", args.model_id);
        out!("status   {}", args.status);
        out!("posted   {}", receipt.locator);
    }
    Ok(())
}

/// The fee of one blob of `size` bytes on the layer `da` names, and what
/// it is counted in.
fn fee_of(da: &DaArgs, size: usize) -> (serde_json::Value, String) {
    match da.da {
        LayerKind::Local => (json!({"utia": 0}), "none (the embedded chain)".into()),
        LayerKind::Celestia => {
            let gas = modelda_da::celestia::estimate_gas(&[size]);
            let utia = modelda_da::celestia::estimate_fee(&[size], da.gas_price);
            (
                json!({"utia": utia, "gas": gas, "gas_price": da.gas_price}),
                format!("{utia} utia ({gas} gas at {} utia/gas)", da.gas_price),
            )
        }
        LayerKind::Eigenda => {
            let billed = modelda_da::eigenda::billed_bytes(size);
            (
                json!({"billed_bytes": billed}),
                format!("{billed} billed bytes (one blob, padded to at least 128 KiB)"),
            )
        }
        LayerKind::Avail => {
            let nano = modelda_da::avail::estimate_fee_nano(size);
            (
                json!({"nano_avail": nano}),
                format!(
                    "{:.4} AVAIL for one submit_data (mainnet's runtime; before the chain's multipliers)",
                    nano as f64 / 1e9
                ),
            )
        }
    }
}
