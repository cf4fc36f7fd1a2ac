//! Signing: ECDSA P-256 keys, DSSE envelopes, Sigstore bundles, the OpenSSF
//! Model Signing (OMS) v1.0 statement and the modelda claims statement.
//!
//! Both signatures are Sigstore bundles (v0.3 JSON) holding a DSSE envelope
//! of an in-toto Statement v1, signed with ECDSA P-256 over SHA-256 (DER
//! signature), with the key named by its hint: the lowercase hex SHA-256 of
//! the public key's PEM. This is the layout `model_signing sign key` writes
//! and `model_signing verify key` accepts.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::commit::{CLAIMS_SIGNATURE_NAME, IGNORED_ROOT_NAMES, OMS_SIGNATURE_NAME};
use crate::{CommittedModel, Error, ModelId, ModelManifest, Result};

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

/// A P-256 signing key.
pub struct PrivateKey {
    key: SigningKey,
}

/// A P-256 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Self {
        PrivateKey {
            key: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    /// Reads a PEM key: PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`).
    pub fn from_pem(path: &Path, pem: &str) -> Result<Self> {
        let bad = |reason: String| Error::Key {
            path: path.to_path_buf(),
            reason,
        };
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(bad(
                "encrypted keys are not supported; decrypt it with `openssl pkcs8 -in KEY -out PLAIN.pem`".into(),
            ));
        }
        if pem.contains("BEGIN EC PRIVATE KEY") {
            let sk = p256::SecretKey::from_sec1_pem(pem)
                .map_err(|e| bad(format!("not a P-256 SEC1 private key ({e})")))?;
            return Ok(PrivateKey { key: sk.into() });
        }
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| {
            bad(format!(
                "not a P-256 PKCS#8 private key in PEM ({e}); create one with `modelda keygen`"
            ))
        })?;
        Ok(PrivateKey { key })
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_pem(path, &pem)
    }

    /// PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key always encodes")
            .to_string()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`).
    pub fn from_pem(path: &Path, pem: &str) -> Result<Self> {
        let key = VerifyingKey::from_public_key_pem(pem).map_err(|e| Error::Key {
            path: path.to_path_buf(),
            reason: format!("not a P-256 public key in PEM ({e})"),
        })?;
        Ok(PublicKey { key })
    }

    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_pem(path, &pem)
    }

    /// SubjectPublicKeyInfo PEM, 64-column lines, LF, trailing newline (the
    /// form OpenSSL and Python's `cryptography` write).
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 key always encodes")
    }

    /// The key hint: lowercase hex SHA-256 of [`Self::to_pem`].
    pub fn hint(&self) -> String {
        hex::encode(Sha256::digest(self.to_pem().as_bytes()))
    }

    fn verify(&self, msg: &[u8], der: &[u8]) -> Result<(), String> {
        let sig = Signature::from_der(der)
            .map_err(|_| "signature is not a DER ECDSA signature".to_string())?;
        self.key
            .verify(msg, &sig)
            .map_err(|_| "the ECDSA signature does not match the payload and key".to_string())
    }
}

/// DSSE pre-authentication encoding of `payload`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A Sigstore bundle v0.3 holding a DSSE envelope, as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_MEDIA_TYPE`].
    pub media_type: String,
    /// Names the key.
    pub verification_material: VerificationMaterial,
    /// The signed envelope.
    pub dsse_envelope: Envelope,
}

/// The key material of a bundle: a public key hint, no transparency log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationMaterial {
    /// The key hint.
    pub public_key: KeyHint,
    /// Transparency log entries (always empty here).
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// A public key named by its hint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyHint {
    /// Lowercase hex SHA-256 of the public key PEM.
    #[serde(default)]
    pub hint: String,
}

/// A DSSE envelope.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// Base64 (standard, padded) of the payload.
    pub payload: String,
    /// Payload type.
    pub payload_type: String,
    /// Signatures; the first is the one checked.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Base64 of the DER ECDSA signature.
    pub sig: String,
    /// Key id (empty).
    #[serde(default)]
    pub keyid: String,
}

impl Bundle {
    /// Signs `payload` (an in-toto statement) into a bundle.
    pub fn sign(key: &PrivateKey, payload: &[u8]) -> Bundle {
        let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, payload));
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            verification_material: VerificationMaterial {
                public_key: KeyHint {
                    hint: key.public().hint(),
                },
                tlog_entries: Vec::new(),
            },
            dsse_envelope: Envelope {
                payload: B64.encode(payload),
                payload_type: INTOTO_PAYLOAD_TYPE.into(),
                signatures: vec![EnvelopeSignature {
                    sig: B64.encode(sig),
                    keyid: String::new(),
                }],
            },
        }
    }

    /// Parses a bundle file's bytes.
    pub fn from_json(path: &Path, bytes: &[u8]) -> Result<Bundle> {
        let b: Bundle = serde_json::from_slice(bytes).map_err(|e| Error::Bundle {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if b.media_type != BUNDLE_MEDIA_TYPE {
            return Err(Error::Bundle {
                path: path.to_path_buf(),
                reason: format!(
                    "media type {:?}, expected {BUNDLE_MEDIA_TYPE:?}",
                    b.media_type
                ),
            });
        }
        Ok(b)
    }

    /// Compact JSON, as written to disk.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("bundles always serialize")
    }

    /// The payload bytes, without checking the signature.
    pub fn payload(&self, path: &Path) -> Result<Vec<u8>> {
        B64.decode(&self.dsse_envelope.payload)
            .map_err(|e| Error::Bundle {
                path: path.to_path_buf(),
                reason: format!("payload is not standard padded base64 ({e})"),
            })
    }

    /// Checks the signature with `key` and returns the payload.
    pub fn verify(&self, path: &Path, key: &PublicKey) -> Result<Vec<u8>> {
        let bad = |reason: String| Error::BadSignature {
            path: path.to_path_buf(),
            reason,
        };
        let hint = &self.verification_material.public_key.hint;
        if !hint.is_empty() && hint != &key.hint() {
            return Err(bad(format!(
                "signed by key {hint}, not by the given key {}",
                key.hint()
            )));
        }
        if self.dsse_envelope.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(bad(format!(
                "payload type {:?} is not in-toto",
                self.dsse_envelope.payload_type
            )));
        }
        let payload = self.payload(path)?;
        let Some(first) = self.dsse_envelope.signatures.first() else {
            return Err(bad("the envelope holds no signature".into()));
        };
        let der = B64
            .decode(&first.sig)
            .map_err(|e| bad(format!("signature is not base64 ({e})")))?;
        key.verify(&pae(INTOTO_PAYLOAD_TYPE, &payload), &der)
            .map_err(bad)?;
        Ok(payload)
    }
}

/// An in-toto Statement v1 with a typed predicate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Statement<P> {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: P,
}

/// An in-toto subject.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subject {
    /// Name (informational).
    pub name: String,
    /// Digests by algorithm.
    pub digest: BTreeMap<String, String>,
}

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
fn leaf_count_of_base64(b64: &str) -> Option<u64> {
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
