//! `modelda publish` and `modelda fetch`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use modelda_da::{DaLayer, LayerKind, Locator};
use modelda_manifest::sign::{PrivateKey, PublicKey};
use modelda_manifest::{commit_dir, ModelId};
use modelda_publisher::estimate;
use modelda_publisher::fetch::{self, Selection};
use modelda_publisher::plan::{Geometry, Plan};
use modelda_publisher::publish::{self, PublishOptions, SignedModel};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::da_cmd::{runtime, DaArgs};
use crate::model_cmd::CommitArgs;
use crate::progress::Bar;

/// `modelda publish` options.
#[derive(Args, Clone, Debug)]
pub struct PublishArgs {
    /// The model directory.
    dir: PathBuf,
    /// Private key (PEM) that signs the model and the publication record.
    /// Not needed with --dry-run.
    #[arg(long, short, required_unless_present = "dry_run")]
    key: Option<PathBuf>,
    #[command(flatten)]
    commit: CommitArgs,
    #[command(flatten)]
    da: DaArgs,
    /// Data leaves per Reed-Solomon stripe (k).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    data_shards: u16,
    /// Parity shards per stripe (m): any m of k+m shards may be lost. 0 turns
    /// erasure coding off.
    #[arg(long, default_value_t = 4)]
    parity: u16,
    /// Record of a parent publication (its locator) whose identical leaves
    /// are referenced instead of posted again. Repeatable.
    #[arg(long = "reuse", value_name = "RECORD")]
    reuse: Vec<Locator>,
    /// Where the crash-safe journals live.
    #[arg(long, default_value = ".modelda/journal")]
    journal_dir: PathBuf,
    /// Concurrent submissions.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Most blob bytes built but not yet confirmed, in MiB.
    #[arg(long, default_value_t = 64)]
    max_in_flight_mib: usize,
    /// Cap blobs below the layer's own limit, in bytes (more, smaller blobs).
    #[arg(long)]
    max_blob_bytes: Option<usize>,
    /// Hash and sign again even when DIR holds a valid signature by --key.
    #[arg(long)]
    resign: bool,
    /// Post nothing: print the plan (blobs, shares, bytes, fee and time estimates).
    #[arg(long)]
    dry_run: bool,
}

/// `modelda fetch` options.
#[derive(Args, Clone, Debug)]
pub struct FetchArgs {
    /// The model id.
    model_id: ModelId,
    /// Locator of the model's publication record (printed by publish).
    #[arg(long, required_unless_present = "index")]
    record: Option<Locator>,
    /// Or: a modelda API (`modelda node`) to find the record with, e.g.
    /// http://127.0.0.1:8700. Nothing it says is trusted: the record and
    /// every leaf are verified as with --record.
    #[arg(long, conflicts_with = "record")]
    index: Option<String>,
    /// Fetch only this file (path as in the manifest).
    #[arg(long)]
    file: Option<String>,
    /// Fetch only this tensor's bytes (from --file when several files have it).
    #[arg(long)]
    tensor: Option<String>,
    /// With --tensor: write a single-tensor safetensors file.
    #[arg(long, requires = "tensor")]
    as_safetensors: bool,
    /// Output directory. Default: modelda-<first 12 digits of the id>.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Publisher public key (PEM) to require. Without it the key in the
    /// record is used and reported as not pinned.
    #[arg(long)]
    key: Option<PathBuf>,
    #[command(flatten)]
    advisories: crate::advisories::AdvisoryArgs,
    #[command(flatten)]
    da: DaArgs,
}

/// A progress bar; the flag says whether notes go to stderr (not with
/// `--json` or `-q`).
struct PublishBar(Bar, bool);

impl publish::PublishProgress for PublishBar {
    fn start(&self, total: u64) {
        modelda_manifest::Progress::start(&self.0, total)
    }
    fn advance(&self, bytes: u64) {
        modelda_manifest::Progress::advance(&self.0, bytes)
    }
    fn settling(&self, height: u64) {
        if self.1 {
            eprintln!(
                "waiting for height {height}: a submission without an answer may still be included until then (mempool TTL, --mempool-ttl-blocks); its blobs are looked for before anything is posted again"
            );
        }
    }
}

impl fetch::FetchProgress for PublishBar {
    fn start(&self, total: u64) {
        modelda_manifest::Progress::start(&self.0, total)
    }
    fn advance(&self, bytes: u64) {
        modelda_manifest::Progress::advance(&self.0, bytes)
    }
}

/// Stops on the first Ctrl-C or SIGTERM, saying `what` it finishes first;
/// exits at once on the second.
pub(crate) fn stop_on_signal(stop: CancellationToken, json: bool, what: &'static str) {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        for _ in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match &mut term { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            if stop.is_cancelled() {
                std::process::exit(130);
            }
            stop.cancel();
            if !json {
                eprintln!("stopping: {what} (Ctrl-C again to quit now)");
            }
        }
    });
}

pub fn publish(json: bool, show_progress: bool, args: &PublishArgs) -> Result<()> {
    let geometry =
        Geometry::new(args.data_shards, args.parity).context("--data-shards/--parity")?;
    if args.dry_run {
        return dry_run(json, show_progress, args, geometry);
    }
    let key_path = args.key.as_ref().expect("clap requires --key");
    let key = PrivateKey::load(key_path)
        .with_context(|| format!("loading the signing key {}", key_path.display()))?;
    let max_blob = max_blob_bytes(args, &avail_runtime(json, args)?)?;
    let opts = args
        .commit
        .options_with(args.commit.leaf_size_for(max_blob));
    let bar = Bar::new(show_progress, "hashing");
    let explicit_lineage = !args.commit.parents.is_empty() || args.commit.training.is_some();
    // An existing signature is used when its leaves are the size asked for
    // or, with no size asked for, when they fit the layer's blobs.
    let reusable = |m: &modelda_manifest::ModelManifest| {
        m.files.iter().all(|f| match args.commit.leaf_size {
            Some(l) => f.leaf_size == l,
            None => {
                f.leaf_size.bytes() as usize + modelda_publisher::envelope::HEADER_LEN <= max_blob
            }
        })
    };
    let model = SignedModel::prepare(
        &args.dir,
        &key,
        &opts,
        args.resign || explicit_lineage,
        reusable,
        &bar,
    )
    .with_context(|| format!("committing and signing {}", args.dir.display()))?;
    bar.finish();
    if !json {
        if model.signed_now {
            eprintln!(
                "signed {} (model.sig, model.claims.sig)",
                args.dir.display()
            );
        } else {
            eprintln!(
                "using the existing signature in {} (leaves are re-checked while posting)",
                args.dir.display()
            );
        }
    }
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let layer: Arc<dyn DaLayer> = Arc::from(args.da.open().await?);
        let stop = CancellationToken::new();
        stop_on_signal(
            stop.clone(),
            json,
            "waiting for blobs in flight to be confirmed and journaled",
        );
        let popts = PublishOptions {
            geometry,
            namespace: args.da.namespace,
            record_namespace: args.da.record_namespace,
            journal_dir: args.journal_dir.clone(),
            max_in_flight: args.max_in_flight_mib.max(1) << 20,
            jobs: args.jobs,
            parents: args.reuse.clone(),
            max_blob_bytes: args.max_blob_bytes,
        };
        let bar = PublishBar(Bar::new(show_progress, "posting"), show_progress);
        let r = publish::publish(layer, &model, &key, &popts, &bar, stop).await;
        bar.0.finish();
        anyhow::Ok(r?)
    })?;
    if json {
        out!("{}", serde_json::to_string(&outcome)?);
    } else {
        out!("model    {}", outcome.model_id);
        out!("record   {}", outcome.record);
        out!(
            "posted   {} blobs, {} bytes for {} model bytes (overhead {:.3}x)",
            outcome.blobs,
            outcome.bytes_posted,
            outcome.model_bytes,
            outcome.overhead
        );
        if outcome.reused_leaves > 0 {
            out!(
                "reused   {} leaves ({} bytes) from parent publications",
                outcome.reused_leaves,
                outcome.reused_bytes
            );
        }
        if outcome.adopted_blobs > 0 {
            out!(
                "reused   {} blobs ({} bytes) another key's publication of this model had posted: not posted again",
                outcome.adopted_blobs, outcome.adopted_bytes
            );
        }
        if outcome.posted_now == 0 && outcome.recovered == 0 {
            out!("(already published: nothing was posted)");
        } else if outcome.resumed > 0 || outcome.recovered > 0 {
            out!(
                "resumed  {} blobs from the journal, {} found on the layer, {} posted now",
                outcome.resumed,
                outcome.recovered,
                outcome.posted_now
            );
        }
        out!("fee      {} {}", outcome.fee, args.da.da.fee_unit());
    }
    Ok(())
}

/// Avail's runtime limits from its node (5 s, no retries), or its
/// documented defaults with a warning; the defaults on other layers.
fn avail_runtime(json: bool, args: &PublishArgs) -> Result<modelda_da::avail::Runtime> {
    if args.da.da != LayerKind::Avail {
        return Ok(Default::default());
    }
    let opts = modelda_da::avail::AvailOptions {
        retry: modelda_da::RetryPolicy::NONE,
        timeout: std::time::Duration::from_secs(5),
        ..args.da.config()?.avail
    };
    let read =
        runtime()?.block_on(async { modelda_da::avail::AvailLayer::new(opts)?.runtime().await });
    Ok(read.unwrap_or_else(|e| {
        if !json {
            eprintln!("note: Avail's limits could not be read from the node ({e}); planning with Avail mainnet's");
        }
        Default::default()
    }))
}

/// The largest blob to post: the layer's (on Avail, as its runtime says),
/// or less with --max-blob-bytes.
fn max_blob_bytes(args: &PublishArgs, avail: &modelda_da::avail::Runtime) -> Result<usize> {
    let mut limits = args.da.config()?.assumed_limits();
    if args.da.da == LayerKind::Avail {
        limits.max_blob_bytes = avail.max_blob_bytes();
    }
    Ok(args
        .max_blob_bytes
        .map_or(limits.max_blob_bytes, |m| m.min(limits.max_blob_bytes)))
}

fn dry_run(json: bool, show_progress: bool, args: &PublishArgs, geometry: Geometry) -> Result<()> {
    let mut limits = args.da.config()?.assumed_limits();
    let avail = avail_runtime(json, args)?;
    let max_blob = max_blob_bytes(args, &avail)?;
    if args.da.da == LayerKind::Avail {
        limits.max_blob_bytes = avail.max_blob_bytes();
        limits.max_batch_bytes = limits.max_blob_bytes;
    }
    let bar = Bar::new(show_progress, "hashing");
    let opts = args
        .commit
        .options_with(args.commit.leaf_size_for(max_blob));
    let model = commit_dir(&args.dir, &opts, &bar)
        .with_context(|| format!("committing {}", args.dir.display()))?;
    bar.finish();
    let plan = Plan::new(&model.manifest, geometry, max_blob, &Vec::new(), 0)
        .context("planning the publication")?;
    let e = estimate::estimate(
        &plan,
        &estimate::EstimateParams {
            layer: args.da.da,
            limits,
            gas_price: args.da.gas_price,
            square_width: args.da.chain_limits().max_square_width as u64,
            jobs: args.jobs,
            avail,
        },
    );
    let (bytes, shares, seconds, time_basis) = (
        e.bytes,
        e.celestia_shares,
        e.estimated_seconds,
        &e.time_basis,
    );
    let model_bytes = model.manifest.total_size();
    let fee_basis = match &e.fee {
        estimate::Fee::Gas {
            utia,
            gas,
            gas_price,
            transactions,
        } => format!("{utia} utia ({gas} gas at {gas_price} utia/gas, {transactions} transactions)"),
        estimate::Fee::Billed { billed_bytes } => format!(
            "{billed_bytes} billed bytes (symbols padded to powers of two, at least 128 KiB per blob)"
        ),
        estimate::Fee::Avail {
            nano_avail,
            submissions,
        } => format!(
            "{:.4} AVAIL for {submissions} submit_data (base, length and matrix weight; before the chain's multipliers)",
            *nano_avail as f64 / 1e9
        ),
    };
    let fee = &e.fee;
    if json {
        out!(
            "{}",
            json!({
                "dry_run": true,
                "model_id": model.id.to_hex(),
                "layer": args.da.da.as_str(),
                "data_shards": geometry.data,
                "parity_shards": geometry.parity,
                "max_blob_bytes": max_blob,
                "blobs": plan.blobs.len(),
                "shards": plan.slots.len(),
                "celestia_shares": shares,
                "bytes": bytes,
                "model_bytes": model_bytes,
                "overhead": if model_bytes == 0 { 0.0 } else { bytes as f64 / model_bytes as f64 },
                "fee": fee,
                "estimated_seconds": seconds,
                "time_basis": time_basis,
                "avail_runtime": (args.da.da == LayerKind::Avail).then_some(avail),
            })
        );
    } else {
        out!("model    {}", model.id);
        out!(
            "plan     {} shards ({}+{} stripes) in {} blobs of at most {} bytes, plus the record",
            plan.slots.len(),
            geometry.data,
            geometry.parity,
            plan.blobs.len(),
            max_blob
        );
        // Shares only mean something where blobs go into Celestia squares.
        let shares = match args.da.da {
            LayerKind::Local | LayerKind::Celestia => format!(", {shares} Celestia shares"),
            LayerKind::Eigenda | LayerKind::Avail => String::new(),
        };
        out!(
            "bytes    {bytes} for {model_bytes} model bytes (overhead {:.3}x){shares}",
            if model_bytes == 0 {
                0.0
            } else {
                bytes as f64 / model_bytes as f64
            }
        );
        out!("fee      {fee_basis}");
        out!("time     about {seconds} s: {time_basis}");
        out!("(dry run: nothing was posted or written)");
    }
    Ok(())
}

/// Asks the API at `url` for the record of `model` on `layer` (signed by
/// the key with hint `signer` when given).
async fn find_record(
    url: &str,
    model: &ModelId,
    layer: modelda_da::LayerKind,
    signer: Option<&str>,
) -> Result<Locator> {
    let endpoint = crate::node_client::endpoint(url);
    let data = crate::node_client::ask(
        url,
        "query($id: ID!) { model(id: $id) { publications { record layer signerKey } } }",
        serde_json::json!({"id": model.to_hex()}),
        &format!("model {model}"),
    )
    .await?;
    let pubs = data["model"]["publications"]
        .as_array()
        .with_context(|| format!("{endpoint} does not know model {model}: is it indexed?"))?;
    let chosen = pubs.iter().find(|p| {
        p["layer"] == layer.to_string() && signer.is_none_or(|h| p["signerKey"].as_str() == Some(h))
    });
    let Some(p) = chosen else {
        bail!(
            "{endpoint} lists {} publication(s) of model {model}, none on {layer}{}",
            pubs.len(),
            if signer.is_some() {
                " signed by the pinned key"
            } else {
                ""
            }
        );
    };
    p["record"]
        .as_str()
        .context("the API's publication has no record")?
        .parse()
        .with_context(|| format!("the record locator {endpoint} gave"))
}

pub fn fetch(json: bool, show_progress: bool, args: &FetchArgs) -> Result<()> {
    if args.tensor.is_none() && args.as_safetensors {
        bail!("--as-safetensors needs --tensor");
    }
    let pinned = args
        .key
        .as_ref()
        .map(|p| {
            PublicKey::load(p).with_context(|| format!("loading the public key {}", p.display()))
        })
        .transpose()?;
    let trusted = crate::advisories::trusted(&args.advisories)?;
    if args.index.is_none()
        && (args.advisories.deny_advisories || !args.advisories.trust_advisories_from.is_empty())
    {
        bail!("--deny-advisories and --trust-advisories-from need --index URL: the node to ask for advisories");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("modelda-{}", &args.model_id.to_hex()[..12])));
    let selection = match (&args.tensor, &args.file) {
        (Some(t), f) => Selection::Tensor {
            name: t.clone(),
            file: f.clone(),
            as_safetensors: args.as_safetensors,
        },
        (None, Some(f)) => Selection::File(f.clone()),
        (None, None) => Selection::All,
    };
    let rt = runtime()?;
    let (rec, fetched, advisories) = rt.block_on(async {
        let locator = match (&args.record, &args.index) {
            (Some(r), _) => r.clone(),
            (None, Some(url)) => {
                let hint = pinned.as_ref().map(|k| k.hint());
                find_record(url, &args.model_id, args.da.da, hint.as_deref()).await?
            }
            (None, None) => bail!("give --record LOCATOR or --index URL"),
        };
        let mut layer: Arc<dyn DaLayer> = Arc::from(args.da.open_read().await?);
        // With --index, the node also gives what the layer no longer
        // holds (past its storage window): record pages from its archive
        // (`/blobs`), leaves from `/chunks`, each checked here.
        let mut sources = None;
        if let Some(url) = &args.index {
            let base = url.trim_end_matches('/').trim_end_matches("/graphql");
            let peer = Arc::new(
                modelda_archive::PeerSource::new(base)
                    .with_context(|| format!("reading --index {url}"))?,
            );
            // A reader: the record is checked by its signatures and model
            // id, every leaf by its commitment.
            layer = Arc::new(
                modelda_archive::ArchivedLayer::new(layer, None, Some(peer.clone()), false)
                    .for_checking_reader(),
            );
            sources = Some(modelda_archive::Sources::new().then(peer));
        }
        let rec = modelda_da::read::open_record(
            layer.as_ref(),
            &locator,
            Some(args.model_id),
            pinned.as_ref(),
        )
        .await
        .map_err(|e| {
            let hint = match (&e, &args.index) {
                (d, Some(url)) if d.is_pruned() => format!(
                    "; the layer has pruned it and the node at {url} keeps no copy: ask a node started with --archive"
                ),
                (d, None) if d.is_pruned() => {
                    "; the layer has pruned it: fetch through a node that keeps an archive (--index URL)".to_string()
                }
                _ => String::new(),
            };
            anyhow::Error::new(e).context(format!("reading the publication record {locator}{hint}"))
        })?;
        // Advisories, checked before anything is written.
        let advisories = match &args.index {
            Some(url) => {
                let found = crate::advisories::check(url, &args.model_id, &rec.key.hint(), &trusted)
                    .await?;
                crate::advisories::print(json, &args.model_id, &found);
                crate::advisories::enforce(args.advisories.deny_advisories, &args.model_id, &found)?;
                Some(found)
            }
            None => None,
        };
        let rec = Arc::new(rec);
        let bar = PublishBar(Bar::new(show_progress, "fetching"), show_progress);
        let r = fetch::fetch_with(layer, sources, rec.clone(), &selection, &out, &bar).await;
        bar.0.finish();
        anyhow::Ok((
            rec,
            r.with_context(|| format!("fetching model {}", args.model_id))?,
            advisories,
        ))
    })?;
    if json {
        out!(
            "{}",
            json!({
                "model_id": rec.model_id().to_hex(),
                "key_hint": rec.key.hint(),
                "key_pinned": pinned.is_some(),
                "written": fetched.written,
                "bytes": fetched.bytes,
                "stats": fetched.stats,
                "advisories": advisories.as_deref().map(crate::advisories::to_json),
            })
        );
    } else {
        for p in &fetched.written {
            out!("wrote    {}", p.display());
        }
        let s = &fetched.stats;
        out!(
            "verified {} bytes in {} leaves against model {} (signed by key {}{})",
            fetched.bytes,
            s.leaves,
            rec.model_id(),
            rec.key.hint(),
            if pinned.is_some() {
                ", pinned"
            } else {
                ", NOT pinned: pass --key to require it"
            }
        );
        out!(
            "read     {} blobs ({} bytes); {} bad or missing shards, {} stripes rebuilt from parity",
            s.blobs_read, s.bytes_read, s.bad_shards, s.rebuilt_stripes
        );
        if s.leaves_from_sources > 0 {
            out!(
                "         {} leaves the layer no longer gives came from the node at --index, each checked",
                s.leaves_from_sources
            );
        }
        if advisories.is_none() {
            eprintln!("note: advisories were not checked: pass --index URL to ask a node");
        }
    }
    Ok(())
}
