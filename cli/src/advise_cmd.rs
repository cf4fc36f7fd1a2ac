//! `modelda advise`: sign an advisory about a model (an OSV document in a
//! DSSE in-toto statement, see `modelda_wire::advisory`) and post it to the
//! record namespace, or show what posting it would cost (`--dry-run`).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use clap::Args;
use modelda_da::{LayerKind, Settlement};
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, AdvisoryPredicate, Draft, Status, MAX_DETAILS_BYTES};
use serde_json::json;

use crate::da_cmd::{runtime, DaArgs};

/// `modelda advise` options.
#[derive(Args, Clone, Debug)]
pub struct AdviseArgs {
    /// The model the advisory is about.
    #[arg(required_unless_present = "withdraw")]
    model_id: Option<ModelId>,
    /// Private key (PEM) that signs the advisory. Readers believe it when
    /// the key published the model, or when they trust it
    /// (`--trust-advisories-from`); otherwise it is a third-party report.
    #[arg(long, short)]
    key: PathBuf,
    /// What the advisory says: revoked, compromised-key, poisoned-data,
    /// vulnerable or superseded.
    #[arg(long, value_parser = parse_status, required_unless_present = "withdraw")]
    status: Option<Status>,
    /// Retract the advisory ADVISORY_ID (signed by --key). Its document is
    /// read from this machine's journal, or from the node at --index.
    #[arg(
        long,
        value_name = "ADVISORY_ID",
        conflicts_with_all = ["model_id", "status", "superseded_by", "summary", "details", "references", "severity", "hf_repo"]
    )]
    withdraw: Option<String>,
    /// With --withdraw: a modelda API (`modelda node`) to read the
    /// advisory from, when this machine did not post it.
    #[arg(long, value_name = "URL", requires = "withdraw")]
    index: Option<String>,
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
    /// Where the crash-safe journal lives: an advisory is written there
    /// before it is sent, so that running the same command again after a
    /// crash posts it at most once.
    #[arg(long, default_value = ".modelda/journal")]
    journal_dir: PathBuf,
    /// Post nothing: print the advisory, its size and the fee.
    #[arg(long)]
    dry_run: bool,
}

fn parse_status(s: &str) -> std::result::Result<Status, String> {
    s.parse()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs `modelda advise`.
pub fn advise(json: bool, args: &AdviseArgs) -> Result<()> {
    let key = PrivateKey::load(&args.key)
        .with_context(|| format!("reading the key {}", args.key.display()))?;
    let journal = Journal::new(&args.journal_dir);
    let rt = runtime()?;
    let (predicate, request) = match &args.withdraw {
        Some(id) => {
            let original = rt.block_on(original(&journal, args, id))?;
            if original.key.hint() != key.public().hint() {
                bail!(
                    "advisory {} was signed by key {}, not by --key ({}): only the key that signed an advisory may withdraw it",
                    original.id(),
                    original.key.hint(),
                    key.public().hint()
                );
            }
            let request = format!("withdraw {}", original.id());
            (advisory::withdrawal(&original, now()), request)
        }
        None => draft_predicate(args, &key)?,
    };
    let model = predicate.model_id;
    let status = predicate.osv.database_specific.status;
    let withdraws = predicate.withdraws.clone();
    // The same request again (after a crash, or by mistake) reuses what the
    // journal holds: the same bytes, posted at most once.
    // Posting the same advisory to another layer or namespace is another
    // request.
    let request = format!(
        "{request}\n{} {}",
        args.da.da.as_str(),
        args.da.record_namespace
    );
    let fingerprint = Journal::fingerprint(&key.public().hint(), &request);
    let entry = journal.read(&fingerprint)?;
    let blob = match &entry {
        Some(e) => e.blob()?,
        None => advisory::encode(&key, predicate),
    };
    // What a reader will check, checked here first.
    let checked =
        advisory::decode(&blob).map_err(|e| anyhow::anyhow!("the advisory does not check: {e}"))?;
    let id = checked.id().to_string();
    let osv = checked.predicate.osv.clone();
    let what = if withdraws.is_some() {
        "withdrawal"
    } else {
        "advisory"
    };
    let (fee, fee_basis) = fee_of(&args.da, blob.len());
    if args.dry_run {
        if json {
            out!(
                "{}",
                json!({
                    "dry_run": true,
                    "id": id,
                    "withdraws": withdraws,
                    "model_id": model.to_hex(),
                    "status": status.as_str(),
                    "layer": args.da.da.as_str(),
                    "bytes": blob.len(),
                    "fee": fee,
                    "osv": osv,
                })
            );
        } else {
            out!("{what} {id}");
            out!("model    {model}");
            out!("status   {status}");
            out!("bytes    {} in one blob", blob.len());
            out!("fee      {fee_basis}");
            out!("(dry run: nothing was posted)");
        }
        return Ok(());
    }
    let (locator, fee, again) = rt.block_on(async {
        let layer = args.da.open().await?;
        if let Some(e) = &entry {
            if let Some(loc) = &e.locator {
                return anyhow::Ok((loc.clone(), serde_json::Value::Null, true));
            }
            // Sent before, answer unknown: look for it before sending again.
            if let Some(loc) = find_posted(layer.as_ref(), args, &blob, e.head_before, json).await? {
                journal.write(&Entry {
                    locator: Some(loc.clone()),
                    ..e.clone()
                })?;
                return Ok((loc, serde_json::Value::Null, true));
            }
        }
        let head_before = match &entry {
            Some(e) => e.head_before,
            None => layer.head().await.context("reading the layer's head")?,
        };
        let mut e = Entry {
            fingerprint: fingerprint.clone(),
            id: id.clone(),
            model: model.to_hex(),
            blob: B64.encode(&blob),
            head_before,
            locator: None,
        };
        journal.write(&e)?;
        // A lost answer (the outcome is unknown) is settled here: waited
        // out, looked for, and sent again only when it did not land.
        let mut round = 0;
        let r = loop {
            match layer
                .submit(args.da.record_namespace, vec![blob.clone()])
                .await
            {
                Ok(mut r) => break r.pop().context("the layer returned no receipt")?,
                Err(err) if err.is_outcome_unknown() && round < MAX_SETTLE_ROUNDS => {
                    round += 1;
                    if !json {
                        eprintln!("the answer was lost ({err}): looking for the {what} before sending it again");
                    }
                    if let Some(loc) =
                        find_posted(layer.as_ref(), args, &blob, e.head_before, json).await?
                    {
                        e.locator = Some(loc.clone());
                        journal.write(&e)?;
                        return Ok((loc, serde_json::Value::Null, false));
                    }
                }
                Err(err) => {
                    return Err(anyhow::Error::new(err).context(format!(
                        "posting {what} {id} (run the same command again: it is journaled, and is looked for before it is sent again)"
                    )))
                }
            }
        };
        e.locator = Some(r.locator.to_string());
        journal.write(&e)?;
        Ok((r.locator.to_string(), json!(r.fee), false))
    })?;
    if json {
        out!(
            "{}",
            json!({
                "id": id,
                "withdraws": withdraws,
                "model_id": model.to_hex(),
                "status": status.as_str(),
                "locator": locator,
                "layer": args.da.da.as_str(),
                "bytes": blob.len(),
                "fee": fee,
                "already_posted": again,
            })
        );
    } else {
        out!("{what} {id}");
        out!("model    {model}");
        out!("status   {status}");
        out!("posted   {locator}");
        if again {
            out!("(posted before, by the same command: not posted again)");
        }
    }
    Ok(())
}

/// The predicate of a new advisory, from the options, and the request it
/// answers (what makes two runs the same).
fn draft_predicate(args: &AdviseArgs, key: &PrivateKey) -> Result<(AdvisoryPredicate, String)> {
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
        model: args.model_id,
        status: args.status,
        superseded_by: args.superseded_by,
        summary: args.summary.clone(),
        details,
        references: args.references.clone(),
        severity: args.severity.clone(),
        hf_repo: args.hf_repo.clone(),
    };
    let osv = draft
        .osv(&key.public(), now())
        .map_err(|e| anyhow::anyhow!("{}", e.reason))?;
    let model = args.model_id.context("give the model id")?;
    let request = serde_json::to_string(&json!({
        "model": model.to_hex(),
        "status": osv.database_specific.status,
        "superseded_by": osv.database_specific.superseded_by,
        "summary": osv.summary,
        "details": osv.details,
        "references": osv.references,
        "severity": osv.severity,
        "affected": osv.affected,
    }))?;
    Ok((
        AdvisoryPredicate {
            model_id: model,
            withdraws: None,
            public_key: String::new(),
            osv,
        },
        request,
    ))
}

/// The advisory `id`, to withdraw: from the journal of this machine, or
/// from the node at `--index` (its statement checked here).
async fn original(journal: &Journal, args: &AdviseArgs, id: &str) -> Result<advisory::Advisory> {
    let id = advisory::normalize_id(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(e) = journal.find_id(&id)? {
        let a = advisory::decode(&e.blob()?)
            .map_err(|e| anyhow::anyhow!("the journaled advisory {id} does not check: {e}"))?;
        if a.predicate.withdraws.is_none() {
            return Ok(a);
        }
    }
    let Some(url) = &args.index else {
        bail!("advisory {id} is not in this machine's journal ({}): pass --index URL, a node that indexed it", args.journal_dir.display());
    };
    let endpoint = crate::node_client::endpoint(url);
    let data = crate::node_client::ask(
        url,
        "query($id: ID!) { advisory(id: $id) { modelId statement } }",
        json!({"id": id}),
        &format!("advisory {id}"),
    )
    .await?;
    let a = &data["advisory"];
    if a.is_null() {
        bail!("{endpoint} does not know advisory {id}: is it indexed?");
    }
    let model: ModelId = a["modelId"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("the model id {endpoint} gave"))?;
    let statement = a["statement"].as_str().unwrap_or_default();
    let parsed = advisory::parse(&model, statement.as_bytes())
        .map_err(|e| anyhow::anyhow!("the advisory {endpoint} gave does not check: {e}"))?;
    if parsed.id() != id || parsed.predicate.withdraws.is_some() {
        bail!("{endpoint} answered with another statement than advisory {id}");
    }
    Ok(parsed)
}

/// Looks for `blob` on the layer above `head_before` once every
/// submission sent then is settled: the answer of a sent blob may have
/// been lost.
async fn find_posted(
    layer: &dyn modelda_da::DaLayer,
    args: &AdviseArgs,
    blob: &[u8],
    head_before: u64,
    json: bool,
) -> Result<Option<String>> {
    let Some(follow) = layer.as_follow() else {
        if !json {
            eprintln!("warning: this layer cannot be listed: a blob whose answer was lost is posted again");
        }
        return Ok(None);
    };
    let head = layer.head().await?;
    let until = match layer.settlement() {
        Settlement::Immediate => head,
        Settlement::WithinBlocks(ttl) => {
            let until = head.saturating_add(ttl).saturating_add(1);
            if !json {
                eprintln!("waiting for height {until}: the earlier submission may still be included until then");
            }
            follow.wait_for_height(until).await?;
            until
        }
        Settlement::Unlisted => return Ok(None),
    };
    for h in head_before.saturating_add(1)..=until {
        for (loc, data) in follow.list(args.da.record_namespace, h).await? {
            if data == blob {
                return Ok(Some(loc.to_string()));
            }
        }
    }
    Ok(None)
}

/// The advisories this machine sent: one file per request, written before
/// the blob is sent and again with its locator.
struct Journal {
    dir: PathBuf,
}

/// One journaled advisory.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    fingerprint: String,
    id: String,
    model: String,
    /// The signed blob (base64).
    blob: String,
    /// The layer's head before it was first sent.
    head_before: u64,
    /// Where it was posted, once known.
    locator: Option<String>,
}

impl Entry {
    fn blob(&self) -> Result<Vec<u8>> {
        B64.decode(&self.blob)
            .context("a journaled advisory is not base64: delete the journal entry")
    }
}

/// Lost answers settled in one run before it gives up (each waits out the
/// layer's mempool TTL).
const MAX_SETTLE_ROUNDS: u32 = 4;

/// Most journal entries read when looking for an id.
const MAX_JOURNAL_SCAN: usize = 100_000;

impl Journal {
    fn new(root: &std::path::Path) -> Journal {
        Journal {
            dir: root.join("advisories"),
        }
    }

    fn fingerprint(key_hint: &str, request: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"modelda advise request v1\0");
        h.update(key_hint.as_bytes());
        h.update(b"\0");
        h.update(request.as_bytes());
        h.finalize().to_hex()[..32].to_string()
    }

    fn path(&self, fingerprint: &str) -> PathBuf {
        self.dir.join(format!("{fingerprint}.json"))
    }

    fn read(&self, fingerprint: &str) -> Result<Option<Entry>> {
        let p = self.path(fingerprint);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| {
                format!(
                    "reading the journal entry {} (delete it to start over)",
                    p.display()
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Writes `e` atomically (a temporary file, synced, renamed).
    fn write(&self, e: &Entry) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the journal {}", self.dir.display()))?;
        let p = self.path(&e.fingerprint);
        let tmp = p.with_extension("json.tmp");
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        std::io::Write::write_all(&mut f, &serde_json::to_vec(e)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The entry of the advisory `id`, when this machine sent it.
    fn find_id(&self, id: &str) -> Result<Option<Entry>> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Ok(None);
        };
        for f in dir.take(MAX_JOURNAL_SCAN).flatten() {
            if f.path().extension().is_some_and(|x| x == "json") {
                if let Ok(b) = std::fs::read(f.path()) {
                    if let Ok(e) = serde_json::from_slice::<Entry>(&b) {
                        if e.id == id {
                            return Ok(Some(e));
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The fee of one blob of `size` bytes on the layer `da` names (its
/// kind's fee model), as JSON and as text.
fn fee_of(da: &DaArgs, size: usize) -> (serde_json::Value, String) {
    let fee = da.da.fee(
        &[size],
        &modelda_da::FeeParams {
            gas_price: da.gas_price,
            ..Default::default()
        },
    );
    let text = match da.da {
        LayerKind::Local => format!("{fee}; the embedded chain charges nothing"),
        _ => fee.to_string(),
    };
    (serde_json::to_value(&fee).unwrap_or_default(), text)
}
