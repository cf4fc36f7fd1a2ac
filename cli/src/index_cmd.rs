//! `modelda index`: follow a layer's record namespace into an index, and
//! read it (show, digest, status, rejections), register EigenDA records,
//! rebuild.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use modelda_da::{Access, LayerKind, Locator};
use modelda_indexer::query::Edge;
use modelda_indexer::{Event, FollowOptions, Index, Source, Stop};
use modelda_manifest::ModelId;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::da_cmd::{runtime, DaArgs};
use crate::publish_cmd::stop_on_signal;

/// `modelda index`: follow, or one of the subcommands.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct IndexArgs {
    #[command(subcommand)]
    command: Option<IndexCommand>,
    #[command(flatten)]
    follow: FollowArgs,
}

/// Where the index lives.
#[derive(Args, Debug, Clone)]
pub struct IndexDir {
    /// The index directory.
    #[arg(long, env = "MODELDA_INDEX_DIR", default_value = ".modelda/index")]
    pub(crate) index_dir: PathBuf,
}

/// What to follow.
#[derive(Args, Debug, Clone)]
pub struct FollowArgs {
    #[command(flatten)]
    pub(crate) da: DaArgs,
    #[command(flatten)]
    pub(crate) dir: IndexDir,
    /// First height of a new index (an existing one resumes from its
    /// checkpoint).
    #[arg(long, default_value_t = 1)]
    pub(crate) from_height: u64,
    /// Stop after indexing this height (default: follow until stopped).
    #[arg(long)]
    pub(crate) to_height: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum IndexCommand {
    /// Index one record by its locator: how records on EigenDA (which has
    /// no namespaces to follow) are indexed. The same checks apply.
    Register {
        /// The record's locator (`eigenda:0xCERT`, or any other).
        locator: Locator,
        #[command(flatten)]
        da: DaArgs,
        #[command(flatten)]
        dir: IndexDir,
    },
    /// Print what the index holds for a model: publications, signers,
    /// files, lineage edges with their evidence.
    Show {
        /// The model id.
        model: ModelId,
        #[command(flatten)]
        dir: IndexDir,
    },
    /// Print the digest of the whole index: equal on every replica of the
    /// same namespace at the same checkpoint.
    Digest {
        #[command(flatten)]
        dir: IndexDir,
    },
    /// Print the checkpoint, the source and the counters.
    Status {
        #[command(flatten)]
        dir: IndexDir,
    },
    /// List the records the index refused, with their reason codes.
    Rejections {
        /// Only this reason code (e.g. bad_signature).
        #[arg(long)]
        code: Option<String>,
        /// Most to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this cursor (printed by the previous page).
        #[arg(long)]
        after: Option<String>,
        #[command(flatten)]
        dir: IndexDir,
    },
    /// Build the index again from the layer, into a new directory that
    /// replaces the old one when it is done (up to the head when it starts,
    /// or --to-height). The old index stays in use if it is interrupted.
    Rebuild {
        #[command(flatten)]
        follow: FollowArgs,
    },
}

pub fn index(json: bool, args: &IndexArgs) -> Result<()> {
    match &args.command {
        None => follow(json, &args.follow),
        Some(IndexCommand::Register { locator, da, dir }) => register(json, locator, da, dir),
        Some(IndexCommand::Show { model, dir }) => show(json, model, dir),
        Some(IndexCommand::Digest { dir }) => {
            let index = open_reader(&dir.index_dir)?;
            let d = index.digest()?;
            if json {
                out!("{}", serde_json::to_string(&d)?);
            } else {
                out!("digest      {}", d.digest);
                out!("checkpoint  {}", opt(d.checkpoint));
                out!("entries     {}", d.entries);
            }
            Ok(())
        }
        Some(IndexCommand::Status { dir }) => status(json, dir),
        Some(IndexCommand::Rejections {
            code,
            limit,
            after,
            dir,
        }) => {
            let index = open_reader(&dir.index_dir)?;
            let page = index.rejections(code.as_deref(), after.as_deref(), *limit)?;
            if json {
                out!("{}", serde_json::to_string(&page)?);
            } else {
                for r in &page.items {
                    out!("{}  {}  {}\n    {}", r.id, r.code, r.locator, r.message);
                }
                if page.items.is_empty() {
                    out!("no rejections");
                }
                if let Some(next) = &page.next {
                    out!("more: --after {next}");
                }
            }
            Ok(())
        }
        Some(IndexCommand::Rebuild { follow }) => rebuild(json, follow),
    }
}

fn opt(h: Option<u64>) -> String {
    h.map_or_else(|| "none".into(), |h| h.to_string())
}

pub(crate) fn open_reader(dir: &Path) -> Result<Index> {
    Index::open_reader(dir).with_context(|| format!("opening the index {}", dir.display()))
}

pub(crate) fn source(da: &DaArgs) -> Source {
    Source {
        layer: da.da.to_string(),
        namespace: da
            .da
            .has_namespaces()
            .then(|| da.record_namespace.to_string()),
    }
}

/// Opens the layer to read, waiting for the embedded chain to exist;
/// `None` when stopped first.
pub(crate) async fn open_layer(
    json: bool,
    da: &DaArgs,
    stop: &CancellationToken,
) -> Result<Option<Box<dyn modelda_da::DaLayer>>> {
    let config = da.config()?;
    // The embedded chain may not exist yet (the follower starts before the
    // first publish), or be mid-write as a reader opens it: wait and retry.
    let mut wait = std::time::Duration::from_millis(200);
    let mut said = String::new();
    let layer = loop {
        match config.open(Access::Read).await {
            Ok(l) => break l,
            Err(e) if da.da == LayerKind::Local => {
                let now = e.to_string();
                if now == said {
                    // Said once; wait quietly.
                } else if json {
                    out!(
                        "{}",
                        json!({"event": "waiting", "reason": e.to_string(), "wait_ms": wait.as_millis() as u64})
                    );
                } else {
                    eprintln!("{e}; waiting for it (Ctrl-C to stop)");
                }
                said = now;
                tokio::select! {
                    _ = stop.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e).with_context(|| format!("opening {} to read", da.da)),
        }
    };
    Ok(Some(layer))
}

/// Follows until stopped or `to_height`; returns the last height written.
/// `on_height` hears of every height written and of the layer's head.
pub(crate) async fn run_follow(
    json: bool,
    index: &Index,
    layer: &dyn modelda_da::DaLayer,
    args: &FollowArgs,
    to_height: Option<u64>,
    stop: &CancellationToken,
    on_height: &(dyn Fn(u64) + Send + Sync),
) -> Result<Stop> {
    let opts = FollowOptions {
        namespace: args.da.record_namespace,
        from_height: args.from_height,
        to_height,
        ..FollowOptions::default()
    };
    if let Some(c) = index.checkpoint() {
        if !json {
            eprintln!("resuming after height {c}");
        }
    }
    let stopped = modelda_indexer::follow(index, layer, &opts, stop, |e| match e {
        Event::Height(r) => {
            on_height(r.height);
            for i in &r.indexed {
                if json {
                    out!(
                        "{}",
                        json!({"event": "indexed", "id": i.id.to_string(), "height": i.id.height,
                               "model_id": i.model_id, "locator": i.locator, "leaves": i.leaves})
                    );
                } else {
                    eprintln!(
                        "indexed   {}  model {}  ({} leaves)  {}",
                        i.id, i.model_id, i.leaves, i.locator
                    );
                }
            }
            for x in &r.rejected {
                if json {
                    out!(
                        "{}",
                        json!({"event": "rejected", "id": x.id.to_string(), "height": x.id.height,
                               "locator": x.locator, "code": x.code, "message": x.message})
                    );
                } else {
                    eprintln!("rejected  {}  {}: {}", x.id, x.code, x.message);
                }
            }
            if !json && r.reposts > 0 {
                eprintln!(
                    "height {}: {} record(s) repeat a publication (same model, same key)",
                    r.height, r.reposts
                );
            }
            if !json && r.height % 1000 == 0 {
                eprintln!("height {}", r.height);
            }
        }
        Event::Retry {
            height,
            error,
            wait,
        } => {
            if json {
                out!(
                    "{}",
                    json!({"event": "retry", "height": height, "error": error.to_string(),
                           "wait_ms": wait.as_millis() as u64})
                );
            } else {
                eprintln!(
                    "height {height}: {error}; trying again in {} ms",
                    wait.as_millis()
                );
            }
        }
        Event::Live { next } => {
            on_height(next.saturating_sub(1));
            if json {
                out!("{}", json!({"event": "live", "next_height": next}));
            } else {
                eprintln!("caught up; waiting for height {next} (Ctrl-C to stop)");
            }
        }
    })
    .await?;
    Ok(stopped)
}

pub(crate) fn print_stop(json: bool, index: &Index, stopped: Stop) -> Result<()> {
    let counts = index.counts()?;
    if json {
        out!(
            "{}",
            json!({"event": "stopped", "reason": stopped, "checkpoint": counts.checkpoint,
                   "records": counts.records, "rejections": counts.rejections,
                   "reposts": counts.reposts})
        );
    } else {
        out!(
            "{} at height {}: {} publications, {} rejections, {} reposts indexed in {}",
            match stopped {
                Stop::Cancelled => "stopped",
                Stop::Reached => "done",
            },
            opt(counts.checkpoint),
            counts.records,
            counts.rejections,
            counts.reposts,
            index.path().display()
        );
    }
    Ok(())
}

fn follow(json: bool, args: &FollowArgs) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let index = Index::open(&args.dir.index_dir, Some(&source(&args.da)))?;
        let stop = CancellationToken::new();
        stop_on_signal(stop.clone(), json, "finishing the height being written");
        let Some(layer) = open_layer(json, &args.da, &stop).await? else {
            return print_stop(json, &index, Stop::Cancelled);
        };
        let stopped = run_follow(
            json,
            &index,
            layer.as_ref(),
            args,
            args.to_height,
            &stop,
            &|_| {},
        )
        .await?;
        print_stop(json, &index, stopped)
    })
}

fn rebuild(json: bool, args: &FollowArgs) -> Result<()> {
    let dir = &args.dir.index_dir;
    if dir.exists() && !dir.join("CURRENT").exists() {
        bail!(
            "{} exists and is not an index; refusing to replace it",
            dir.display()
        );
    }
    let fresh = dir.with_extension("rebuild");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)
            .with_context(|| format!("removing an unfinished rebuild {}", fresh.display()))?;
    }
    let rt = runtime()?;
    rt.block_on(async {
        let layer = args.da.config()?.open(Access::Read).await?;
        let to = match args.to_height {
            Some(h) => h,
            None => layer.head().await?,
        };
        if !json {
            eprintln!("rebuilding into {} up to height {to}", fresh.display());
        }
        let stop = CancellationToken::new();
        stop_on_signal(stop.clone(), json, "the old index stays in place");
        let stopped = {
            let index = Index::open(&fresh, Some(&source(&args.da)))?;
            let s =
                run_follow(json, &index, layer.as_ref(), args, Some(to), &stop, &|_| {}).await?;
            if s == Stop::Cancelled {
                bail!(
                    "rebuild stopped; {} is unchanged ({} is left half-built)",
                    dir.display(),
                    fresh.display()
                );
            }
            s
        };
        let old = dir.with_extension("old");
        if dir.exists() {
            std::fs::rename(dir, &old)
                .with_context(|| format!("moving the old index {} aside", dir.display()))?;
        }
        std::fs::rename(&fresh, dir)
            .with_context(|| format!("moving the new index to {}", dir.display()))?;
        if old.exists() {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("removing the old index {}", old.display()))?;
        }
        let index = open_reader(dir)?;
        print_stop(json, &index, stopped)?;
        let d = index.digest()?;
        if json {
            out!("{}", serde_json::to_string(&d)?);
        } else {
            out!("digest {}", d.digest);
        }
        Ok(())
    })
}

fn register(json: bool, locator: &Locator, da: &DaArgs, dir: &IndexDir) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let mut cfg = da.config()?;
        cfg.kind = locator.kind();
        let layer = cfg.open(Access::Read).await?;
        let index = Index::open(&dir.index_dir, None)?;
        let r = modelda_indexer::register(&index, layer.as_ref(), locator).await?;
        if let Some(x) = r.rejected.first() {
            if json {
                out!("{}", json!({"registered": false, "id": x.id.to_string(), "code": x.code, "message": x.message}));
            }
            bail!("record {} refused ({}): {}", x.locator, x.code, x.message);
        }
        let Some(i) = r.indexed.first() else {
            bail!("{locator} holds nothing to index");
        };
        if json {
            out!(
                "{}",
                json!({"registered": true, "id": i.id.to_string(), "model_id": i.model_id,
                       "locator": i.locator, "leaves": i.leaves, "repost": r.reposts > 0})
            );
        } else if r.reposts > 0 {
            out!("model {} by this key is already indexed ({})", i.model_id, i.id);
        } else {
            out!("indexed {}  model {}  ({} leaves)", i.id, i.model_id, i.leaves);
        }
        Ok(())
    })
}

fn status(json: bool, dir: &IndexDir) -> Result<()> {
    let index = open_reader(&dir.index_dir)?;
    let counts = index.counts()?;
    let source = index.source()?;
    if json {
        out!(
            "{}",
            json!({"source": source, "counts": counts, "disk_bytes": index.disk_bytes()})
        );
        return Ok(());
    }
    match &source {
        Some(s) => out!(
            "follows     {}{}",
            s.layer,
            s.namespace
                .as_ref()
                .map(|n| format!(" namespace {n}"))
                .unwrap_or_default()
        ),
        None => out!("follows     nothing (records registered by hand only)"),
    }
    out!("checkpoint  {}", opt(counts.checkpoint));
    out!("records     {}", counts.records);
    out!("reposts     {}", counts.reposts);
    out!("rejections  {}", counts.rejections);
    for (code, n) in &counts.rejections_by_code {
        out!("  {code:<20} {n}");
    }
    out!("skipped     {} (envelopes of other kinds)", counts.skipped);
    Ok(())
}

fn edge_line(e: &Edge, other: &ModelId) -> String {
    let ev = match &e.entry.evidence {
        None => "parent not indexed yet".to_string(),
        Some(ev) => {
            let mut s = format!(
                "identical tensors {}/{} ({} bytes), shared leaves {}/{}, new tensors {}",
                ev.identical_tensors,
                ev.child_tensors,
                ev.identical_bytes,
                ev.shared_leaves,
                ev.child_leaves,
                ev.new_tensor_count
            );
            if !ev.is_supported() {
                s.push_str("  [no evidence]");
            }
            s
        }
    };
    format!(
        "  {other}  {}  {}\n      {ev}",
        e.entry.claim.relation.as_str(),
        match e.entry.status {
            modelda_indexer::schema::EdgeStatus::Resolved => "resolved",
            modelda_indexer::schema::EdgeStatus::Pending => "pending",
        }
    )
}

fn show(json: bool, model: &ModelId, dir: &IndexDir) -> Result<()> {
    let index = open_reader(&dir.index_dir)?;
    let Some(v) = index.model_view(model)? else {
        bail!(
            "model {model} is not in the index {} (checkpoint {}); is it published, and has the indexer reached its height?",
            dir.index_dir.display(),
            opt(index.checkpoint())
        );
    };
    if json {
        out!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    let m = &v.model.manifest;
    out!("model       {}", v.model.model_id);
    out!("files       {} ({} bytes)", m.files.len(), m.total_size());
    for f in &m.files {
        out!(
            "  {}  {} bytes  root {}  leaf {}  {} tensors",
            f.path,
            f.size,
            f.root,
            f.leaf_size,
            f.tensors.len()
        );
    }
    out!("signers     {}", v.signers.len());
    for s in &v.signers {
        out!("  {s}");
    }
    out!("published   {} time(s)", v.publications.len());
    for p in &v.publications {
        out!(
            "  {}  on {}  by key {}  {} blobs, {} leaves{}\n      record {}",
            p.id,
            p.layer,
            &p.signer[..16],
            p.blobs,
            p.leaves,
            if p.reposts > 0 {
                format!(", reposted {} time(s)", p.reposts)
            } else {
                String::new()
            },
            p.record
        );
    }
    out!("parents     {}", v.parents.len());
    for e in &v.parents {
        out!("{}", edge_line(e, &e.parent));
    }
    out!("children    {}", v.children.len());
    for e in &v.children {
        out!("{}", edge_line(e, &e.child));
    }
    match &v.status {
        Some(s) => out!(
            "status      {} (advisory {}, by its publisher)",
            s.status,
            s.advisory.id
        ),
        None => out!("status      no believed advisory"),
    }
    for t in &v.affected_through {
        let path: Vec<String> = t
            .path
            .iter()
            .map(|m| m.to_hex()[..12].to_string())
            .collect();
        out!(
            "  affected through lineage: {} ({}, advisory {})",
            path.join(" -> "),
            t.advisory.status,
            t.advisory.id
        );
    }
    out!("advisories  {}", v.advisories.len());
    for view in &v.advisories {
        let (a, standing) = (&view.advisory, view.standing);
        out!(
            "  {}  {}  by key {}{}{}",
            a.id,
            a.status,
            &a.signer[..16],
            if standing.believed() {
                ""
            } else {
                "  (third-party report)"
            },
            match (&a.withdrawn, a.replaced_by) {
                (Some(w), _) => format!("  withdrawn {w}"),
                (None, Some(r)) => format!("  replaced at {r}"),
                (None, None) => String::new(),
            }
        );
    }
    Ok(())
}
