//! Verifying a signed model directory: re-hash every file and check both
//! signatures, naming the file, tensor or leaf that differs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_merkle::LeafCv;
use serde::Serialize;

use crate::commit::{commit_file, scan_dir, CLAIMS_SIGNATURE_NAME, OMS_SIGNATURE_NAME};
use crate::sign::{
    oms_resources, oms_root_digest, Bundle, ClaimsPredicate, OmsHash, OmsPredicate, PublicKey,
    Statement, CLAIMS_PREDICATE_TYPE, OMS_PREDICATE_TYPE, STATEMENT_TYPE,
};
use crate::{Error, ModelId, Progress, Result};

/// One difference between the signed model and the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mismatch {
    /// A signed file is missing.
    MissingFile {
        /// The file.
        path: String,
    },
    /// A file is present but was not signed.
    UnsignedFile {
        /// The file.
        path: String,
    },
    /// A file's size differs.
    Size {
        /// The file.
        path: String,
        /// Signed size.
        signed: u64,
        /// Size now.
        actual: u64,
    },
    /// A tensor's bytes differ.
    Tensor {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
        /// Its byte range.
        start: u64,
        /// End of the byte range.
        end: u64,
    },
    /// A leaf's bytes differ.
    Leaf {
        /// The file.
        path: String,
        /// Leaf index.
        leaf: u64,
        /// Its byte range.
        start: u64,
        /// End of the byte range.
        end: u64,
    },
    /// A file's content differs (no finer location known).
    Content {
        /// The file.
        path: String,
    },
    /// An OMS resource digest differs.
    OmsDigest {
        /// The file.
        path: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::MissingFile { path } => write!(f, "{path}: signed file is missing"),
            Mismatch::UnsignedFile { path } => {
                write!(f, "{path}: file is not covered by the signature")
            }
            Mismatch::Size {
                path,
                signed,
                actual,
            } => write!(f, "{path}: size is {actual} bytes, signed {signed}"),
            Mismatch::Tensor {
                path,
                tensor,
                start,
                end,
            } => {
                write!(
                    f,
                    "{path}: tensor {tensor:?} (bytes {start}..{end}) differs"
                )
            }
            Mismatch::Leaf {
                path,
                leaf,
                start,
                end,
            } => write!(f, "{path}: leaf {leaf} (bytes {start}..{end}) differs"),
            Mismatch::Content { path } => write!(f, "{path}: content differs"),
            Mismatch::OmsDigest { path } => {
                write!(f, "{path}: digest in the OpenSSF model signature differs")
            }
        }
    }
}

/// What [`verify_dir`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The signed model id.
    pub model_id: ModelId,
    /// Hint of the key both bundles were signed with.
    pub key_hint: String,
    /// Whether the key was given by the caller (pinned) rather than read from the claims.
    pub key_pinned: bool,
    /// Files checked.
    pub files: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Hash type of the OMS bundle.
    pub oms_hash: String,
    /// Differences; empty when the model verifies.
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Options of [`verify_dir`].
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Public key to require. Default: the key in the claims, reported unpinned.
    pub key: Option<PathBuf>,
    /// OMS bundle. Default: `DIR/model.sig`.
    pub oms: Option<PathBuf>,
    /// Claims bundle. Default: `DIR/model.claims.sig`.
    pub claims: Option<PathBuf>,
    /// Public key to require, already read (used when `key` is unset).
    /// Default: none.
    pub public_key: Option<PublicKey>,
    /// Whether a directory without the OMS bundle verifies by its claims
    /// alone (what a client that downloaded files and claims has). The
    /// report's `oms_hash` is then empty. Default: false (the bundle is
    /// required).
    pub oms_optional: bool,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Opens a claims bundle (`bytes`, read from `path`): checks its signature
/// with `pinned`, or with the key the claims carry when none is pinned, and
/// checks the claims with [`ClaimsPredicate::validate`] (a strict manifest,
/// the model id its hash, leaf counts that match the file sizes). Returns
/// the claims and the key that signed them.
pub fn open_claims(
    path: &Path,
    bytes: &[u8],
    pinned: Option<&PublicKey>,
) -> Result<(ClaimsPredicate, PublicKey)> {
    let bundle = Bundle::from_json(path, bytes)?;
    let bad_claims = |reason: String| Error::Bundle {
        path: path.to_path_buf(),
        reason,
    };
    let key = match pinned {
        Some(k) => k.clone(),
        None => {
            let payload = bundle.payload(path)?;
            let st: Statement<ClaimsPredicate> = serde_json::from_slice(&payload)
                .map_err(|e| bad_claims(format!("statement: {e}")))?;
            PublicKey::from_pem(path, &st.predicate.public_key)?
        }
    };
    let payload = bundle.verify(path, &key)?;
    let st: Statement<ClaimsPredicate> =
        serde_json::from_slice(&payload).map_err(|e| bad_claims(format!("statement: {e}")))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != CLAIMS_PREDICATE_TYPE {
        return Err(bad_claims(format!(
            "not a modelda claims statement ({})",
            st.predicate_type
        )));
    }
    let claims = st.predicate;
    claims.validate()?;
    let id = claims.model_id;
    if st.subject.first().and_then(|s| s.digest.get("blake3")) != Some(&id.to_hex()) {
        return Err(bad_claims(format!(
            "the statement's subject is not model {id}, the model its manifest hashes to"
        )));
    }
    Ok((claims, key))
}

/// Verifies a signed model directory. Signature and format errors are `Err`;
/// content differences are listed in the report.
pub fn verify_dir(dir: &Path, opts: &VerifyOptions, progress: &dyn Progress) -> Result<Report> {
    let claims_path = opts
        .claims
        .clone()
        .unwrap_or_else(|| dir.join(CLAIMS_SIGNATURE_NAME));
    let oms_path = opts
        .oms
        .clone()
        .unwrap_or_else(|| dir.join(OMS_SIGNATURE_NAME));
    let pinned_key = match &opts.key {
        Some(path) => Some(PublicKey::load(path)?),
        None => opts.public_key.clone(),
    };
    let (claims, key) = open_claims(&claims_path, &read(&claims_path)?, pinned_key.as_ref())?;
    let pinned = pinned_key.is_some();
    let id = claims.model_id;
    let bad_claims = |reason: String| Error::Bundle {
        path: claims_path.clone(),
        reason,
    };

    // Re-hash the directory.
    let found = scan_dir(dir)?;
    progress.start(found.iter().map(|f| f.size).sum());
    let signed: BTreeMap<&str, &crate::FileEntry> = claims
        .manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut mismatches = Vec::new();
    let mut roots = BTreeMap::new();
    let mut bytes = 0;
    for f in &found {
        let Some(entry) = signed.get(f.rel.as_str()) else {
            mismatches.push(Mismatch::UnsignedFile {
                path: f.rel.clone(),
            });
            continue;
        };
        let with_tensors = !entry.tensors.is_empty();
        let c = match commit_file(f, entry.leaf_size, with_tensors, progress) {
            Ok(c) => c,
            // A header that no longer parses is a content difference.
            Err(Error::Safetensors { .. } | Error::Gguf { .. }) => {
                commit_file(f, entry.leaf_size, false, progress)?
            }
            Err(e) => return Err(e),
        };
        bytes += f.size;
        roots.insert(f.rel.clone(), c.entry.root);
        if c.entry.size != entry.size {
            mismatches.push(Mismatch::Size {
                path: f.rel.clone(),
                signed: entry.size,
                actual: c.entry.size,
            });
        }
        if c.entry.root == entry.root {
            continue;
        }
        let before = mismatches.len();
        let now: BTreeMap<&str, &crate::TensorInfo> = c
            .entry
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        for t in &entry.tensors {
            if now
                .get(t.name.as_str())
                .is_none_or(|n| n.blake3 != t.blake3 || n.start != t.start || n.end != t.end)
            {
                mismatches.push(Mismatch::Tensor {
                    path: f.rel.clone(),
                    tensor: t.name.clone(),
                    start: t.start,
                    end: t.end,
                });
            }
        }
        if let Some(b64) = claims.leaves.get(&f.rel) {
            let raw = B64
                .decode(b64)
                .map_err(|e| bad_claims(format!("leaves of {}: {e}", f.rel)))?;
            let signed_leaves: Vec<LeafCv> = raw
                .chunks_exact(32)
                .map(|c| LeafCv::from_bytes(c.try_into().expect("32 bytes")))
                .collect();
            let ls = entry.leaf_size;
            for (i, now) in c.commitment.leaves().iter().enumerate() {
                if signed_leaves.get(i) != Some(now) {
                    let r = ls.leaf_bytes(c.entry.size, i as u64);
                    mismatches.push(Mismatch::Leaf {
                        path: f.rel.clone(),
                        leaf: i as u64,
                        start: r.start,
                        end: r.end,
                    });
                }
            }
        }
        if mismatches.len() == before {
            mismatches.push(Mismatch::Content {
                path: f.rel.clone(),
            });
        }
    }
    let present: BTreeSet<&str> = found.iter().map(|f| f.rel.as_str()).collect();
    for path in signed.keys() {
        if !present.contains(path) {
            mismatches.push(Mismatch::MissingFile {
                path: path.to_string(),
            });
        }
    }

    // The OpenSSF model signature.
    if opts.oms_optional && opts.oms.is_none() && !oms_path.exists() {
        return Ok(Report {
            model_id: id,
            key_hint: key.hint(),
            key_pinned: pinned,
            files: found.len(),
            bytes,
            oms_hash: String::new(),
            mismatches,
        });
    }
    let oms_bundle = Bundle::from_json(&oms_path, &read(&oms_path)?)?;
    let payload = oms_bundle.verify(&oms_path, &key)?;
    let bad_oms = |reason: String| Error::Bundle {
        path: oms_path.clone(),
        reason,
    };
    let st: Statement<OmsPredicate> =
        serde_json::from_slice(&payload).map_err(|e| bad_oms(format!("statement: {e}")))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != OMS_PREDICATE_TYPE {
        return Err(bad_oms(format!(
            "not an OpenSSF model signature ({})",
            st.predicate_type
        )));
    }
    let hash: OmsHash = st
        .predicate
        .serialization
        .hash_type
        .parse()
        .map_err(|e: Error| bad_oms(e.to_string()))?;
    let root = oms_root_digest(&st.predicate.resources).map_err(|e| bad_oms(e.to_string()))?;
    if st.subject.len() != 1 || st.subject[0].digest.get("sha256") != Some(&root) {
        return Err(bad_oms(
            "subject digest does not match the resources".into(),
        ));
    }
    let mut files: Vec<_> = found
        .iter()
        .map(|f| (f.rel.clone(), f.path.clone(), roots.get(&f.rel).copied()))
        .collect();
    let claims_in_dir =
        claims_path.parent().map(|p| p.canonicalize().ok()) == Some(dir.canonicalize().ok());
    if claims_in_dir {
        files.push((CLAIMS_SIGNATURE_NAME.to_string(), claims_path.clone(), None));
    }
    let now: BTreeMap<String, String> = oms_resources(&files, hash)?
        .into_iter()
        .map(|r| (r.name, r.digest))
        .collect();
    for r in &st.predicate.resources {
        match now.get(&r.name) {
            None => {
                if !mismatches
                    .iter()
                    .any(|m| matches!(m, Mismatch::MissingFile { path } if path == &r.name))
                {
                    mismatches.push(Mismatch::MissingFile {
                        path: r.name.clone(),
                    });
                }
            }
            Some(d) if d != &r.digest || r.algorithm != hash.as_str() => {
                if signed.contains_key(r.name.as_str())
                    && roots.get(&r.name) != signed.get(r.name.as_str()).map(|e| &e.root)
                {
                    continue; // already reported with a finer location
                }
                mismatches.push(Mismatch::OmsDigest {
                    path: r.name.clone(),
                });
            }
            Some(_) => {}
        }
    }
    let listed: BTreeSet<&str> = st
        .predicate
        .resources
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    for name in now.keys() {
        if !listed.contains(name.as_str())
            && !mismatches
                .iter()
                .any(|m| matches!(m, Mismatch::UnsignedFile { path } if path == name))
        {
            mismatches.push(Mismatch::UnsignedFile { path: name.clone() });
        }
    }
    Ok(Report {
        model_id: id,
        key_hint: key.hint(),
        key_pinned: pinned,
        files: found.len(),
        bytes,
        oms_hash: hash.as_str().into(),
        mismatches,
    })
}
