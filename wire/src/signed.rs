//! Reading a model's bytes by its signed claims, with no I/O: what a
//! prover needs to fetch leaves by commitment from anyone (a node's
//! `/chunks`, a mirror, a cache) and trust only the signature.
//!
//! [`SignedModel::open`] checks the claims bundle (the signature with a
//! pinned key, or with the key the claims carry; the model id as the hash
//! of the manifest; every file's leaf chaining values against its root).
//! [`SignedModel::read`] plans the read of a byte range of a file, or of a
//! tensor: the leaves that hold it, each named by the commitment to fetch
//! it by. The caller fetches them, in order, and hands each to
//! [`RangeRead::leaf`], which checks it against its chaining value before
//! saying which of its bytes belong to the range. [`RangeRead::finish`]
//! checks a tensor's bytes against the signed tensor hash.
//!
//! ```text
//! let model = SignedModel::open(claims_json, pinned)?;
//! let mut read = model.read_tensor(None, "lm_head.weight")?;
//! while let Some((index, commitment)) = read.next_leaf() {
//!     let bytes = get(format!("/chunks/{commitment}"))?;   // the caller's I/O
//!     let within = read.leaf(index, &bytes)?;              // checked
//!     out.extend_from_slice(&bytes[within]);
//! }
//! read.finish()?;
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use blake3::hazmat::HasherExt as _;
use modelda_manifest::sign::{ClaimsPredicate, PublicKey};
use modelda_manifest::verify::open_claims;
use modelda_manifest::{FileEntry, ModelId, ModelManifest, TensorInfo};
use modelda_merkle::{leaf_cv, Commitment};

use crate::record::MAX_RECORD_BYTES;
use crate::{Error, Result};

/// Bytes from which a leaf or a tensor's part is hashed on every core
/// (BLAKE3 gains from threads past about 128 KiB).
const PARALLEL_BYTES: usize = 256 << 10;

/// [`leaf_cv`], on every core for a leaf of [`PARALLEL_BYTES`] or more
/// (what the Python client waits on, with the GIL released).
fn leaf_cv_threaded(leaf_size: modelda_merkle::LeafSize, index: u64, bytes: &[u8]) -> [u8; 32] {
    if bytes.len() < PARALLEL_BYTES {
        return *leaf_cv(leaf_size, index, bytes).as_bytes();
    }
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index << leaf_size.log2());
    h.update_rayon(bytes);
    h.finalize_non_root()
}

/// A model's signed claims, checked.
#[derive(Debug)]
pub struct SignedModel {
    claims: ClaimsPredicate,
    key: PublicKey,
    pinned: bool,
    /// Each file's commitment (files of two or more leaves), checked
    /// against its root when the model was opened.
    commitments: BTreeMap<String, Commitment>,
}

impl SignedModel {
    /// Checks a claims bundle (Sigstore bundle JSON, exactly as signed):
    /// its signature with `pinned`, or with the key the claims carry when
    /// none is pinned (integrity, not identity); the model id as the hash
    /// of the manifest; every file's leaves against its root. A pinned key
    /// that is not the signer's is [`Error::KeyMismatch`].
    pub fn open(claims_json: &[u8], pinned: Option<&PublicKey>) -> Result<Self> {
        let label = Path::new("claims");
        if claims_json.len() > MAX_RECORD_BYTES {
            return Err(Error::Claims {
                cause: Box::new(modelda_manifest::Error::Bundle {
                    path: label.to_path_buf(),
                    reason: format!("larger than {MAX_RECORD_BYTES} bytes"),
                }),
            });
        }
        let (claims, key) = match open_claims(label, claims_json, pinned) {
            Ok(opened) => opened,
            Err(cause) => {
                // Say "another key" rather than "bad signature" when the
                // claims check out with the key they carry.
                if let Some(pinned) = pinned {
                    if let Ok((_, signer)) = open_claims(label, claims_json, None) {
                        return Err(Error::KeyMismatch {
                            pinned: pinned.hint(),
                            signer: signer.hint(),
                        });
                    }
                }
                return Err(Error::Claims {
                    cause: Box::new(cause),
                });
            }
        };
        let mut commitments = BTreeMap::new();
        for f in &claims.manifest.files {
            let c = claims.commitment(f).map_err(|cause| Error::Claims {
                cause: Box::new(cause),
            })?;
            if let Some(c) = c {
                commitments.insert(f.path.clone(), c);
            }
        }
        Ok(SignedModel {
            claims,
            key,
            pinned: pinned.is_some(),
            commitments,
        })
    }

    /// The model id.
    pub fn model_id(&self) -> ModelId {
        self.claims.model_id
    }

    /// The signed manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.claims.manifest
    }

    /// The key that signed the claims.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Whether that key was pinned by the caller (otherwise it is the key
    /// the claims carry).
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// The file at `path`.
    pub fn file(&self, path: &str) -> Result<&FileEntry> {
        self.claims
            .manifest
            .files
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| Error::NotInManifest {
                what: "file",
                name: path.to_string(),
            })
    }

    /// The tensor `name`: in `file` when given, otherwise in the first file
    /// holding one of that name.
    pub fn tensor(&self, file: Option<&str>, name: &str) -> Result<(&FileEntry, &TensorInfo)> {
        let files: Vec<&FileEntry> = match file {
            Some(path) => vec![self.file(path)?],
            None => self.claims.manifest.files.iter().collect(),
        };
        files
            .into_iter()
            .find_map(|f| f.tensors.iter().find(|t| t.name == name).map(|t| (f, t)))
            .ok_or_else(|| Error::NotInManifest {
                what: "tensor",
                name: name.to_string(),
            })
    }

    /// Plans the read of the whole file at `path`.
    pub fn read_file(&self, path: &str) -> Result<RangeRead> {
        let f = self.file(path)?;
        self.read(f, 0..f.size, None)
    }

    /// Plans the read of tensor `name` (see [`SignedModel::tensor`]).
    pub fn read_tensor(&self, file: Option<&str>, name: &str) -> Result<RangeRead> {
        let (f, t) = self.tensor(file, name)?;
        self.read(f, t.start..t.end, Some(t))
    }

    /// Plans the read of bytes `range` of the file at `path`.
    pub fn read_range(&self, path: &str, range: Range<u64>) -> Result<RangeRead> {
        let f = self.file(path)?;
        self.read(f, range, None)
    }

    /// Plans the read of `range` of file `f` (an entry of this manifest).
    fn read(
        &self,
        f: &FileEntry,
        range: Range<u64>,
        tensor: Option<&TensorInfo>,
    ) -> Result<RangeRead> {
        if range.start > range.end || range.end > f.size {
            return Err(Error::NotInManifest {
                what: "byte range",
                name: format!(
                    "{}..{} of {:?} ({} bytes)",
                    range.start, range.end, f.path, f.size
                ),
            });
        }
        let ls = f.leaf_size;
        let leaves = if range.is_empty() {
            0..0
        } else {
            ls.leaves_of(f.size, range.clone())
                .map_err(|e| Error::NotInManifest {
                    what: "byte range",
                    name: e.to_string(),
                })?
        };
        // A file of one leaf is committed by its root, the hash of its
        // bytes; others by their leaves' chaining values.
        let cvs: Vec<[u8; 32]> = match self.commitments.get(&f.path) {
            Some(c) => c.leaves()[leaves.start as usize..leaves.end as usize]
                .iter()
                .map(|cv| *cv.as_bytes())
                .collect(),
            None => leaves.clone().map(|_| *f.root.as_bytes()).collect(),
        };
        Ok(RangeRead {
            path: f.path.clone(),
            size: f.size,
            leaf_size: ls,
            single: !self.commitments.contains_key(&f.path),
            range,
            leaves,
            cvs,
            next: 0,
            tensor: tensor.map(|t| (t.name.clone(), *t.blake3.as_bytes())),
            hasher: blake3::Hasher::new(),
        })
    }
}

/// The read of a byte range, leaf by leaf, each checked before its bytes
/// are used (see the module docs).
#[derive(Debug)]
pub struct RangeRead {
    path: String,
    size: u64,
    leaf_size: modelda_merkle::LeafSize,
    single: bool,
    range: Range<u64>,
    leaves: Range<u64>,
    cvs: Vec<[u8; 32]>,
    next: usize,
    tensor: Option<(String, [u8; 32])>,
    hasher: blake3::Hasher,
}

impl RangeRead {
    /// The file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The byte range of the file being read.
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// Every leaf to read, in order: its index in the file and the
    /// commitment to fetch it by (hex: a leaf chaining value, or the root
    /// of a file of one leaf).
    pub fn leaves(&self) -> Vec<(u64, String)> {
        self.leaves
            .clone()
            .zip(&self.cvs)
            .map(|(i, c)| (i, hex::encode(c)))
            .collect()
    }

    /// The next leaf to read, or `None` when all are in.
    pub fn next_leaf(&self) -> Option<(u64, String)> {
        self.cvs
            .get(self.next)
            .map(|c| (self.leaves.start + self.next as u64, hex::encode(c)))
    }

    /// Takes leaf `index`'s bytes (they must be the next leaf) and checks
    /// them against their commitment. Returns the part of `bytes` that
    /// falls in the range being read.
    pub fn leaf(&mut self, index: u64, bytes: &[u8]) -> Result<Range<usize>> {
        let Some(want) = self.cvs.get(self.next) else {
            return Err(self.mismatch(index, "every leaf of the range was already read".into()));
        };
        let expected = self.leaves.start + self.next as u64;
        if index != expected {
            return Err(self.mismatch(
                index,
                format!("leaves are read in order; leaf {expected} is next"),
            ));
        }
        let span = self.leaf_size.leaf_bytes(self.size, index);
        let len = (span.end - span.start) as usize;
        if bytes.len() != len {
            return Err(self.mismatch(
                index,
                format!("{} bytes were given; the leaf has {len}", bytes.len()),
            ));
        }
        let got = if self.single {
            *blake3::hash(bytes).as_bytes()
        } else {
            leaf_cv_threaded(self.leaf_size, index, bytes)
        };
        if &got != want {
            return Err(self.mismatch(
                index,
                "its bytes do not hash to the signed commitment: the source sent altered bytes"
                    .into(),
            ));
        }
        let lo = self.range.start.max(span.start) - span.start;
        let hi = self.range.end.min(span.end) - span.start;
        let within = lo as usize..hi as usize;
        if self.tensor.is_some() {
            let part = &bytes[within.clone()];
            if part.len() >= PARALLEL_BYTES {
                self.hasher.update_rayon(part);
            } else {
                self.hasher.update(part);
            }
        }
        self.next += 1;
        Ok(within)
    }

    /// Ends the read: every leaf was read, and a tensor's bytes hash to the
    /// signed tensor hash.
    pub fn finish(self) -> Result<()> {
        if self.next < self.cvs.len() {
            let index = self.leaves.start + self.next as u64;
            return Err(self.mismatch(index, "the read ended before this leaf".into()));
        }
        if let Some((name, want)) = &self.tensor {
            if self.hasher.finalize().as_bytes() != want {
                return Err(Error::TensorMismatch {
                    path: self.path.clone(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    fn mismatch(&self, leaf: u64, reason: String) -> Error {
        Error::LeafMismatch {
            path: self.path.clone(),
            leaf,
            reason,
        }
    }
}

#[cfg(test)]
mod tests;
