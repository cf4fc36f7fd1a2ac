//! HS256 JSON Web Tokens with Celestia node permissions (`read`, `write`,
//! `admin`), as celestia-node issues them: `{"Allow": ["public", "read", ...]}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A permission a token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Methods anyone may call.
    Public,
    /// Reading blobs, headers and state.
    Read,
    /// Submitting blobs.
    Write,
    /// Administration.
    Admin,
}

impl Permission {
    /// Every permission up to and including `self` (write implies read, ...).
    pub fn grants(self) -> Vec<Permission> {
        [
            Permission::Public,
            Permission::Read,
            Permission::Write,
            Permission::Admin,
        ]
        .into_iter()
        .filter(|p| *p <= self)
        .collect()
    }
}

impl std::str::FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Permission::Public),
            "read" => Ok(Permission::Read),
            "write" => Ok(Permission::Write),
            "admin" => Ok(Permission::Admin),
            _ => Err(format!(
                "unknown permission {s:?}: use read, write or admin"
            )),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    #[serde(rename = "Allow")]
    allow: Vec<Permission>,
}

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct JwtKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(<secret>)")
    }
}

impl JwtKey {
    /// A key from secret bytes.
    pub fn new(secret: Vec<u8>) -> Self {
        JwtKey { secret }
    }

    /// A random 32-byte key.
    pub fn generate() -> Self {
        let mut s = vec![0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut s);
        JwtKey { secret: s }
    }

    /// Reads the secret at `path`, creating it (mode 0600) when missing, so
    /// tokens survive restarts and can be minted while the devnet runs.
    pub fn load_or_create(path: &std::path::Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(s) if s.len() >= 32 => Ok(JwtKey { secret: s }),
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is too short to be a JWT secret", path.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = JwtKey::generate();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                use std::io::Write as _;
                opts.open(path)?.write_all(&key.secret)?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// The secret bytes (to persist them).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn mac(&self, msg: &[u8]) -> Vec<u8> {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }

    /// A token granting `perm` and every lower permission.
    pub fn token(&self, perm: Permission) -> String {
        let header = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = B64URL.encode(
            serde_json::to_vec(&Claims {
                allow: perm.grants(),
            })
            .expect("claims serialize"),
        );
        let signing = format!("{header}.{claims}");
        let sig = B64URL.encode(self.mac(signing.as_bytes()));
        format!("{signing}.{sig}")
    }

    /// The permissions of a valid token; `None` if it is malformed or not
    /// signed with this key.
    pub fn check(&self, token: &str) -> Option<Vec<Permission>> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value = serde_json::from_slice(&B64URL.decode(h).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let sig = B64URL.decode(s).ok()?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).ok()?;
        m.update(format!("{h}.{c}").as_bytes());
        m.verify_slice(&sig).ok()?;
        let claims: Claims = serde_json::from_slice(&B64URL.decode(c).ok()?).ok()?;
        Some(claims.allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        let k = JwtKey::generate();
        let t = k.token(Permission::Write);
        let perms = k.check(&t).unwrap();
        assert!(perms.contains(&Permission::Read) && perms.contains(&Permission::Write));
        assert!(!perms.contains(&Permission::Admin));
        assert!(JwtKey::generate().check(&t).is_none());
        assert!(k.check("a.b").is_none());
        let mut forged = t.clone();
        forged.push('x');
        assert!(k.check(&forged).is_none());
    }
}
