//! The OpenSSF Model Signing v1.0 statement: its predicate, the file
//! digests it lists, and their root digest.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::bundle::{Statement, Subject};
use super::{OMS_PREDICATE_TYPE, STATEMENT_TYPE};
use crate::commit::{IGNORED_ROOT_NAMES, OMS_SIGNATURE_NAME};
use crate::{Error, Result};

/// File hash used in an OMS manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OmsHash {
    /// BLAKE3: the files' roots, as committed. Verified by the `model_signing`
    /// Python API; its 1.1 CLI re-hashes with SHA-256 only.
    #[default]
    Blake3,
    /// SHA-256: accepted by `model_signing verify key` on the command line.
    Sha256,
}

impl OmsHash {
    /// The name OMS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            OmsHash::Blake3 => "blake3",
            OmsHash::Sha256 => "sha256",
        }
    }
}

impl std::str::FromStr for OmsHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "blake3" => Ok(OmsHash::Blake3),
            "sha256" => Ok(OmsHash::Sha256),
            _ => Err(Error::UnknownOmsHash { name: s.into() }),
        }
    }
}

/// The OMS predicate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OmsPredicate {
    /// How the model was serialized for hashing.
    pub serialization: OmsSerialization,
    /// One entry per file.
    pub resources: Vec<OmsResource>,
}

/// OMS serialization parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OmsSerialization {
    /// Always `files`.
    pub method: String,
    /// `blake3` or `sha256`.
    pub hash_type: String,
    /// Whether symlinks were followed.
    pub allow_symlinks: bool,
    /// Paths ignored, relative to the model directory.
    #[serde(default)]
    pub ignore_paths: Vec<String>,
}

/// One file of an OMS manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OmsResource {
    /// Path relative to the model directory.
    pub name: String,
    /// Hash algorithm.
    pub algorithm: String,
    /// Lowercase hex digest.
    pub digest: String,
}

/// The OMS subject digest: SHA-256 over the raw resource digests, in order.
pub fn oms_root_digest(resources: &[OmsResource]) -> Result<String> {
    let mut h = Sha256::new();
    for r in resources {
        let raw = hex::decode(&r.digest).map_err(|_| Error::OmsDigest {
            resource: r.name.clone(),
        })?;
        h.update(&raw);
    }
    Ok(hex::encode(h.finalize()))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Builds the OMS statement payload over `resources` (already in path order).
pub fn oms_payload(
    name: &str,
    hash: OmsHash,
    allow_symlinks: bool,
    ignore_paths: Vec<String>,
    resources: Vec<OmsResource>,
) -> Vec<u8> {
    let root = oms_root_digest(&resources).expect("digests we computed are hex");
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: name.to_string(),
            digest: BTreeMap::from([("sha256".to_string(), root)]),
        }],
        predicate_type: OMS_PREDICATE_TYPE.into(),
        predicate: OmsPredicate {
            serialization: OmsSerialization {
                method: "files".into(),
                hash_type: hash.as_str().into(),
                allow_symlinks,
                ignore_paths,
            },
            resources,
        },
    };
    serde_json::to_vec(&st).expect("statements always serialize")
}

/// The OMS `ignore_paths` for a model directory: git files and the signature.
pub fn default_ignore_paths() -> Vec<String> {
    let mut v = vec![OMS_SIGNATURE_NAME.to_string()];
    v.extend(IGNORED_ROOT_NAMES.iter().map(|s| s.to_string()));
    v
}

/// Digests of files for an OMS manifest: the committed roots for BLAKE3, or
/// SHA-256 computed in parallel.
pub fn oms_resources(
    files: &[(String, PathBuf, Option<modelda_merkle::FileRoot>)],
    hash: OmsHash,
) -> Result<Vec<OmsResource>> {
    files
        .par_iter()
        .map(|(rel, path, root)| {
            let digest = match (hash, root) {
                (OmsHash::Blake3, Some(r)) => r.to_hex(),
                (OmsHash::Blake3, None) => {
                    let mut h = blake3::Hasher::new();
                    h.update_mmap_rayon(path).map_err(|e| Error::io(path, e))?;
                    h.finalize().to_hex().to_string()
                }
                (OmsHash::Sha256, _) => sha256_file(path)?,
            };
            Ok(OmsResource {
                name: rel.clone(),
                algorithm: hash.as_str().into(),
                digest,
            })
        })
        .collect()
}
