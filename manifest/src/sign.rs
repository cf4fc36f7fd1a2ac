//! Signing: ECDSA P-256 keys, DSSE envelopes, Sigstore bundles, the OpenSSF
//! Model Signing (OMS) v1.0 statement and the modelda claims statement.
//!
//! Both signatures are Sigstore bundles (v0.3 JSON) holding a DSSE envelope
//! of an in-toto Statement v1, signed with ECDSA P-256 over SHA-256 (DER
//! signature), with the key named by its hint: the lowercase hex SHA-256 of
//! the public key's PEM. This is the layout `model_signing sign key` writes
//! and `model_signing verify key` accepts.

use std::path::{Path, PathBuf};

use crate::commit::{CLAIMS_SIGNATURE_NAME, OMS_SIGNATURE_NAME};
use crate::{CommittedModel, Error, Result};

mod bundle;
mod claims;
mod key;
mod oms;

pub use bundle::{
    pae, Bundle, Envelope, EnvelopeSignature, KeyHint, Statement, Subject, VerificationMaterial,
};
pub use claims::{claims_payload, ClaimsPredicate};
pub use key::{PrivateKey, PublicKey};
pub use oms::{
    default_ignore_paths, oms_payload, oms_resources, oms_root_digest, sha256_file, OmsHash,
    OmsPredicate, OmsResource, OmsSerialization,
};

/// Media type of a Sigstore bundle v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of an OpenSSF Model Signing v1.0 signature.
pub const OMS_PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Predicate type of the modelda claims statement.
pub const CLAIMS_PREDICATE_TYPE: &str = "https://modelda.dev/claims/v1";
/// Where [`sign_model`] wrote.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The OMS bundle.
    pub oms: PathBuf,
    /// The claims bundle.
    pub claims: PathBuf,
    /// Hint of the signing key.
    pub key_hint: String,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("sig"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Signs a committed model in `dir`: writes the claims bundle
/// (`model.claims.sig`), then the OMS bundle (`model.sig`) covering every
/// file including the claims bundle. Both are written atomically.
pub fn sign_model(
    dir: &Path,
    model: &CommittedModel,
    key: &PrivateKey,
    hash: OmsHash,
) -> Result<Signed> {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    // Bundles a killed signer left half-written: no tool should see them
    // (model signing would hash them as model files).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(crate::commit::is_signing_leftover)
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let public = key.public();
    let claims_path = dir.join(CLAIMS_SIGNATURE_NAME);
    let claims = Bundle::sign(key, &claims_payload(model, &public, &name));
    write_atomic(&claims_path, claims.to_json().as_bytes())?;

    let found = crate::scan_dir(dir)?;
    let mut files: Vec<(String, PathBuf, Option<modelda_merkle::FileRoot>)> = found
        .iter()
        .map(|f| {
            let root = model.manifest.file(&f.rel).map(|e| e.root);
            (f.rel.clone(), f.path.clone(), root)
        })
        .collect();
    files.push((CLAIMS_SIGNATURE_NAME.to_string(), claims_path.clone(), None));
    files.sort_by(|a, b| crate::path_order(&a.0, &b.0));
    // Files must not have changed since they were committed.
    for (rel, _, root) in &files {
        if rel != CLAIMS_SIGNATURE_NAME && root.is_none() {
            return Err(Error::Manifest {
                reason: format!(
                    "{rel} appeared in the model directory after it was committed; commit again"
                ),
            });
        }
    }
    let resources = oms_resources(&files, hash)?;
    let payload = oms_payload(
        &name,
        hash,
        model.has_symlinks,
        default_ignore_paths(),
        resources,
    );
    let oms_path = dir.join(OMS_SIGNATURE_NAME);
    write_atomic(&oms_path, Bundle::sign(key, &payload).to_json().as_bytes())?;
    Ok(Signed {
        oms: oms_path,
        claims: claims_path,
        key_hint: public.hint(),
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    use super::claims::leaf_count_of_base64;
    use super::*;

    #[test]
    fn leaf_counts_come_from_the_base64_length() {
        for n in 0..200usize {
            let b64 = B64.encode(vec![7u8; n]);
            let want = (n % 32 == 0).then_some((n / 32) as u64);
            assert_eq!(leaf_count_of_base64(&b64), want, "{n} bytes");
        }
        assert_eq!(leaf_count_of_base64("abc"), None);
        assert_eq!(leaf_count_of_base64("=="), None);
    }

    #[test]
    fn a_killed_signers_leftovers_are_not_model_files() {
        use crate::commit::is_signing_leftover;
        assert!(is_signing_leftover(".model.claims.sig.tmp-4242"));
        assert!(is_signing_leftover(".model.sig.tmp-1"));
        assert!(!is_signing_leftover(".model.sig.tmp-"));
        assert!(!is_signing_leftover(".model.sig.tmp-12a"));
        assert!(!is_signing_leftover("model.sig.tmp-12"));
        assert!(!is_signing_leftover(".weights.tmp-12"));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("w.bin"), b"weights").unwrap();
        let leftover = dir.join(".model.claims.sig.tmp-4242");
        std::fs::write(&leftover, b"{half a bundle").unwrap();
        let found = crate::scan_dir(dir).unwrap();
        assert_eq!(
            found.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(),
            ["w.bin"]
        );
        let model =
            crate::commit_dir(dir, &crate::CommitOptions::default(), &crate::NoProgress).unwrap();
        assert_eq!(model.manifest.files.len(), 1);
        sign_model(dir, &model, &PrivateKey::generate(), OmsHash::default()).unwrap();
        assert!(
            !leftover.exists(),
            "signing removes what a killed signer left"
        );
    }

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn bundle_round_trip_and_tamper() {
        let k = PrivateKey::generate();
        let b = Bundle::sign(&k, b"{\"a\":1}");
        let p = Path::new("x.sig");
        let b2 = Bundle::from_json(p, b.to_json().as_bytes()).unwrap();
        assert_eq!(b2.verify(p, &k.public()).unwrap(), b"{\"a\":1}");
        let other = PrivateKey::generate().public();
        assert!(b2.verify(p, &other).is_err());
        let mut t = b2.clone();
        t.dsse_envelope.payload = B64.encode(b"{\"a\":2}");
        assert!(t.verify(p, &k.public()).is_err());
        let pem = k.to_pem();
        let k2 = PrivateKey::from_pem(p, &pem).unwrap();
        assert_eq!(k2.public(), k.public());
        let pubk = PublicKey::from_pem(p, &k.public().to_pem()).unwrap();
        assert_eq!(pubk.hint(), k.public().hint());
    }
}
