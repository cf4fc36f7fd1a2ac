//! DSSE envelopes in Sigstore bundles (v0.3 JSON), and in-toto
//! Statements v1.

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::key::{PrivateKey, PublicKey};
use super::{BUNDLE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE};
use crate::{Error, Result};

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
