//! `modelda archive sync --from URL`: fills this node's index and archive
//! from another node, for what the DA layer has pruned.
//!
//! The other node is trusted for nothing but its listing of publications:
//!
//! - a record is adopted only once its root page is proven in its block
//!   against this node's own header (the other node's kit gives the
//!   proof's material, the layer's header the data root), and once it
//!   passes every check the indexer makes of a record it reads itself;
//! - blobs match their locators' share commitments (or, on layers whose
//!   locators do not commit to the bytes, the layer client's check of the
//!   other node's inclusion proof), leaves their commitments, kits' proofs
//!   this node's headers, before anything is stored.
//!
//! Only heights the layer has pruned (and a few after them) are taken
//! from the other node's listing; the rest this node reads from the layer
//! itself. Killed at any moment, it goes on where it stopped: adoption is
//! idempotent, the archive's objects are atomic and skipped when held.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use modelda_api::{Api, Archiver, Limits};
use modelda_archive::{ArchivedLayer, PeerSource};
use modelda_da::{DaLayer, Locator};
use modelda_indexer::{Index, PubId};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::archive_cmd::ArchiveArgs;
use crate::da_cmd::{runtime, DaArgs};
use crate::index_cmd::{open_layer, run_follow, source, FollowArgs, IndexDir};
use crate::publish_cmd::stop_on_signal;

/// Heights past the last pruned one also taken from the other node's
/// listing: the window moves on while sync runs, and the follower must
/// start inside it.
const MARGIN: u64 = 16;

/// Publications asked for at a time.
const PAGE: usize = 50;

/// Largest GraphQL answer read from the other node.
const MAX_ANSWER: usize = 8 << 20;

/// Most publications taken from the other node's listing (each is a few
/// hundred bytes in memory).
const MAX_LISTED: usize = 10_000_000;

/// Refusals listed in full.
const LISTED: usize = 20;

/// `modelda archive sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The node to fill from: its API (http://host:port), which must keep
    /// an archive for heights the layer pruned.
    #[arg(long = "from", value_name = "URL")]
    from: String,
    #[command(flatten)]
    archive: ArchiveArgs,
    #[command(flatten)]
    da: DaArgs,
    #[command(flatten)]
    dir: IndexDir,
}

/// A publication as the other node lists it.
struct Listed {
    id: PubId,
    record: Locator,
}

/// Reads the other node's GraphQL answer to `query`, bounded.
async fn ask(peer: &PeerSource, query: &str, variables: Value) -> Result<Value> {
    let url = peer.url().join("graphql")?;
    let mut r = peer
        .client()
        .post(url.clone())
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .with_context(|| format!("asking {url}"))?;
    if !r.status().is_success() {
        bail!("{url} answered {}", r.status());
    }
    let mut body = Vec::new();
    while let Some(c) = r.chunk().await.with_context(|| format!("reading {url}"))? {
        if body.len() + c.len() > MAX_ANSWER {
            bail!("{url} answered more than {MAX_ANSWER} bytes");
        }
        body.extend_from_slice(&c);
    }
    let v: Value = serde_json::from_slice(&body).with_context(|| format!("{url}: not JSON"))?;
    if !v["errors"].is_null() {
        bail!("{url}: {}", v["errors"]);
    }
    Ok(v["data"].clone())
}

/// Every publication the other node lists.
async fn listing(peer: &PeerSource) -> Result<Vec<Listed>> {
    let q = format!(
        "query($after: String) {{ publications(first: {PAGE}, after: $after) {{ edges {{ node {{ height index record }} }} pageInfo {{ endCursor hasNextPage }} }} }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = ask(peer, &q, json!({ "after": after })).await?;
        let c = &d["publications"];
        let edges = c["edges"]
            .as_array()
            .context("the node's publications have no edges")?;
        if edges.len() > PAGE || out.len() + edges.len() > MAX_LISTED {
            bail!(
                "the node lists more than {} publications (or pages over {PAGE}): refused",
                MAX_LISTED
            );
        }
        for e in edges {
            let n = &e["node"];
            let height: u64 = n["height"]
                .as_str()
                .and_then(|h| h.parse().ok())
                .or_else(|| n["height"].as_u64())
                .with_context(|| format!("a publication without a height: {n}"))?;
            let index = n["index"]
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .with_context(|| format!("a publication without an index: {n}"))?;
            let record: Locator = n["record"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| anyhow::anyhow!("a publication's record {}: {e}", n["record"]))?;
            out.push(Listed {
                id: PubId { height, index },
                record,
            });
        }
        if c["pageInfo"]["hasNextPage"] != true || edges.is_empty() {
            return Ok(out);
        }
        let next = c["pageInfo"]["endCursor"].clone();
        if next.is_null() || next == after {
            bail!("the node's publication cursor does not move ({next}): refused");
        }
        after = next;
    }
}

/// The last height in `lo..=hi` the layer has pruned; `None` when `lo`
/// is still served (pruning takes the oldest heights first).
async fn pruned_through(layer: &dyn DaLayer, lo: u64, hi: u64) -> Result<Option<u64>> {
    let Some(f) = layer.as_follow() else {
        return Ok(None);
    };
    let pruned = |h: u64| async move {
        match f.check_available(h).await {
            Ok(()) => Ok(false),
            Err(e) if e.is_pruned() => Ok(true),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("asking the layer about height {h}")))
            }
        }
    };
    if lo > hi || !pruned(lo).await? {
        return Ok(None);
    }
    if pruned(hi).await? {
        return Ok(Some(hi));
    }
    let (mut a, mut b) = (lo, hi);
    while b - a > 1 {
        let m = a + (b - a) / 2;
        if pruned(m).await? {
            a = m;
        } else {
            b = m;
        }
    }
    Ok(Some(a))
}

/// Proves the blob at `locator` in its block against this node's own
/// headers, the proof's material from wherever `layer` finds it.
async fn proven(layer: &ArchivedLayer, locator: &Locator) -> Result<(), String> {
    let blob = layer.get(locator).await.map_err(|e| e.to_string())?;
    if locator.square_parts().is_some() && layer.proves_shares() {
        let shares = modelda_da::square::shares_for(blob.len()) as u32;
        layer
            .prove_shares(locator, 0..shares)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        let proof = layer.prove(locator).await.map_err(|e| e.to_string())?;
        layer
            .verify(locator, &blob, &proof)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What sync did.
#[derive(Default)]
struct Adopted {
    adopted: u64,
    held: u64,
    rejected: u64,
    refused: Vec<String>,
}

pub fn sync(json: bool, args: &SyncArgs) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let archive = args
            .archive
            .open()?
            .context("give the archive to fill with --archive DIR or --archive s3://BUCKET/PREFIX")?;
        let index = Arc::new(Index::open(&args.dir.index_dir, Some(&source(&args.da)))?);
        let stop = CancellationToken::new();
        stop_on_signal(stop.clone(), json, "stopping after the object being written");
        let Some(layer) = open_layer(json, &args.da, &stop).await? else {
            bail!("stopped");
        };
        let layer: Arc<dyn DaLayer> = Arc::from(layer);
        let peer = Arc::new(PeerSource::new(&args.from).context("reading --from")?);
        let say = |what: &str, v: Value| {
            if json {
                let mut v = v;
                v["event"] = what.into();
                out!("{v}");
            }
        };

        // The other node must follow the same layer and namespace.
        let meta = ask(&peer, "{ _meta { height layer namespace } }", Value::Null)
            .await
            .with_context(|| format!("asking {} what it indexes", args.from))?;
        let meta = &meta["_meta"];
        let own = source(&args.da);
        if meta["layer"].as_str() != Some(own.layer.as_str())
            || meta["namespace"].as_str() != own.namespace.as_deref()
        {
            bail!(
                "{} indexes {} namespace {}, this node {} namespace {}: give the same --da and --record-namespace",
                args.from,
                meta["layer"],
                meta["namespace"],
                own.layer,
                own.namespace.as_deref().unwrap_or("none")
            );
        }
        let peer_height: u64 = meta["height"]
            .as_str()
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);

        // Which heights the other node's listing stands for: those the
        // layer pruned, and a margin.
        let start = index.checkpoint();
        let lo = start.map_or(1, |c| c + 1);
        let head = layer.head().await.context("asking the layer for its head")?;
        let pruned = pruned_through(layer.as_ref(), lo, head).await?;
        let upto = match pruned {
            Some(p) if peer_height < p => bail!(
                "the layer has pruned heights {lo} to {p}, and {} has indexed only up to {peer_height}: its listing cannot stand for them; sync from a node whose index is further along",
                args.from
            ),
            Some(p) => Some(peer_height.min(p + MARGIN)),
            None => None,
        };
        if !json {
            match (pruned, upto) {
                (Some(p), Some(u)) => eprintln!(
                    "the layer has pruned heights {lo} to {p}: taking the publications of heights {lo} to {u} from {}",
                    args.from
                ),
                _ => eprintln!(
                    "the layer still serves height {lo}: this node reads its records itself; only publications registered by hand come from {}",
                    args.from
                ),
            }
        }

        // Adopt what the other node lists there, each record proven and
        // checked.
        let checked = ArchivedLayer::new(
            layer.clone(),
            Some(archive.clone()),
            Some(peer.clone()),
            true,
        );
        // Proven first through a layer that keeps nothing: a blob is kept
        // only once its record is proven in its block.
        let proving = ArchivedLayer::new(
            layer.clone(),
            Some(archive.clone()),
            Some(peer.clone()),
            false,
        );
        let listed = listing(&peer)
            .await
            .with_context(|| format!("listing the publications of {}", args.from))?;
        let mut a = Adopted::default();
        for l in &listed {
            if stop.is_cancelled() {
                bail!("stopped; run it again to go on");
            }
            let wanted = if l.id.height == 0 {
                l.record.kind() == layer.kind()
            } else {
                lo <= l.id.height && upto.is_some_and(|u| l.id.height <= u)
            };
            if !wanted {
                continue;
            }
            if l.id.height != 0 && record_height(&l.record) != Some(l.id.height) {
                a.refused.push(format!(
                    "{}: listed at height {}, which its locator does not name",
                    l.record, l.id.height
                ));
                continue;
            }
            if l.id.height != 0 && index.publication(l.id)?.is_some() {
                a.held += 1;
                continue;
            }
            if let Err(why) = proven(&proving, &l.record).await {
                a.refused.push(format!("{}: not proven in its block: {why}", l.record));
                continue;
            }
            let r = if l.id.height == 0 {
                modelda_indexer::register(&index, &checked, &l.record)
                    .await
                    .map(Some)
            } else {
                modelda_indexer::adopt(&index, &checked, l.id, &l.record).await
            };
            match r {
                Ok(None) => a.held += 1,
                Ok(Some(r)) => {
                    for i in &r.indexed {
                        say("adopted", json!({"id": i.id.to_string(), "model_id": i.model_id, "locator": i.locator}));
                        if !json {
                            eprintln!("adopted   {}  model {}  {}", i.id, i.model_id, i.locator);
                        }
                    }
                    a.adopted += r.indexed.len() as u64;
                    a.rejected += r.rejected.len() as u64;
                    for x in &r.rejected {
                        if !json {
                            eprintln!("rejected  {}  {}: {}", x.id, x.code, x.message);
                        }
                    }
                }
                Err(e) => a.refused.push(format!("{}: {e}", l.record)),
            }
        }
        if !a.refused.is_empty() {
            for r in a.refused.iter().take(LISTED) {
                eprintln!("refused   {r}");
            }
            bail!(
                "{} of the publications {} lists did not check (its answers, or this node's layer, failed: see above); nothing past them is marked read. Run sync again, or from another node",
                a.refused.len(),
                args.from
            );
        }
        if let Some(u) = upto {
            modelda_indexer::advance(&index, u).await?;
        }

        // Follow the layer from there to its head, so that a node started
        // on this index next starts inside the layer's window.
        let follow = FollowArgs {
            da: args.da.clone(),
            dir: args.dir.clone(),
            from_height: 1,
            to_height: None,
        };
        let catch_up = |head| run_follow(json, &index, layer.as_ref(), &follow, Some(head), &stop, &|_| {});
        if layer.as_follow().is_some() {
            let head = layer.head().await?;
            catch_up(head).await.context("indexing the heights the layer still serves")?;
        }

        // The leaves, blobs and proofs of every publication indexed.
        let api = Api::new(index.clone(), Some(layer.clone()), Limits::default())
            .with_archive_and_peer(archive.clone(), Some(peer.clone()));
        let archiver = Archiver::new(&api, &args.dir.index_dir)
            .context("reading the archive's progress")?
            .context("no archive")?;
        archiver.fill_proofs();
        if args.archive.archive_parity {
            archiver.archive_parity();
        }
        let swept = archiver
            .sweep(|p, t| {
                if !json && (t.leaves_written > 0 || t.kits_written > 0) {
                    eprintln!(
                        "filled    {}  {} leaves, {} kits",
                        p.id, t.leaves_written, t.kits_written
                    );
                }
            })
            .await
            .map_err(anyhow::Error::msg)?;
        let mut archived = 0;
        loop {
            let n = archiver.round().await.map_err(anyhow::Error::msg)?;
            if n == 0 {
                break;
            }
            archived += n;
            if !json {
                eprintln!("archived  {} publications so far", archived);
            }
        }
        if layer.as_follow().is_some() {
            let head = layer.head().await?;
            catch_up(head).await.context("indexing the heights the layer still serves")?;
        }
        let p = archiver.progress();
        let summary = json!({
            "from": args.from, "archive": archive.spec().to_string(),
            "adopted": a.adopted, "held": a.held, "rejected": a.rejected,
            "pruned_through": pruned, "adopted_through": upto,
            "checkpoint": index.checkpoint(),
            "swept": swept.publications, "archived": archived,
            "progress": p,
        });
        say("synced", summary);
        if !json {
            out!(
                "synced    {} publications adopted from {} ({} held already, {} rejected); index at height {}",
                a.adopted,
                args.from,
                a.held,
                a.rejected,
                index.checkpoint().map_or("none".into(), |h| h.to_string())
            );
            out!(
                "archive   {} leaves ({} bytes) and {} kits written in all",
                p.leaves_written, p.bytes_written, p.kits_written
            );
        }
        index.flush()?;
        let lost = p.leaves_lost + p.proofs_lost + p.records_lost;
        if lost > 0 {
            bail!(
                "incomplete: {} leaves, {} blobs' proofs and {} records no source gave in a form that checks (the layer pruned them, and {} does not hold them or gave wrong bytes); run sync again, or from another node",
                p.leaves_lost,
                p.proofs_lost,
                p.records_lost,
                args.from
            );
        }
        Ok(())
    })
}

/// The height a locator names, where it names one.
fn record_height(l: &Locator) -> Option<u64> {
    match l {
        Locator::Local { height, .. }
        | Locator::Celestia { height, .. }
        | Locator::Avail { height, .. } => Some(*height),
        Locator::Eigenda { .. } => None,
    }
}
