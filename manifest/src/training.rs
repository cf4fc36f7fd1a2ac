//! Training manifests: what a model was trained on, with what code and settings.
//!
//! The file is TOML (see `DESIGN.md`, "Training manifest"):
//!
//! ```toml
//! version = 1
//! code_revision = "git+https://example.org/trainer@3f2a9c1"
//! notes = "free-form text"
//!
//! [[dataset]]
//! name = "instructions"
//! path = "data/train.jsonl"   # relative to this file; hashed when committing
//!
//! [[dataset]]
//! name = "public-corpus"
//! root = "<64-hex BLAKE3 root>"
//! size = 123456               # optional
//!
//! [[parent]]
//! model_id = "<64-hex model id>"
//! relation = "finetune"
//!
//! [hyperparameters]
//! learning_rate = 2e-5
//! optimizer = { name = "adamw", betas = [0.9, 0.95] }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use modelda_merkle::FileRoot;
use serde::{Deserialize, Serialize};

use crate::{Error, LineageClaim, ModelId, Relation, Result};

/// A hyperparameter value. Nested tables are flattened to dotted keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HyperValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// A string (TOML dates are kept as their text).
    Str(String),
    /// A list of values.
    List(Vec<HyperValue>),
}

/// A dataset the model was trained on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Human name of the dataset.
    pub name: String,
    /// BLAKE3 root of the dataset file.
    pub root: FileRoot,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The committed form of a training manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingManifest {
    /// Revision of the training code (a VCS URL and commit, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_revision: Option<String>,
    /// Datasets, in the order the file lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<Dataset>,
    /// Hyperparameters by (dotted) name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hyperparameters: BTreeMap<String, HyperValue>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<u32>,
    code_revision: Option<String>,
    notes: Option<String>,
    #[serde(default)]
    dataset: Vec<RawDataset>,
    #[serde(default)]
    parent: Vec<RawParent>,
    #[serde(default)]
    hyperparameters: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    name: String,
    path: Option<String>,
    root: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParent {
    model_id: String,
    relation: Option<String>,
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, HyperValue>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out)?,
            v => {
                out.insert(key.clone(), convert(&key, v)?);
            }
        }
    }
    Ok(())
}

fn convert(key: &str, v: &toml::Value) -> Result<HyperValue, String> {
    Ok(match v {
        toml::Value::Boolean(b) => HyperValue::Bool(*b),
        toml::Value::Integer(i) => HyperValue::Int(*i),
        toml::Value::Float(f) if f.is_finite() => HyperValue::Float(*f),
        toml::Value::Float(_) => {
            return Err(format!("hyperparameter {key:?} is not a finite number"))
        }
        toml::Value::String(s) => HyperValue::Str(s.clone()),
        toml::Value::Datetime(d) => HyperValue::Str(d.to_string()),
        toml::Value::Array(a) => HyperValue::List(
            a.iter()
                .map(|v| convert(key, v))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(_) => {
            return Err(format!(
                "hyperparameter {key:?}: tables inside lists are not supported"
            ))
        }
    })
}

/// Reads the training manifest at `path`, hashing datasets given by path
/// (relative to the manifest's directory). Returns it with the lineage claims
/// its `[[parent]]` entries make.
pub fn load(path: &Path) -> Result<(TrainingManifest, Vec<LineageClaim>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(path, &text, |rel| {
        let p = base.join(rel);
        let mut h = blake3::Hasher::new();
        h.update_mmap_rayon(&p).map_err(|e| Error::io(&p, e))?;
        let size = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
        Ok((FileRoot::from(h.finalize()), size))
    })
}

/// Parses training manifest text; `hash` commits to a dataset given by path.
pub fn parse(
    path: &Path,
    text: &str,
    mut hash: impl FnMut(&str) -> Result<(FileRoot, u64)>,
) -> Result<(TrainingManifest, Vec<LineageClaim>)> {
    let bad = |reason: String| Error::Training {
        path: path.to_path_buf(),
        reason,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    if let Some(v) = raw.version {
        if v != 1 {
            return Err(bad(format!(
                "version {v} is not supported; this build reads version 1"
            )));
        }
    }
    let mut datasets = Vec::with_capacity(raw.dataset.len());
    for d in raw.dataset {
        let (root, size) = match (&d.path, &d.root) {
            (Some(p), None) => {
                let (root, size) = hash(p)?;
                (root, Some(size))
            }
            (None, Some(r)) => (
                r.parse::<FileRoot>().map_err(|_| {
                    bad(format!("dataset {:?}: root must be 64 hex digits", d.name))
                })?,
                d.size,
            ),
            _ => {
                return Err(bad(format!(
                    "dataset {:?}: give exactly one of `path` or `root`",
                    d.name
                )))
            }
        };
        datasets.push(Dataset {
            name: d.name,
            root,
            size,
        });
    }
    let mut hyperparameters = BTreeMap::new();
    flatten("", &raw.hyperparameters, &mut hyperparameters).map_err(bad)?;
    let mut parents = Vec::with_capacity(raw.parent.len());
    for p in raw.parent {
        let parent = p.model_id.parse::<ModelId>().map_err(|_| {
            bad(format!(
                "parent model_id {:?} must be 64 hex digits",
                p.model_id
            ))
        })?;
        let relation = match p.relation {
            Some(r) => r.parse::<Relation>().map_err(|e| bad(e.to_string()))?,
            None => Relation::Finetune,
        };
        parents.push(LineageClaim { parent, relation });
    }
    Ok((
        TrainingManifest {
            code_revision: raw.code_revision,
            datasets,
            hyperparameters,
            notes: raw.notes,
        },
        parents,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &str) -> Result<(FileRoot, u64)> {
        Ok((FileRoot::from(blake3::hash(b"data")), 4))
    }

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
version = 1
code_revision = "git+https://example.org/trainer@3f2a9c1"
notes = "hi"
[[dataset]]
name = "a"
path = "data/train.jsonl"
[[dataset]]
name = "b"
root = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
[[parent]]
model_id = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
relation = "quantized"
[hyperparameters]
learning_rate = 2e-5
optimizer = { name = "adamw", betas = [0.9, 0.95] }
"#;
        let (t, parents) = parse(Path::new("t.toml"), text, no_files).unwrap();
        assert_eq!(t.datasets.len(), 2);
        assert_eq!(t.datasets[0].size, Some(4));
        assert_eq!(parents[0].relation, Relation::Quantized);
        assert_eq!(
            t.hyperparameters["optimizer.name"],
            HyperValue::Str("adamw".into())
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<TrainingManifest>(&json).unwrap(), t);
    }

    #[test]
    fn rejects_malformed_manifests() {
        let p = Path::new("t.toml");
        for text in [
            "version = 2",
            "[[dataset]]\nname = \"a\"",
            "[[dataset]]\nname = \"a\"\nroot = \"zz\"",
            "[[parent]]\nmodel_id = \"00\"",
            "unknown_key = 1",
            "[hyperparameters]\nx = nan",
            "not toml at all [",
        ] {
            assert!(parse(p, text, no_files).is_err(), "{text}");
        }
    }
}
