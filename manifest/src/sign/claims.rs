//! The modelda claims statement: model id, manifest, leaf chaining values
//! and key, and its validation.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::bundle::{Statement, Subject};
use super::key::PublicKey;
use super::{CLAIMS_PREDICATE_TYPE, STATEMENT_TYPE};
use crate::{CommittedModel, Error, ModelId, ModelManifest, Result};

/// The predicate of the modelda claims statement.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsPredicate {
    /// The model id.
    pub model_id: ModelId,
    /// The full manifest (files, tensors, lineage, training, card).
    pub manifest: ModelManifest,
    /// Leaf chaining values of each file of two or more leaves: base64 of the
    /// concatenated 32-byte values. Lets `verify` name the leaf that differs.
    #[serde(default)]
    pub leaves: BTreeMap<String, String>,
    /// The signer's public key (PEM), so a verifier without the key can still
    /// check integrity; trust comes from pinning the key.
    pub public_key: String,
}

impl ClaimsPredicate {
    /// Checks the claims as strictly as [`crate::commit_dir`] makes them,
    /// without any signature: the manifest is valid
    /// ([`ModelManifest::validate`]), the model id is its hash, and leaf
    /// chaining values are listed for exactly the files of two or more
    /// leaves, as many as each file's size implies. Counts are compared
    /// against the bytes present before anything is decoded, so a file
    /// claiming 2^62 bytes is refused without allocating for its leaves.
    /// Whether the leaves hash to each root is checked by
    /// [`Self::commitment`].
    pub fn validate(&self) -> Result<()> {
        self.manifest.validate()?;
        let computed = self.manifest.id();
        if computed != self.model_id {
            return Err(Error::ModelIdMismatch {
                claimed: self.model_id,
                computed,
            });
        }
        // Files are in path order (checked above), so each lookup is a
        // binary search.
        let entry = |path: &str| {
            self.manifest
                .files
                .binary_search_by(|f| crate::path_order(&f.path, path))
                .ok()
                .map(|i| &self.manifest.files[i])
        };
        for path in self.leaves.keys() {
            if entry(path).is_none_or(|e| e.leaf_size.leaf_count(e.size) < 2) {
                return Err(Error::UnexpectedLeaves { path: path.clone() });
            }
        }
        for e in &self.manifest.files {
            let expected = e.leaf_size.leaf_count(e.size);
            if expected < 2 {
                continue;
            }
            let found = match self.leaves.get(&e.path) {
                None => 0,
                Some(b64) => leaf_count_of_base64(b64).ok_or_else(|| Error::LeafEncoding {
                    path: e.path.clone(),
                })?,
            };
            if found != expected {
                return Err(leaf_count_error(e, found));
            }
        }
        Ok(())
    }

    /// The signed commitment of `entry`: its leaf chaining values, checked
    /// against its size and root, for a file of two or more leaves; `None`
    /// for smaller files (their root is their only leaf's hash). The count
    /// is checked before the values are decoded.
    pub fn commitment(
        &self,
        entry: &crate::FileEntry,
    ) -> Result<Option<modelda_merkle::Commitment>> {
        let expected = entry.leaf_size.leaf_count(entry.size);
        if expected < 2 {
            return Ok(None);
        }
        let Some(b64) = self.leaves.get(&entry.path) else {
            return Err(leaf_count_error(entry, 0));
        };
        let encoding = || Error::LeafEncoding {
            path: entry.path.clone(),
        };
        let found = leaf_count_of_base64(b64).ok_or_else(encoding)?;
        if found != expected {
            return Err(leaf_count_error(entry, found));
        }
        let raw = B64.decode(b64).map_err(|_| encoding())?;
        let leaves = raw
            .chunks_exact(32)
            .map(|c| modelda_merkle::LeafCv::from_bytes(c.try_into().expect("32 bytes")))
            .collect();
        modelda_merkle::Commitment::from_parts(entry.size, entry.leaf_size, entry.root, leaves)
            .map(Some)
            .map_err(|_| Error::LeafRoot {
                path: entry.path.clone(),
                root: entry.root,
            })
    }
}

/// How many 32-byte values standard padded base64 `b64` holds, from its
/// length alone: `None` when the length is not that of whole 32-byte values.
pub(super) fn leaf_count_of_base64(b64: &str) -> Option<u64> {
    let len = b64.len();
    if !len.is_multiple_of(4) {
        return None;
    }
    let pad = b64.bytes().rev().take(2).filter(|&b| b == b'=').count();
    let bytes = (len / 4 * 3).checked_sub(pad)?;
    bytes.is_multiple_of(32).then_some((bytes / 32) as u64)
}

fn leaf_count_error(entry: &crate::FileEntry, found: u64) -> Error {
    Error::LeafCount {
        path: entry.path.clone(),
        size: entry.size,
        leaf_size: entry.leaf_size.bytes(),
        expected: entry.leaf_size.leaf_count(entry.size),
        found,
    }
}

/// Builds the claims statement payload for a committed model.
pub fn claims_payload(model: &CommittedModel, key: &PublicKey, name: &str) -> Vec<u8> {
    let leaves = model
        .commitments
        .iter()
        .filter(|(_, c)| c.leaves().len() >= 2)
        .map(|(p, c)| {
            let mut raw = Vec::with_capacity(32 * c.leaves().len());
            for l in c.leaves() {
                raw.extend_from_slice(l.as_bytes());
            }
            (p.clone(), B64.encode(raw))
        })
        .collect();
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: name.to_string(),
            digest: BTreeMap::from([("blake3".to_string(), model.id.to_hex())]),
        }],
        predicate_type: CLAIMS_PREDICATE_TYPE.into(),
        predicate: ClaimsPredicate {
            model_id: model.id,
            manifest: model.manifest.clone(),
            leaves,
            public_key: key.to_pem(),
        },
    };
    serde_json::to_vec(&st).expect("statements always serialize")
}
