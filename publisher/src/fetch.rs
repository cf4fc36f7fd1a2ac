//! Fetching: the prover's side of a publication.
//!
//! Only the blobs holding the needed leaves are read. Every leaf is checked
//! against the signed commitment (its chaining value, which the record's
//! claims tie to the file root) before it is used. When a leaf is missing or
//! fails its check, the rest of its stripe and its parity shards are read,
//! each checked, and the stripe is rebuilt with Reed-Solomon; the rebuilt
//! leaves are checked again. Files are written to a temporary name, synced,
//! and renamed into place, so a file under its final name always hashes to
//! its root.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelda_da::DaLayer;
use modelda_manifest::{
    safetensors, FileFormat, TensorInfo, CLAIMS_SIGNATURE_NAME, OMS_SIGNATURE_NAME,
};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::envelope::{Envelope, Kind};
use crate::record::{OpenedRecord, RecordFile};
use crate::{Error, Result, StripeCoder};

/// Blob bytes kept for reuse across stripes. Default budget: 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Most bytes reserved up front for a range read; larger ranges grow as
/// verified leaves arrive. 64 MiB.
const MAX_PREALLOC: u64 = 64 << 20;

/// What a fetch did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FetchStats {
    /// Blobs read from the layer.
    pub blobs_read: u64,
    /// Blob bytes read from the layer.
    pub bytes_read: u64,
    /// Leaves checked and written.
    pub leaves: u64,
    /// Shards that were missing or failed their check.
    pub bad_shards: u64,
    /// Stripes rebuilt from parity.
    pub rebuilt_stripes: u64,
    /// Leaves the layer did not give that other sources (an archive,
    /// another node) gave, each checked against its commitment.
    pub leaves_from_sources: u64,
}

/// Progress of a fetch.
pub trait FetchProgress: Sync {
    /// Called once with the bytes to write.
    fn start(&self, _total: u64) {}
    /// Called as verified bytes are written.
    fn advance(&self, _bytes: u64) {}
}

/// Progress that goes nowhere.
pub struct Quiet;
impl FetchProgress for Quiet {}

/// Reads verified leaves of a record from a layer.
pub struct Fetcher {
    layer: Arc<dyn DaLayer>,
    record: Arc<OpenedRecord>,
    coder: StripeCoder,
    cache: HashMap<u32, Arc<Vec<u8>>>,
    order: VecDeque<u32>,
    cache_bytes: usize,
    cache_limit: usize,
    /// Where leaves the layer does not give are asked for next.
    sources: Option<modelda_archive::Sources>,
    /// Counters.
    pub stats: FetchStats,
}

enum Got {
    Ok(Vec<u8>),
    Bad,
}

impl Fetcher {
    /// A fetcher of `record`'s shards from `layer`.
    pub fn new(layer: Arc<dyn DaLayer>, record: Arc<OpenedRecord>) -> Result<Fetcher> {
        let g = record.geometry();
        Ok(Fetcher {
            layer,
            coder: StripeCoder::new(usize::from(g.data), usize::from(g.parity))?,
            record,
            cache: HashMap::new(),
            order: VecDeque::new(),
            cache_bytes: 0,
            cache_limit: DEFAULT_CACHE_BYTES,
            sources: None,
            stats: FetchStats::default(),
        })
    }

    /// Asks `sources` (an archive, another node's `/chunks`) for the leaves
    /// the layer does not give (it pruned them, or they fail their check),
    /// before rebuilding a stripe from parity. Every leaf they give is
    /// checked against its signed commitment.
    pub fn with_sources(mut self, sources: modelda_archive::Sources) -> Fetcher {
        self.sources = Some(sources);
        self
    }

    /// Leaf `leaf` of file `fi` from the other sources, checked.
    async fn leaf_from_sources(&mut self, fi: usize, leaf: u64) -> Option<Vec<u8>> {
        let sources = self.sources.as_ref()?;
        let f = &self.record.files[fi];
        let key = modelda_archive::LeafKey::in_file(&f.entry, leaf, f.leaf_digest(leaf))?;
        match sources.get(&modelda_archive::Want::key(key)).await {
            Ok(got) => {
                self.stats.leaves_from_sources += 1;
                Some(got.bytes.to_vec())
            }
            Err(e) => {
                tracing::warn!(path = %f.entry.path, leaf, error = %e, "no other source gave a leaf");
                None
            }
        }
    }

    /// Reads blobs not cached yet, concurrently. Blobs that cannot be read
    /// are left out (their shards count as missing).
    async fn load(&mut self, blobs: &[u32]) {
        let mut set = JoinSet::new();
        let mut wanted: Vec<u32> = blobs
            .iter()
            .copied()
            .filter(|b| !self.cache.contains_key(b))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for b in wanted {
            let layer = self.layer.clone();
            let loc = self.record.blobs[b as usize].clone();
            set.spawn(async move { (b, layer.get(&loc).await) });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok((b, Ok(bytes))) => {
                    self.stats.blobs_read += 1;
                    self.stats.bytes_read += bytes.len() as u64;
                    self.cache_bytes += bytes.len();
                    self.cache.insert(b, Arc::new(bytes));
                    self.order.push_back(b);
                }
                Ok((b, Err(e))) => {
                    tracing::warn!(blob = %self.record.blobs[b as usize], error = %e, "blob unreadable; its shards count as missing");
                }
                Err(e) => tracing::warn!(error = %e, "a blob read task failed"),
            }
        }
    }

    fn evict(&mut self, keep: &[u32]) {
        while self.cache_bytes > self.cache_limit {
            let Some(b) = self.order.pop_front() else {
                break;
            };
            if keep.contains(&b) {
                self.order.push_back(b);
                if self.order.iter().all(|x| keep.contains(x)) {
                    break;
                }
                continue;
            }
            if let Some(v) = self.cache.remove(&b) {
                self.cache_bytes -= v.len();
            }
        }
    }

    /// Shard `j` of stripe `s` of file `fi`, checked: a leaf against its
    /// signed digest and length, a parity shard against the record.
    fn shard(&self, fi: usize, s: u64, j: usize) -> Got {
        let f = &self.record.files[fi];
        let r = f.refs[f.stripe_starts[s as usize] + j];
        let Some(blob) = self.cache.get(&r.blob) else {
            return Got::Bad;
        };
        let Ok(env) = Envelope::decode_at(blob, r.offset as usize) else {
            return Got::Bad;
        };
        let leaves = f.stripes.leaves_of(s);
        let n_data = (leaves.end - leaves.start) as usize;
        let ok = if j < n_data {
            let leaf = leaves.start + j as u64;
            let want_len = {
                let b = f.entry.leaf_size.leaf_bytes(f.entry.size, leaf);
                (b.end - b.start) as usize
            };
            env.header.kind == f.stripes.data_kind()
                && env.digest == f.leaf_digest(leaf)
                && env.payload.len() == want_len
        } else {
            let p = s as usize * usize::from(self.record.geometry().parity) + (j - n_data);
            env.header.kind == Kind::Parity
                && env.digest == f.parity[p]
                && env.payload.len() as u64 == f.stripes.width(s)
        };
        if ok {
            Got::Ok(env.payload)
        } else {
            Got::Bad
        }
    }

    /// The verified leaves `want` (absolute leaf indices, inside stripe `s`)
    /// of file `fi`, rebuilding the stripe from parity when needed.
    pub async fn leaves(
        &mut self,
        fi: usize,
        s: u64,
        want: std::ops::Range<u64>,
    ) -> Result<Vec<Vec<u8>>> {
        let rec = self.record.clone();
        let f: &RecordFile = &rec.files[fi];
        let leaves = f.stripes.leaves_of(s);
        debug_assert!(want.start >= leaves.start && want.end <= leaves.end);
        let start = f.stripe_starts[s as usize];
        let n_data = (leaves.end - leaves.start) as usize;
        let idx = |leaf: u64| (leaf - leaves.start) as usize;
        let first: Vec<u32> = want.clone().map(|l| f.refs[start + idx(l)].blob).collect();
        self.load(&first).await;
        let mut out = Vec::with_capacity((want.end - want.start) as usize);
        let mut all = true;
        for l in want.clone() {
            match self.shard(fi, s, idx(l)) {
                Got::Ok(p) => out.push(p),
                Got::Bad => match self.leaf_from_sources(fi, l).await {
                    Some(p) => out.push(p),
                    None => {
                        all = false;
                        break;
                    }
                },
            }
        }
        if all {
            self.stats.leaves += out.len() as u64;
            self.evict(&first);
            return Ok(out);
        }
        // Rebuild: read every shard of the stripe.
        let shards_n = f.stripes.shards_of(s);
        let every: Vec<u32> = (0..shards_n).map(|j| f.refs[start + j].blob).collect();
        self.load(&every).await;
        let k = usize::from(rec.geometry().data);
        let m = usize::from(rec.geometry().parity);
        let width = f.stripes.width(s) as usize;
        let mut slots: Vec<Option<Vec<u8>>> = vec![None; k + m];
        let mut present = 0;
        for j in 0..shards_n {
            match self.shard(fi, s, j) {
                Got::Ok(mut p) => {
                    present += 1;
                    p.resize(width, 0);
                    let slot = if j < n_data { j } else { k + (j - n_data) };
                    slots[slot] = Some(p);
                }
                Got::Bad => self.stats.bad_shards += 1,
            }
        }
        // Leaves past the end of the file's last stripe are zeros.
        for slot in slots.iter_mut().take(k).skip(n_data) {
            *slot = Some(vec![0u8; width]);
        }
        self.evict(&every);
        let path = f.entry.path.clone();
        self.coder
            .reconstruct(s, &mut slots)
            .map_err(|e| Error::Shard {
                path: path.clone(),
                stripe: s,
                reason: format!(
                    "{present} of {} shards are intact, {n_data} are needed: {e}",
                    shards_n
                ),
            })?;
        self.stats.rebuilt_stripes += 1;
        let mut out = Vec::with_capacity((want.end - want.start) as usize);
        for l in want {
            let mut p = slots[idx(l)].take().expect("rebuilt");
            let b = f.entry.leaf_size.leaf_bytes(f.entry.size, l);
            p.truncate((b.end - b.start) as usize);
            let h = crate::envelope::Header {
                kind: f.stripes.data_kind(),
                model: rec.model_id(),
                file: fi as u32,
                stripe: s,
                shard: idx(l) as u16,
                data_shards: rec.geometry().data,
                parity_shards: rec.geometry().parity,
                leaf_size: f.entry.leaf_size,
            };
            if h.digest(&p) != Some(f.leaf_digest(l)) {
                return Err(Error::Shard {
                    path,
                    stripe: s,
                    reason: format!("leaf {l} rebuilt from parity does not match its commitment"),
                });
            }
            out.push(p);
        }
        self.stats.leaves += out.len() as u64;
        Ok(out)
    }

    /// Bytes `range` of file `fi`, verified.
    pub async fn bytes(&mut self, fi: usize, range: std::ops::Range<u64>) -> Result<Vec<u8>> {
        let f = self.record.files[fi].clone();
        // The range comes from a signed manifest, but grow with the verified
        // bytes rather than trust its length for one allocation.
        let mut out =
            Vec::with_capacity(range.end.saturating_sub(range.start).min(MAX_PREALLOC) as usize);
        if range.start == range.end {
            return Ok(out);
        }
        let ls = f.entry.leaf_size;
        let leaves = ls
            .leaves_of(f.entry.size, range.clone())
            .map_err(|e| Error::Shard {
                path: f.entry.path.clone(),
                stripe: 0,
                reason: e.to_string(),
            })?;
        let k = u64::from(self.record.geometry().data);
        let mut leaf = leaves.start;
        while leaf < leaves.end {
            let s = leaf / k;
            let end = f.stripes.leaves_of(s).end.min(leaves.end);
            for (i, data) in self.leaves(fi, s, leaf..end).await?.into_iter().enumerate() {
                let l = leaf + i as u64;
                let lb = ls.leaf_bytes(f.entry.size, l);
                let from = range.start.max(lb.start) - lb.start;
                let to = range.end.min(lb.end) - lb.start;
                out.extend_from_slice(&data[from as usize..to as usize]);
            }
            leaf = end;
        }
        Ok(out)
    }

    /// Writes file `fi` to `dest` atomically.
    pub async fn write_file(
        &mut self,
        fi: usize,
        dest: &Path,
        progress: &dyn FetchProgress,
    ) -> Result<()> {
        let f = self.record.files[fi].clone();
        let tmp = temp_path(dest);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        let result = async {
            let ls = f.entry.leaf_size;
            for s in 0..f.stripes.count() {
                let leaves = f.stripes.leaves_of(s);
                let mut at = leaves.start * ls.bytes();
                for data in self.leaves(fi, s, leaves).await? {
                    file.write_all_at(&data, at)
                        .map_err(|e| Error::io(&tmp, e))?;
                    at += data.len() as u64;
                    progress.advance(data.len() as u64);
                }
            }
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.modelda-part"))
}

fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = temp_path(dest);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    std::io::Write::write_all(&mut f, bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
}

/// What to fetch.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Every file, and the signatures (`model.sig`, `model.claims.sig`).
    All,
    /// One file.
    File(String),
    /// One tensor, from `file` when the name is in several files.
    Tensor {
        /// Tensor name.
        name: String,
        /// File to look in.
        file: Option<String>,
        /// Write a single-tensor safetensors file instead of raw bytes.
        as_safetensors: bool,
    },
}

/// What a fetch wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Fetched {
    /// Paths written.
    pub written: Vec<PathBuf>,
    /// Verified bytes written.
    pub bytes: u64,
    /// Counters.
    pub stats: FetchStats,
}

/// Safetensors dtypes a tensor may have to be written as safetensors.
const SAFETENSORS_DTYPES: [&str; 15] = [
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
    "F64", "I64", "U64",
];

/// Fetches `selection` of `record` from `layer` into `out`.
pub async fn fetch(
    layer: Arc<dyn DaLayer>,
    record: Arc<OpenedRecord>,
    selection: &Selection,
    out: &Path,
    progress: &dyn FetchProgress,
) -> Result<Fetched> {
    fetch_with(layer, None, record, selection, out, progress).await
}

/// [`fetch`], asking `sources` for leaves the layer does not give (see
/// [`Fetcher::with_sources`]).
#[tracing::instrument(name = "fetch", skip_all, fields(model = %record.model_id()))]
pub async fn fetch_with(
    layer: Arc<dyn DaLayer>,
    sources: Option<modelda_archive::Sources>,
    record: Arc<OpenedRecord>,
    selection: &Selection,
    out: &Path,
    progress: &dyn FetchProgress,
) -> Result<Fetched> {
    let mut fetcher = Fetcher::new(layer, record.clone())?;
    if let Some(s) = sources {
        fetcher = fetcher.with_sources(s);
    }
    let model = record.model_id().to_string();
    let file_index = |path: &str| {
        record
            .files
            .iter()
            .position(|f| f.entry.path == path)
            .ok_or_else(|| Error::NotInModel {
                what: format!("file {path:?}"),
                model: model.clone(),
            })
    };
    let mut written = Vec::new();
    let mut bytes = 0;
    match selection {
        Selection::All | Selection::File(_) => {
            let files: Vec<usize> = match selection {
                Selection::File(p) => vec![file_index(p)?],
                _ => (0..record.files.len()).collect(),
            };
            progress.start(files.iter().map(|&i| record.files[i].entry.size).sum());
            for fi in files {
                let dest = out.join(&record.files[fi].entry.path);
                fetcher.write_file(fi, &dest, progress).await?;
                bytes += record.files[fi].entry.size;
                written.push(dest);
            }
            if matches!(selection, Selection::All) {
                let claims = out.join(CLAIMS_SIGNATURE_NAME);
                write_atomic(&claims, record.publication.claims.as_bytes())?;
                written.push(claims);
                if let Some(oms) = &record.publication.oms {
                    let p = out.join(OMS_SIGNATURE_NAME);
                    write_atomic(&p, oms.as_bytes())?;
                    written.push(p);
                }
            }
        }
        Selection::Tensor {
            name,
            file,
            as_safetensors,
        } => {
            let hits: Vec<(usize, &TensorInfo)> = record
                .files
                .iter()
                .enumerate()
                .filter(|(_, f)| file.as_ref().is_none_or(|p| &f.entry.path == p))
                .flat_map(|(i, f)| f.entry.tensors.iter().map(move |t| (i, t)))
                .filter(|(_, t)| &t.name == name)
                .collect();
            let (fi, t) = match hits.as_slice() {
                [] => {
                    return Err(Error::NotInModel {
                        what: format!("tensor {name:?}"),
                        model,
                    })
                }
                [one] => *one,
                many => {
                    let files: Vec<&str> = many
                        .iter()
                        .map(|(i, _)| record.files[*i].entry.path.as_str())
                        .collect();
                    return Err(Error::NotInModel {
                        what: format!(
                            "a single tensor {name:?} (it is in {}; name the file to read it from)",
                            files.join(", ")
                        ),
                        model,
                    });
                }
            };
            let format = record.files[fi].entry.format;
            if *as_safetensors {
                // The manifest was validated (shape agrees with bytes for
                // its format); check again with the safetensors rule, so a
                // file the reference package refuses is never written.
                let bits = safetensors::dtype_bits(&t.dtype)
                    .filter(|_| SAFETENSORS_DTYPES.contains(&t.dtype.as_str()));
                let fits =
                    bits.and_then(|b| safetensors::tensor_bytes(b, &t.shape)) == Some(t.len());
                if !fits {
                    return Err(Error::NotInModel {
                        what: format!(
                            "tensor {name:?} as safetensors (its dtype {} and shape {:?} have no safetensors equivalent; fetch its raw bytes instead)",
                            t.dtype, t.shape
                        ),
                        model,
                    });
                }
            }
            progress.start(t.len());
            let data = fetcher.bytes(fi, t.start..t.end).await?;
            if blake3::hash(&data).as_bytes() != t.blake3.as_bytes() {
                return Err(Error::Shard {
                    path: record.files[fi].entry.path.clone(),
                    stripe: 0,
                    reason: format!("tensor {name:?} does not match its signed hash"),
                });
            }
            progress.advance(t.len());
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let (dest, body) = if *as_safetensors {
                (
                    out.join(format!("{safe}.safetensors")),
                    single_tensor(t, format, &data),
                )
            } else {
                (out.join(format!("{safe}.bin")), data)
            };
            write_atomic(&dest, &body)?;
            bytes = t.len();
            written.push(dest);
        }
    }
    Ok(Fetched {
        written,
        bytes,
        stats: fetcher.stats,
    })
}

/// A safetensors file holding one tensor. GGUF lists the fastest dimension
/// first; safetensors lists it last.
fn single_tensor(t: &TensorInfo, format: FileFormat, data: &[u8]) -> Vec<u8> {
    let mut shape = t.shape.clone();
    if format == FileFormat::Gguf {
        shape.reverse();
    }
    let header = serde_json::json!({
        &t.name: {
            "dtype": t.dtype,
            "shape": shape,
            "data_offsets": [0, data.len()],
        }
    });
    let mut json = serde_json::to_vec(&header).expect("headers always serialize");
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    out
}
