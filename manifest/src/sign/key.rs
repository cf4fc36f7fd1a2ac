//! P-256 keys: PEM in and out, and the key hint (SHA-256 of the public
//! key's PEM) that names a key in a bundle.

use std::path::Path;

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

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

    pub(super) fn sign(&self, msg: &[u8]) -> Vec<u8> {
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

    pub(super) fn verify(&self, msg: &[u8], der: &[u8]) -> Result<(), String> {
        let sig = Signature::from_der(der)
            .map_err(|_| "signature is not a DER ECDSA signature".to_string())?;
        self.key
            .verify(msg, &sig)
            .map_err(|_| "the ECDSA signature does not match the payload and key".to_string())
    }
}
