//! The model to publish: a directory with a verified signature over its
//! manifest, signed now or reused.

use std::path::{Path, PathBuf};

use modelda_manifest::sign::{sign_model, OmsHash, PrivateKey};
use modelda_manifest::{commit_dir, scan_dir, CommitOptions, Progress};
use modelda_manifest::{ModelId, ModelManifest, CLAIMS_SIGNATURE_NAME, OMS_SIGNATURE_NAME};
use modelda_merkle::LeafCv;

use crate::{Error, Result};

/// A model directory with a verified signature over its manifest.
#[derive(Clone, Debug)]
pub struct SignedModel {
    /// The directory.
    pub dir: PathBuf,
    /// The manifest.
    pub manifest: ModelManifest,
    /// The model id.
    pub id: ModelId,
    /// Per file, the signed leaf chaining values (files of 2+ leaves).
    pub leaves: Vec<Option<Vec<LeafCv>>>,
    /// The claims bundle JSON.
    pub claims: String,
    /// The OMS bundle JSON.
    pub oms: Option<String>,
    /// Whether this call hashed and signed the directory (else the existing
    /// signature was reused).
    pub signed_now: bool,
}

impl SignedModel {
    /// Uses `dir`'s signature when it is by `key`, lists exactly the files
    /// in `dir` with their sizes, is newer than every file, `accept`s its
    /// manifest, and `fresh` is false; otherwise
    /// commits the directory with `opts` and signs it (writing `model.sig`
    /// and `model.claims.sig`, as `modelda sign` does). Bytes are checked
    /// against the signed leaves while they are posted either way.
    pub fn prepare(
        dir: &Path,
        key: &PrivateKey,
        opts: &CommitOptions,
        fresh: bool,
        accept: impl Fn(&ModelManifest) -> bool,
        progress: &dyn Progress,
    ) -> Result<SignedModel> {
        if !fresh {
            if let Some(m) = Self::existing(dir, key)?.filter(|m| accept(&m.manifest)) {
                return Ok(m);
            }
        }
        let committed = commit_dir(dir, opts, progress)?;
        sign_model(dir, &committed, key, OmsHash::default())?;
        let mut m = Self::existing(dir, key)?.ok_or_else(|| Error::BadRecord {
            locator: dir.display().to_string(),
            reason: "the signature just written does not match the directory".into(),
        })?;
        m.signed_now = true;
        Ok(m)
    }

    fn existing(dir: &Path, key: &PrivateKey) -> Result<Option<SignedModel>> {
        let claims_path = dir.join(CLAIMS_SIGNATURE_NAME);
        let Ok(bytes) = std::fs::read(&claims_path) else {
            return Ok(None);
        };
        let public = key.public();
        let (claims, signer) =
            match modelda_manifest::verify::open_claims(&claims_path, &bytes, None) {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(error = %e, "existing claims not usable; signing again");
                    return Ok(None);
                }
            };
        if signer != public {
            return Err(Error::SignedByOtherKey {
                path: claims_path,
                signed: signer.hint(),
                given: public.hint(),
            });
        }
        let found = scan_dir(dir)?;
        let same = found.len() == claims.manifest.files.len()
            && found.iter().all(|f| {
                claims
                    .manifest
                    .file(&f.rel)
                    .is_some_and(|e| e.size == f.size)
            });
        // A file written after the claims were signed means they are stale.
        let signed_at = std::fs::metadata(&claims_path)
            .and_then(|m| m.modified())
            .ok();
        let newer = found.iter().any(|f| {
            let m = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
            matches!((m, signed_at), (Some(m), Some(s)) if m > s)
        });
        if !same || newer {
            return Ok(None);
        }
        let mut leaves = Vec::with_capacity(claims.manifest.files.len());
        for e in &claims.manifest.files {
            match claims.commitment(e) {
                Ok(c) => leaves.push(c.map(|c| c.leaves().to_vec())),
                Err(_) => return Ok(None),
            }
        }
        let oms = std::fs::read_to_string(dir.join(OMS_SIGNATURE_NAME)).ok();
        Ok(Some(SignedModel {
            dir: dir.to_path_buf(),
            id: claims.model_id,
            manifest: claims.manifest,
            leaves,
            claims: String::from_utf8_lossy(&bytes).into_owned(),
            oms,
            signed_now: false,
        }))
    }
}
