//! The model manifest, its canonical encoding, and the model id.

use std::collections::HashSet;

use modelda_merkle::{FileRoot, LeafSize};
use serde::{Deserialize, Serialize};

use crate::training::HyperValue;
use crate::{Error, LineageClaim, ModelCard, ModelId, Result, TensorInfo, TrainingManifest};

/// Domain separator that starts every canonical manifest encoding.
pub const CANONICAL_MAGIC: &[u8; 16] = b"modelda/manifest";

/// What kind of file an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// Any other file.
    Other,
    /// A safetensors weights file (with a tensor index).
    Safetensors,
    /// `model.safetensors.index.json`: the tensor-to-shard map of a sharded checkpoint.
    SafetensorsIndex,
    /// A GGUF weights file (with a tensor index).
    Gguf,
    /// `config.json`, `generation_config.json` and friends.
    Config,
    /// Tokenizer files.
    Tokenizer,
    /// The model card (`README.md`).
    ModelCard,
    /// The training manifest.
    TrainingManifest,
}

impl FileFormat {
    fn code(self) -> u8 {
        match self {
            FileFormat::Other => 0,
            FileFormat::Safetensors => 1,
            FileFormat::SafetensorsIndex => 2,
            FileFormat::Gguf => 3,
            FileFormat::Config => 4,
            FileFormat::Tokenizer => 5,
            FileFormat::ModelCard => 6,
            FileFormat::TrainingManifest => 7,
        }
    }

    /// The name the manifest's JSON uses (`safetensors`, `gguf`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Other => "other",
            FileFormat::Safetensors => "safetensors",
            FileFormat::SafetensorsIndex => "safetensors-index",
            FileFormat::Gguf => "gguf",
            FileFormat::Config => "config",
            FileFormat::Tokenizer => "tokenizer",
            FileFormat::ModelCard => "model-card",
            FileFormat::TrainingManifest => "training-manifest",
        }
    }

    /// Classifies a file by its path relative to the model directory.
    pub fn classify(rel: &str) -> FileFormat {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".safetensors") {
            FileFormat::Safetensors
        } else if lower.ends_with(".safetensors.index.json") {
            FileFormat::SafetensorsIndex
        } else if lower.ends_with(".gguf") {
            FileFormat::Gguf
        } else if rel == "README.md" {
            FileFormat::ModelCard
        } else if matches!(
            name,
            "tokenizer.json"
                | "tokenizer.model"
                | "tokenizer_config.json"
                | "special_tokens_map.json"
                | "added_tokens.json"
                | "vocab.json"
                | "vocab.txt"
                | "merges.txt"
        ) {
            FileFormat::Tokenizer
        } else if matches!(
            name,
            "config.json"
                | "generation_config.json"
                | "preprocessor_config.json"
                | "adapter_config.json"
        ) {
            FileFormat::Config
        } else {
            FileFormat::Other
        }
    }
}

/// One file of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the model directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 root: what `b3sum` prints for the file.
    pub root: FileRoot,
    /// Leaf size of the commitment.
    pub leaf_size: LeafSize,
    /// Kind of file.
    pub format: FileFormat,
    /// Tensor index (safetensors and GGUF files), in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensors: Vec<TensorInfo>,
}

/// What a model is and claims: its files, lineage, training and card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// Manifest format version.
    pub version: u32,
    /// Files in path-component order.
    pub files: Vec<FileEntry>,
    /// Lineage claims, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<LineageClaim>,
    /// Training manifest, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingManifest>,
    /// Model card metadata.
    #[serde(default, skip_serializing_if = "ModelCard::is_empty")]
    pub card: ModelCard,
}

/// Orders paths by their components, as the OpenSSF model signing library does
/// (`a/b` sorts before `a.txt`).
pub fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Checks a relative path is one modelda can represent portably.
pub(crate) fn check_rel_path(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("empty path");
    }
    if p.starts_with('/') || p.contains('\\') || p.contains('\0') {
        return Err("paths must be relative, '/'-separated and free of '\\' and NUL");
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("paths must not contain empty, '.' or '..' components");
    }
    if p.chars().any(char::is_control) {
        return Err("paths must not contain control characters");
    }
    Ok(())
}

impl ModelManifest {
    /// The version this build writes and reads.
    pub const VERSION: u32 = 1;

    /// A manifest from its parts, normalized: files in path order, lineage
    /// sorted and deduplicated.
    pub fn new(
        mut files: Vec<FileEntry>,
        mut lineage: Vec<LineageClaim>,
        training: Option<TrainingManifest>,
        card: ModelCard,
    ) -> Result<Self> {
        files.sort_by(|a, b| path_order(&a.path, &b.path));
        lineage.sort();
        lineage.dedup();
        let m = ModelManifest {
            version: Self::VERSION,
            files,
            lineage,
            training,
            card,
        };
        m.validate()?;
        Ok(m)
    }

    /// Decodes and validates a manifest from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let m: ModelManifest = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
            reason: e.to_string(),
        })?;
        m.validate()?;
        Ok(m)
    }

    /// Checks the invariants a decoded manifest must hold: the same ones a
    /// manifest made by [`crate::commit_dir`] holds, so a manifest read from
    /// a stranger (a claims bundle, a publication record) is as strict as
    /// one made here. Files are in path order, so paths are unique; paths
    /// are relative, `/`-separated, without `.`, `..` or empty components;
    /// tensors are only in safetensors and GGUF files, named once per file,
    /// in order, inside the file, without overlap, of a dtype the format
    /// defines, and their shape needs exactly their byte length (checked
    /// arithmetic, the rule the header parsers use). Every count fits the
    /// canonical encoding. Runs in time linear in the manifest and
    /// allocates nothing from the numbers it reads.
    pub fn validate(&self) -> Result<()> {
        if self.version != Self::VERSION {
            return Err(Error::UnsupportedVersion {
                what: "manifest",
                found: u64::from(self.version),
                supported: u64::from(Self::VERSION),
            });
        }
        fits_u32(self.files.len(), || "files".into())?;
        fits_u32(self.lineage.len(), || "lineage claims".into())?;
        for w in self.files.windows(2) {
            if path_order(&w[0].path, &w[1].path) != std::cmp::Ordering::Less {
                return Err(Error::FileOrder {
                    first: w[0].path.clone(),
                    second: w[1].path.clone(),
                });
            }
        }
        for f in &self.files {
            f.validate()?;
        }
        for w in self.lineage.windows(2) {
            if w[0] >= w[1] {
                return Err(Error::Manifest {
                    reason: "lineage claims must be sorted and unique".into(),
                });
            }
        }
        if let Some(t) = &self.training {
            fits_u32(t.datasets.len(), || "training datasets".into())?;
            fits_u32(t.hyperparameters.len(), || "hyperparameters".into())?;
            for v in t.hyperparameters.values() {
                if !finite(v) {
                    return Err(Error::Manifest {
                        reason: "hyperparameters must be finite numbers".into(),
                    });
                }
            }
        }
        fits_u32(self.card.base_model.len(), || "card base models".into())?;
        fits_u32(self.card.datasets.len(), || "card datasets".into())?;
        Ok(())
    }

    /// The canonical encoding (see `DESIGN.md`, "Model id").
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Enc(Vec::with_capacity(1024));
        e.0.extend_from_slice(CANONICAL_MAGIC);
        e.u32(self.version);
        e.u32(self.files.len() as u32);
        for f in &self.files {
            e.str(&f.path);
            e.u64(f.size);
            e.0.extend_from_slice(f.root.as_bytes());
            e.0.push(f.leaf_size.log2());
            e.0.push(f.format.code());
            e.u32(f.tensors.len() as u32);
            for t in &f.tensors {
                e.str(&t.name);
                e.str(&t.dtype);
                e.u32(t.shape.len() as u32);
                for d in &t.shape {
                    e.u64(*d);
                }
                e.u64(t.start);
                e.u64(t.end);
                e.0.extend_from_slice(t.blake3.as_bytes());
            }
        }
        e.u32(self.lineage.len() as u32);
        for c in &self.lineage {
            e.0.extend_from_slice(c.parent.as_bytes());
            e.0.push(c.relation.code());
        }
        match &self.training {
            None => e.0.push(0),
            Some(t) => {
                e.0.push(1);
                e.opt_str(t.code_revision.as_deref());
                e.u32(t.datasets.len() as u32);
                for d in &t.datasets {
                    e.str(&d.name);
                    e.0.extend_from_slice(d.root.as_bytes());
                    match d.size {
                        None => e.0.push(0),
                        Some(s) => {
                            e.0.push(1);
                            e.u64(s);
                        }
                    }
                }
                e.u32(t.hyperparameters.len() as u32);
                for (k, v) in &t.hyperparameters {
                    e.str(k);
                    e.value(v);
                }
                e.opt_str(t.notes.as_deref());
            }
        }
        e.u32(self.card.base_model.len() as u32);
        for s in &self.card.base_model {
            e.str(s);
        }
        e.opt_str(self.card.base_model_relation.as_deref());
        e.u32(self.card.datasets.len() as u32);
        for s in &self.card.datasets {
            e.str(s);
        }
        e.opt_str(self.card.license.as_deref());
        e.0
    }

    /// The model id: BLAKE3 of the canonical encoding.
    pub fn id(&self) -> ModelId {
        ModelId::from(blake3::hash(&self.canonical_bytes()))
    }

    /// Total bytes of all files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The entry for `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }
}

impl FileEntry {
    /// Checks one entry: a sane path and a tensor index consistent with the
    /// file (see [`ModelManifest::validate`]).
    pub fn validate(&self) -> Result<()> {
        if let Err(reason) = check_rel_path(&self.path) {
            return Err(Error::ManifestPath {
                path: self.path.clone(),
                reason,
            });
        }
        fits_u32(self.tensors.len(), || format!("tensors of {}", self.path))?;
        let mut names = HashSet::with_capacity(self.tensors.len());
        let mut prev_end = 0;
        for t in &self.tensors {
            if t.start > t.end || t.end > self.size || t.start < prev_end {
                return Err(Error::TensorRange {
                    path: self.path.clone(),
                    tensor: t.name.clone(),
                    start: t.start,
                    end: t.end,
                    file_size: self.size,
                });
            }
            prev_end = t.end;
            if !names.insert(t.name.as_str()) {
                return Err(Error::DuplicateTensor {
                    path: self.path.clone(),
                    tensor: t.name.clone(),
                });
            }
            fits_u32(t.shape.len(), || format!("dimensions of {}", t.name))?;
            let needed = match self.format {
                FileFormat::Safetensors => crate::safetensors::dtype_bits(&t.dtype)
                    .map(|bits| crate::safetensors::tensor_bytes(bits, &t.shape)),
                FileFormat::Gguf => crate::gguf::ggml_type_by_name(&t.dtype)
                    .map(|(block, bytes)| crate::gguf::tensor_bytes(block, bytes, &t.shape)),
                _ => None,
            };
            let Some(needed) = needed else {
                return Err(Error::TensorDtype {
                    path: self.path.clone(),
                    tensor: t.name.clone(),
                    dtype: t.dtype.clone(),
                    format: self.format.as_str(),
                });
            };
            if needed != Some(t.len()) {
                return Err(Error::TensorShape {
                    path: self.path.clone(),
                    tensor: t.name.clone(),
                    dtype: t.dtype.clone(),
                    shape: t.shape.clone(),
                    needed,
                    bytes: t.len(),
                });
            }
        }
        Ok(())
    }
}

/// The canonical encoding writes counts as u32.
fn fits_u32(n: usize, what: impl FnOnce() -> String) -> Result<()> {
    if u32::try_from(n).is_err() {
        return Err(Error::TooMany {
            what: what(),
            found: n as u64,
            limit: u64::from(u32::MAX),
        });
    }
    Ok(())
}

fn finite(v: &HyperValue) -> bool {
    match v {
        HyperValue::Float(f) => f.is_finite(),
        HyperValue::List(l) => l.iter().all(finite),
        _ => true,
    }
}

struct Enc(Vec<u8>);

impl Enc {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
    fn value(&mut self, v: &HyperValue) {
        match v {
            HyperValue::Bool(b) => {
                self.0.push(0);
                self.0.push(u8::from(*b));
            }
            HyperValue::Int(i) => {
                self.0.push(1);
                self.0.extend_from_slice(&i.to_be_bytes());
            }
            HyperValue::Float(f) => {
                self.0.push(2);
                // -0.0 and 0.0 are one value.
                let f = if *f == 0.0 { 0.0f64 } else { *f };
                self.0.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            HyperValue::Str(s) => {
                self.0.push(3);
                self.str(s);
            }
            HyperValue::List(l) => {
                self.0.push(4);
                self.u32(l.len() as u32);
                for v in l {
                    self.value(v);
                }
            }
        }
    }
}
