//! The keys a reader believes advisories from (`--trust-advisories-from`),
//! besides each model's publisher: files of one or more PEM public keys.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use modelda_manifest::sign::PublicKey;

/// Most keys one file may hold.
const MAX_KEYS_PER_FILE: usize = 1024;
/// Largest keys file read, bytes.
const MAX_KEYS_FILE_BYTES: u64 = 4 << 20;

/// Every public key in `paths` (each a file of PEM blocks, one key each).
pub fn read_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for p in paths {
        keys.extend(read_file(p)?);
    }
    Ok(keys)
}

fn read_file(path: &Path) -> Result<Vec<PublicKey>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading the keys file {}", path.display()))?
        .len();
    if len > MAX_KEYS_FILE_BYTES {
        bail!(
            "the keys file {} is {len} bytes, over {MAX_KEYS_FILE_BYTES}: list public keys (PEM) only",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the keys file {}", path.display()))?;
    let mut keys = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end_at = block
            .find("-----END ")
            .with_context(|| format!("{}: a PEM block without its END line", path.display()))?;
        let close = block[end_at + 9..]
            .find("-----")
            .map(|i| end_at + 9 + i + 5)
            .with_context(|| format!("{}: a PEM END line cut short", path.display()))?;
        if keys.len() >= MAX_KEYS_PER_FILE {
            bail!("{} holds over {MAX_KEYS_PER_FILE} keys", path.display());
        }
        let key = PublicKey::from_pem(path, &block[..close])
            .with_context(|| format!("reading key {} of {}", keys.len() + 1, path.display()))?;
        keys.push(key);
        rest = &block[close..];
    }
    if keys.is_empty() {
        bail!(
            "{} holds no public key: give PEM public keys (the .pub files `modelda keygen` writes)",
            path.display()
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use modelda_manifest::sign::PrivateKey;

    use super::*;

    #[test]
    fn a_keys_file_holds_several_keys_and_junk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (PrivateKey::generate(), PrivateKey::generate());
        let p = dir.path().join("keys.pem");
        std::fs::write(
            &p,
            format!(
                "# auditors\n{}\n{}",
                a.public().to_pem(),
                b.public().to_pem()
            ),
        )
        .unwrap();
        let keys = read_keys(std::slice::from_ref(&p)).unwrap();
        let hints: Vec<_> = keys.iter().map(PublicKey::hint).collect();
        assert_eq!(hints, vec![a.public().hint(), b.public().hint()]);
        std::fs::write(&p, "nothing here").unwrap();
        assert!(read_keys(std::slice::from_ref(&p)).is_err());
        std::fs::write(&p, "-----BEGIN PUBLIC KEY-----\nAAAA").unwrap();
        assert!(read_keys(&[p]).is_err());
    }
}
