//! The EigenDA memstore of the devnet: payloads by cert, as files under the
//! devnet's data directory (`eigenda/<BLAKE3 of the cert>`), so they survive
//! a restart like the chain does.
//!
//! A file holds the cert length (u32, big-endian), the cert, then the
//! payload. It is written to a temporary name and renamed, so a crash leaves
//! either the whole record or none.

use std::path::{Path, PathBuf};

use modelda_da::{Cert, Error, Result};

/// Payloads by cert.
#[derive(Clone, Debug)]
pub struct MemStore {
    dir: PathBuf,
}

impl MemStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<MemStore> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        Ok(MemStore {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, cert: &Cert) -> PathBuf {
        self.dir
            .join(blake3::hash(cert.as_bytes()).to_hex().as_str())
    }

    /// Stores `payload`, dispersed when the chain is at `height`, and
    /// returns its cert: version byte `0x03` and an RLP list of the
    /// payload's BLAKE3, a random nonce and the height (opaque to clients,
    /// unique per put like the proxy's memstore; a real cert carries its
    /// reference block number too). The height is when the blob's
    /// retention starts ([`MemStore::get`] gives it back).
    pub fn put(&self, payload: &[u8], height: u64) -> Result<Cert> {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let mut cert = vec![0x03, 0xc0 + 51, 0xa0];
        cert.extend_from_slice(blake3::hash(payload).as_bytes());
        cert.push(0x88);
        cert.extend_from_slice(&nonce);
        cert.push(0x88);
        cert.extend_from_slice(&height.to_be_bytes());
        let cert = Cert::new(cert)?;
        let mut val = Vec::with_capacity(4 + cert.as_bytes().len() + payload.len());
        val.extend_from_slice(&(cert.as_bytes().len() as u32).to_be_bytes());
        val.extend_from_slice(cert.as_bytes());
        val.extend_from_slice(payload);
        let path = self.path(&cert);
        let tmp = path.with_extension("partial");
        let io = |e| Error::Io {
            path: path.clone(),
            source: e,
        };
        std::fs::write(&tmp, &val).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(cert)
    }

    /// The payload of `cert` and the height it was dispersed at, if stored
    /// (no height for a cert of an older devnet, which never expires).
    pub fn get(&self, cert: &Cert) -> Result<Option<(Vec<u8>, Option<u64>)>> {
        let path = self.path(cert);
        let v = match std::fs::read(&path) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        let n = v
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize);
        match n {
            Some(n) if v.len() >= 4 + n && &v[4..4 + n] == cert.as_bytes() => {
                Ok(Some((v[4 + n..].to_vec(), height_of(cert))))
            }
            _ => Ok(None),
        }
    }
}

/// The dispersal height a cert of [`MemStore::put`] carries.
fn height_of(cert: &Cert) -> Option<u64> {
    match cert.as_bytes() {
        [0x03, 0xf3, 0xa0, rest @ ..] if rest.len() == 32 + 9 + 9 && rest[41] == 0x88 => {
            Some(u64::from_be_bytes(rest[42..].try_into().ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_survive_reopen_and_certs_are_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let s = MemStore::open(tmp.path()).unwrap();
        let a = s.put(b"payload", 7).unwrap();
        let b = s.put(b"payload", 7).unwrap();
        assert_ne!(a, b, "each put gets its own cert");
        let s = MemStore::open(tmp.path()).unwrap();
        assert_eq!(s.get(&a).unwrap().unwrap(), (b"payload".to_vec(), Some(7)));
        let mut other = a.as_bytes().to_vec();
        let last = other.len() - 1;
        other[last] ^= 1;
        assert_eq!(s.get(&Cert::new(other).unwrap()).unwrap(), None);
    }
}
