//! `modelda archive`: what an archive holds and how far behind its node's
//! index it is; every object checked again. The `--archive` flags of
//! `modelda node` and `modelda serve`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use modelda_api::{ArchiveProgress, PROGRESS_FILE};
use modelda_archive::{Archive, ArchiveSpec};
use serde_json::json;

use crate::da_cmd::runtime;
use crate::index_cmd::{open_reader, IndexDir};

/// Where an archive lives.
#[derive(Args, Debug, Clone, Default)]
pub struct ArchiveArgs {
    /// Keep (`node`) or read (`serve`) an archive of every indexed
    /// publication's leaves, so that weights outlive the DA layer's
    /// storage window: a local directory, or s3://BUCKET/PREFIX for any
    /// S3-compatible store (credentials and region from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION).
    #[arg(long, env = "MODELDA_ARCHIVE")]
    pub archive: Option<String>,
    /// The endpoint of an S3-compatible server (http://host:port), for an
    /// s3:// archive not on AWS.
    #[arg(long, env = "AWS_ENDPOINT", requires = "archive")]
    pub archive_endpoint: Option<String>,
    /// Archive each publication's parity blobs too (about half again the
    /// data's size with the default code), so that a leaf lost from the
    /// archive can be rebuilt from its stripe after the layer pruned it.
    /// Without it only the data is archived.
    #[arg(long, requires = "archive")]
    pub archive_parity: bool,
}

impl ArchiveArgs {
    /// The archive named, opened; `None` when none was.
    pub fn open(&self) -> Result<Option<Archive>> {
        let Some(spec) = &self.archive else {
            return Ok(None);
        };
        let spec = ArchiveSpec::parse(spec, self.archive_endpoint.as_deref())
            .context("reading --archive")?;
        Archive::open(spec.clone())
            .map(Some)
            .with_context(|| format!("opening the archive {spec}"))
    }
}

/// `modelda archive`.
#[derive(Subcommand, Debug)]
pub enum ArchiveCommand {
    /// What the archive holds, and how far behind the node's index it is.
    Status(ArchiveTarget),
    /// Re-check every leaf the archive holds against its name (its
    /// commitment); report the ones that fail (with --delete, delete them:
    /// the node writes them again from the layer or a peer).
    Verify {
        #[command(flatten)]
        target: ArchiveTarget,
        /// Delete the objects that fail their check.
        #[arg(long)]
        delete: bool,
    },
    /// Fill this node's index and archive from another node, for what the
    /// DA layer has pruned: publications listed by the other node are
    /// adopted once proven in their blocks against this node's own headers;
    /// every leaf, blob and proof is checked before it is stored. Resumes
    /// where it stopped.
    Sync(Box<crate::archive_sync::SyncArgs>),
    /// Drop the leaves and kits no publication in this node's index
    /// references (record pages and data roots, a fraction of a percent,
    /// are kept). On an archive several nodes share, run it from the node
    /// whose index is the widest: what this index does not reference goes.
    Gc {
        #[command(flatten)]
        target: ArchiveTarget,
        /// Say what would be dropped; drop nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The archive and the node's index.
#[derive(Args, Debug)]
pub struct ArchiveTarget {
    #[command(flatten)]
    archive: ArchiveArgs,
    #[command(flatten)]
    dir: IndexDir,
}

fn archive_of(t: &ArchiveTarget) -> Result<Archive> {
    t.archive
        .open()?
        .context("give the archive with --archive DIR or --archive s3://BUCKET/PREFIX")
}

/// The node's archiving progress, beside its index (none before the
/// first round).
fn progress(dir: &std::path::Path) -> Result<Option<ArchiveProgress>> {
    let p: PathBuf = dir.join(PROGRESS_FILE);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(
            serde_json::from_slice(&b).with_context(|| format!("reading {}", p.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

pub fn archive(json: bool, cmd: &ArchiveCommand) -> Result<()> {
    if let ArchiveCommand::Sync(args) = cmd {
        return crate::archive_sync::sync(json, args);
    }
    let rt = runtime()?;
    match cmd {
        ArchiveCommand::Sync(args) => crate::archive_sync::sync(json, args),
        ArchiveCommand::Gc { target, dry_run } => rt.block_on(gc(json, target, *dry_run)),
        ArchiveCommand::Status(t) => rt.block_on(async {
            let a = archive_of(t)?;
            let held = a
                .leaves(|_| {})
                .await
                .with_context(|| format!("listing the archive {}", a.spec()))?;
            let mut kits = 0u64;
            a.kits(|_| kits += 1)
                .await
                .with_context(|| format!("listing the archive {}", a.spec()))?;
            // Progress into another archive says nothing of this one.
            let progress = progress(&t.dir.index_dir)?
                .filter(|p| p.archive.as_ref().is_none_or(|x| *x == a.spec().to_string()));
            let indexed = if t.dir.index_dir.exists() {
                let index = open_reader(&t.dir.index_dir)?;
                Some((index.checkpoint(), index.counts()?.records))
            } else {
                None
            };
            let lag = match (&progress, indexed) {
                (Some(p), Some((_, records))) => Some(records.saturating_sub(p.publications)),
                (None, Some((_, records))) => Some(records),
                _ => None,
            };
            if json {
                out!(
                    "{}",
                    json!({
                        "archive": a.spec().to_string(),
                        "held": held,
                        "kits": kits,
                        "progress": progress,
                        "index_height": indexed.and_then(|i| i.0),
                        "publications_indexed": indexed.map(|i| i.1),
                        "lag_publications": lag,
                    })
                );
            } else {
                out!("archive   {}", a.spec());
                out!(
                    "holds     {} leaves, {} bytes; {kits} blob kits (what rebuilds and proves a blob past the layer's window)",
                    held.leaves,
                    held.bytes
                );
                if held.foreign > 0 {
                    out!("          {} objects that are not leaves", held.foreign);
                }
                match (&progress, indexed) {
                    (Some(p), Some((h, records))) => {
                        out!(
                            "archived  {} of {} indexed publications, through height {} (index at {})",
                            p.publications,
                            records,
                            p.height,
                            h.map_or("none".into(), |h| h.to_string())
                        );
                        if p.proofs_lost > 0 {
                            out!("lost      {} blobs' proofs: the layer pruned them before their kits were written, so no inclusion proof of them can come from this archive", p.proofs_lost);
                        }
                        if p.leaves_lost > 0 {
                            out!("lost      {} leaves the layer pruned before they were archived (fill them with `modelda archive sync --from URL`)", p.leaves_lost);
                        }
                        if let Some(e) = &p.last_error {
                            out!("stopped   {e}");
                        }
                    }
                    (None, Some((_, records))) => out!(
                        "archived  nothing yet by the node at {} ({} publications indexed)",
                        t.dir.index_dir.display(),
                        records
                    ),
                    (_, None) => out!("no index at {}", t.dir.index_dir.display()),
                }
            }
            Ok(())
        }),
        ArchiveCommand::Verify { target, delete } => rt.block_on(async {
            let a = archive_of(target)?;
            let mut keys = Vec::new();
            a.leaves(|k| keys.push(k))
                .await
                .with_context(|| format!("listing the archive {}", a.spec()))?;
            let (mut good, mut bad, mut bytes) = (0u64, Vec::new(), 0u64);
            for k in &keys {
                match a.get_leaf(k).await {
                    Ok(Some(b)) if k.check(&b) => {
                        good += 1;
                        bytes += b.len() as u64;
                    }
                    Ok(None) => {}
                    Ok(Some(_)) => bad.push(k.name()),
                    Err(e) if e.is_lie() => bad.push(k.name()),
                    Err(e) => return Err(e).context("reading the archive"),
                }
            }
            if *delete {
                for k in keys.iter().filter(|k| bad.contains(&k.name())) {
                    a.delete_leaf(k).await.context("deleting a bad object")?;
                }
            }
            // Each kit: its blob rebuilt from the leaves, checked against
            // its locator.
            let mut kits = Vec::new();
            a.kits(|l| kits.push(l))
                .await
                .with_context(|| format!("listing the archive {}", a.spec()))?;
            let mut kits_good = 0u64;
            let mut incomplete = Vec::new();
            for l in &kits {
                match a.rebuild_blob(l).await {
                    Ok(_) => kits_good += 1,
                    // A leaf it lists is missing or bad (named above): the
                    // kit itself is sound.
                    Err(modelda_archive::Error::Corrupt { name, reason })
                        if name.starts_with("leaves/") =>
                    {
                        incomplete.push(format!(
                            "{} lacks {name} ({reason})",
                            modelda_archive::kit_name(l)
                        ));
                    }
                    Err(e) if e.is_lie() => {
                        bad.push(format!("{} ({e})", modelda_archive::kit_name(l)));
                        if *delete {
                            a.delete_kit(l).await.context("deleting a bad kit")?;
                        }
                    }
                    Err(e) => return Err(e).context("reading the archive"),
                }
            }
            if json {
                out!(
                    "{}",
                    json!({"archive": a.spec().to_string(), "checked": keys.len(), "good": good,
                           "bytes": bytes, "kits": kits.len(), "kits_good": kits_good, "kits_incomplete": incomplete,
                           "bad": bad, "deleted": *delete})
                );
            } else {
                out!(
                    "checked   {} leaves ({good} good, {bytes} bytes) and {} blob kits ({kits_good} rebuild) in {}",
                    keys.len(),
                    kits.len(),
                    a.spec()
                );
                for i in &incomplete {
                    out!("INCOMPLETE {i}: the blob rebuilds once the leaf is archived again (a read through the node's /chunks keeps it)");
                }
                for b in &bad {
                    out!(
                        "BAD       {b}{}",
                        if *delete { " (deleted)" } else { "" }
                    );
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                anyhow::bail!(
                    "{} objects fail their check{}",
                    bad.len(),
                    if *delete {
                        "; they were deleted, and the node writes them again"
                    } else {
                        "; run again with --delete to drop them (the node writes them again)"
                    }
                )
            }
        }),
    }
}

/// `modelda archive gc`.
async fn gc(json: bool, t: &ArchiveTarget, dry_run: bool) -> Result<()> {
    let a = archive_of(t)?;
    // What is held, listed before the index is read: an object written
    // after the listing began is not a candidate, and one listed was
    // written for a publication the index already holds.
    let mut leaves = Vec::new();
    a.leaves(|k| leaves.push(k))
        .await
        .with_context(|| format!("listing the archive {}", a.spec()))?;
    let mut kits = Vec::new();
    a.kits(|l| kits.push(l))
        .await
        .with_context(|| format!("listing the archive {}", a.spec()))?;
    if !t.dir.index_dir.exists() {
        anyhow::bail!(
            "no index at {}: gc keeps what an index references; give the node's --index-dir",
            t.dir.index_dir.display()
        );
    }
    let index = std::sync::Arc::new(open_reader(&t.dir.index_dir)?);
    let api = modelda_api::Api::new(index, None, modelda_api::Limits::default());
    let mut refs = modelda_api::referenced(&api)
        .await
        .map_err(anyhow::Error::msg)?;
    // A kept kit keeps the leaves it lists (parity shards among them).
    let mut drop_kits = Vec::new();
    for l in &kits {
        if refs.blobs.contains(&l.to_string()) {
            if let Ok(Some(k)) = a.get_kit(l).await {
                refs.leaves
                    .extend(k.leaves.iter().map(|x| format!("leaves/{}", x.leaf)));
            }
        } else {
            drop_kits.push(l.clone());
        }
    }
    let drop_leaves: Vec<_> = leaves
        .iter()
        .filter(|k| !refs.leaves.contains(&k.name()))
        .collect();
    let bytes: u64 = drop_leaves.iter().map(|k| k.len()).sum();
    if !dry_run {
        for k in &drop_leaves {
            a.delete_leaf(k).await.context("deleting a leaf")?;
        }
        for l in &drop_kits {
            a.delete_kit(l).await.context("deleting a kit")?;
        }
    }
    if json {
        out!(
            "{}",
            json!({"archive": a.spec().to_string(), "leaves": leaves.len(), "kits": kits.len(),
                   "dropped_leaves": drop_leaves.len(), "dropped_bytes": bytes,
                   "dropped_kits": drop_kits.len(), "dry_run": dry_run})
        );
    } else {
        let verb = if dry_run { "would drop" } else { "dropped" };
        out!(
            "{verb} {} of {} leaves ({bytes} bytes) and {} of {} kits that no publication in {} references",
            drop_leaves.len(),
            leaves.len(),
            drop_kits.len(),
            kits.len(),
            t.dir.index_dir.display()
        );
    }
    Ok(())
}
