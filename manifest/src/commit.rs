//! Committing a model directory: walk it, index tensors, hash every file into
//! leaves and a root, and assemble the manifest.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use modelda_merkle::{Commitment, CommitmentBuilder, LeafSize};
use rayon::prelude::*;

use crate::manifest::{check_rel_path, path_order, FileEntry, FileFormat, ModelManifest};
use crate::tensor::{HeaderError, TensorHash, TensorInfo, TensorSpan};
use crate::{card, gguf, safetensors, training, Error, LineageClaim, ModelId, Result};

/// File names the OpenSSF model signing library ignores at the model root by
/// default, and which modelda ignores too.
pub const IGNORED_ROOT_NAMES: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];
/// The OpenSSF Model Signing bundle modelda writes in the model directory.
pub const OMS_SIGNATURE_NAME: &str = "model.sig";
/// The modelda claims bundle (model id, lineage, training) in the model directory.
pub const CLAIMS_SIGNATURE_NAME: &str = "model.claims.sig";
/// The training manifest picked up from the model directory when none is named.
pub const DEFAULT_TRAINING_NAME: &str = "modelda-training.toml";

/// Bytes hashed per window: leaves of one window are hashed in parallel, and
/// peak memory stays near one window whatever the file size. Default: 64 MiB.
pub const WINDOW_BYTES: u64 = 64 << 20;

/// Options of [`commit_dir`].
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// Leaf size of every file's commitment. Default: 1 MiB.
    pub leaf_size: LeafSize,
    /// Training manifest to read. Default: `modelda-training.toml` in the
    /// model directory, when present.
    pub training: Option<PathBuf>,
    /// Lineage claims besides those of the training manifest. Default: none.
    pub lineage: Vec<LineageClaim>,
    /// Whether to skip the tensor index and tensor hashes. Default: false.
    pub skip_tensors: bool,
}

/// Receives progress while files are hashed.
pub trait Progress: Sync {
    /// Called once with the total number of bytes to hash.
    fn start(&self, _total: u64) {}
    /// Called as bytes are hashed.
    fn advance(&self, _bytes: u64) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// A file found in the model directory.
#[derive(Clone, Debug)]
pub struct FoundFile {
    /// Path relative to the model directory, `/`-separated.
    pub rel: String,
    /// Where to read it (the link target for symlinks).
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Whether it was reached through a symlink.
    pub via_symlink: bool,
}

/// Whether `name` (in the model directory's root) is a signature bundle
/// being written, or left behind by a signer killed before it renamed it
/// into place (`.model.sig.tmp-PID`, `.model.claims.sig.tmp-PID`): never a
/// model file.
pub fn is_signing_leftover(name: &str) -> bool {
    [OMS_SIGNATURE_NAME, CLAIMS_SIGNATURE_NAME]
        .iter()
        .any(|sig| {
            name.strip_prefix('.')
                .and_then(|n| n.strip_prefix(sig))
                .and_then(|n| n.strip_prefix(".tmp-"))
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Lists the regular files of a model directory in path order, skipping the
/// git files and signature bundles modelda and model signing ignore, and
/// bundles a killed signer left half-written.
///
/// A symlink must resolve to a file inside the directory; directory symlinks,
/// links that leave the directory and special files are errors.
pub fn scan_dir(dir: &Path) -> Result<Vec<FoundFile>> {
    let root = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    if !root.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
        ));
    }
    let mut out = Vec::new();
    walk(&root, dir, "", &mut out)?;
    out.sort_by(|a, b| path_order(&a.rel, &b.rel));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<FoundFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(Error::FileName {
                path,
                reason: "file names must be valid UTF-8",
            });
        };
        if prefix.is_empty()
            && (IGNORED_ROOT_NAMES.contains(&name)
                || name == OMS_SIGNATURE_NAME
                || name == CLAIMS_SIGNATURE_NAME
                || is_signing_leftover(name))
        {
            continue;
        }
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        if let Err(reason) = check_rel_path(&rel) {
            return Err(Error::FileName { path, reason });
        }
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ft.is_dir() {
            walk(root, &path, &rel, out)?;
        } else if ft.is_file() {
            let size = entry.metadata().map_err(|e| Error::io(&path, e))?.len();
            out.push(FoundFile {
                rel,
                path,
                size,
                via_symlink: false,
            });
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
            let resolved = path.canonicalize().map_err(|_| Error::Symlink {
                path: path.clone(),
                target: target.clone(),
                why: "is dangling",
            })?;
            if !resolved.starts_with(root) {
                return Err(Error::Symlink {
                    path,
                    target,
                    why: "leaves the model directory",
                });
            }
            let meta = std::fs::metadata(&resolved).map_err(|e| Error::io(&resolved, e))?;
            if !meta.is_file() {
                return Err(Error::Symlink {
                    path,
                    target,
                    why: "is not a regular file",
                });
            }
            out.push(FoundFile {
                rel,
                path: resolved,
                size: meta.len(),
                via_symlink: true,
            });
        } else {
            return Err(Error::FileName {
                path,
                reason: "not a regular file, directory or symlink",
            });
        }
    }
    Ok(())
}

/// A committed file: its manifest entry and its leaf commitment.
#[derive(Clone, Debug)]
pub struct CommittedFile {
    /// The manifest entry.
    pub entry: FileEntry,
    /// Every leaf's chaining value and the root.
    pub commitment: Commitment,
}

/// A committed model directory.
#[derive(Clone, Debug)]
pub struct CommittedModel {
    /// The manifest.
    pub manifest: ModelManifest,
    /// The model id.
    pub id: ModelId,
    /// Leaf commitments by relative path.
    pub commitments: BTreeMap<String, Commitment>,
    /// Whether any file was reached through a symlink.
    pub has_symlinks: bool,
}

/// Reads a file's tensor index from its header.
pub fn read_tensor_index(
    path: &Path,
    format: FileFormat,
    file_len: u64,
) -> Result<Vec<TensorSpan>> {
    let wrap_st = |e: HeaderError| Error::Safetensors {
        path: path.to_path_buf(),
        offset: e.offset,
        reason: e.reason,
    };
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    match format {
        FileFormat::Safetensors => {
            let mut first = [0u8; 8];
            let got = read_up_to(&mut f, &mut first).map_err(|e| Error::io(path, e))?;
            let n = safetensors::header_len(&first[..got], file_len).map_err(wrap_st)?;
            let mut json = vec![0u8; n as usize];
            f.read_exact(&mut json).map_err(|e| Error::io(path, e))?;
            Ok(safetensors::parse_header(&json, file_len)
                .map_err(wrap_st)?
                .tensors)
        }
        FileFormat::Gguf => {
            f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
            let r = std::io::BufReader::with_capacity(1 << 16, f);
            let h = gguf::parse(r, file_len).map_err(|e| Error::Gguf {
                path: path.to_path_buf(),
                offset: e.offset,
                reason: e.reason,
            })?;
            Ok(h.tensors)
        }
        _ => Ok(Vec::new()),
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn stamp(path: &Path) -> Result<(u64, Option<SystemTime>)> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok((m.len(), m.modified().ok()))
}

/// Maps `len` bytes of `file` at `offset` read-only.
#[allow(unsafe_code)]
fn map_window(file: &File, offset: u64, len: usize) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this function's caller, which
    // drops it before the next window. Another process truncating the file
    // while it is mapped would raise SIGBUS; the size and mtime are checked
    // before and after hashing so that other changes are reported as errors.
    // `b3sum` makes the same trade for the same speed.
    unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .map(file)
    }
}

/// Commits one file: leaf chaining values, root, and (for weights) the tensor
/// index with each tensor's BLAKE3, all in one pass over the bytes.
pub fn commit_file(
    found: &FoundFile,
    leaf_size: LeafSize,
    with_tensors: bool,
    progress: &dyn Progress,
) -> Result<CommittedFile> {
    let path = &found.path;
    let format = FileFormat::classify(&found.rel);
    let before = stamp(path)?;
    let len = before.0;
    let spans = if with_tensors {
        read_tensor_index(path, format, len)?
    } else {
        Vec::new()
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut builder = CommitmentBuilder::new(len, leaf_size);
    let mut hashers: Vec<blake3::Hasher> = spans.iter().map(|_| blake3::Hasher::new()).collect();
    let window = WINDOW_BYTES.max(leaf_size.bytes()) / leaf_size.bytes() * leaf_size.bytes();
    let mut first_open = 0usize; // first tensor that may still overlap a later window
    let map_at = |offset: u64| -> Result<Option<(u64, memmap2::Mmap)>> {
        if offset >= len {
            return Ok(None);
        }
        let n = window.min(len - offset);
        let map = map_window(&file, offset, n as usize).map_err(|e| Error::io(path, e))?;
        // Ask the kernel to read the window ahead while the previous one hashes.
        let _ = map.advise(memmap2::Advice::WillNeed);
        Ok(Some((offset, map)))
    };
    let mut next = map_at(0)?;
    while let Some((offset, map)) = next.take() {
        let n = map.len() as u64;
        let end = offset + n;
        next = map_at(end)?;
        let data: &[u8] = &map;
        while first_open < spans.len() && spans[first_open].end <= offset {
            first_open += 1;
        }
        let mut segments: Vec<(&mut blake3::Hasher, &[u8])> = Vec::new();
        for (h, s) in hashers.iter_mut().zip(&spans).skip(first_open) {
            if s.start >= end {
                break;
            }
            let a = s.start.max(offset);
            let b = s.end.min(end);
            if a < b {
                segments.push((h, &data[(a - offset) as usize..(b - offset) as usize]));
            }
        }
        let (leaves, ()) = rayon::join(
            || builder.add_window(offset, data),
            || {
                segments.into_par_iter().for_each(|(h, seg)| {
                    if seg.len() >= 1 << 20 {
                        h.update_rayon(seg);
                    } else {
                        h.update(seg);
                    }
                })
            },
        );
        leaves?;
        progress.advance(n);
    }
    if stamp(path)? != before {
        return Err(Error::Changed { path: path.clone() });
    }
    let commitment = builder.finish()?;
    let tensors = spans
        .into_iter()
        .zip(hashers)
        .map(|(s, h)| TensorInfo {
            name: s.name,
            dtype: s.dtype,
            shape: s.shape,
            start: s.start,
            end: s.end,
            blake3: TensorHash::from(h.finalize()),
        })
        .collect();
    Ok(CommittedFile {
        entry: FileEntry {
            path: found.rel.clone(),
            size: len,
            root: commitment.root(),
            leaf_size,
            format,
            tensors,
        },
        commitment,
    })
}

/// Commits a model directory: every file's commitment and tensor index, the
/// model card, the training manifest and lineage claims, and the model id.
pub fn commit_dir(
    dir: &Path,
    opts: &CommitOptions,
    progress: &dyn Progress,
) -> Result<CommittedModel> {
    let found = scan_dir(dir)?;
    let training_path = match &opts.training {
        Some(p) => Some(p.clone()),
        None => {
            let p = dir.join(DEFAULT_TRAINING_NAME);
            p.is_file().then_some(p)
        }
    };
    let (training, mut lineage) = match &training_path {
        Some(p) => {
            let (t, l) = training::load(p)?;
            (Some(t), l)
        }
        None => (None, Vec::new()),
    };
    lineage.extend(opts.lineage.iter().copied());
    let card = match found.iter().find(|f| f.rel == "README.md") {
        Some(f) => {
            let text = std::fs::read(&f.path).map_err(|e| Error::io(&f.path, e))?;
            card::parse(&f.path, &String::from_utf8_lossy(&text))?
        }
        None => Default::default(),
    };
    progress.start(found.iter().map(|f| f.size).sum());
    let mut entries = Vec::with_capacity(found.len());
    let mut commitments = BTreeMap::new();
    for f in &found {
        let mut c = commit_file(f, opts.leaf_size, !opts.skip_tensors, progress)?;
        if training_path
            .as_ref()
            .is_some_and(|t| same_file(t, &f.path))
        {
            c.entry.format = FileFormat::TrainingManifest;
        }
        commitments.insert(f.rel.clone(), c.commitment);
        entries.push(c.entry);
    }
    if !opts.skip_tensors {
        check_shard_indexes(&found, &entries)?;
    }
    let manifest = ModelManifest::new(entries, lineage, training, card)?;
    let id = manifest.id();
    Ok(CommittedModel {
        id,
        manifest,
        commitments,
        has_symlinks: found.iter().any(|f| f.via_symlink),
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[derive(serde::Deserialize)]
struct ShardIndexFile {
    weight_map: BTreeMap<String, String>,
}

/// Checks every `*.safetensors.index.json` against the shards it names: each
/// mapped tensor is in its shard, and each shard tensor is mapped.
fn check_shard_indexes(found: &[FoundFile], entries: &[FileEntry]) -> Result<()> {
    let by_path: HashMap<&str, &FileEntry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
    for f in found
        .iter()
        .filter(|f| FileFormat::classify(&f.rel) == FileFormat::SafetensorsIndex)
    {
        let bad = |reason: String| Error::ShardIndex {
            path: f.path.clone(),
            reason,
        };
        let text = std::fs::read(&f.path).map_err(|e| Error::io(&f.path, e))?;
        let idx: ShardIndexFile =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not a valid index ({e})")))?;
        let base = f.rel.rsplit_once('/').map(|(d, _)| d);
        let mut shards: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (tensor, shard) in &idx.weight_map {
            shards
                .entry(shard.as_str())
                .or_default()
                .push(tensor.as_str());
        }
        for (shard, tensors) in shards {
            let rel = match base {
                Some(b) => format!("{b}/{shard}"),
                None => shard.to_string(),
            };
            let Some(entry) = by_path.get(rel.as_str()) else {
                return Err(bad(format!(
                    "shard {shard:?} is not in the model directory"
                )));
            };
            let have: std::collections::HashSet<&str> =
                entry.tensors.iter().map(|t| t.name.as_str()).collect();
            for t in &tensors {
                if !have.contains(t) {
                    return Err(bad(format!(
                        "tensor {t:?} is mapped to {shard:?}, which does not hold it"
                    )));
                }
            }
            if let Some(extra) = entry
                .tensors
                .iter()
                .find(|t| !tensors.contains(&t.name.as_str()))
            {
                return Err(bad(format!(
                    "tensor {:?} of shard {shard:?} is missing from the weight map",
                    extra.name
                )));
            }
        }
    }
    Ok(())
}
