//! What a leaf's bytes must hash to, and its name in the archive.

use modelda_merkle::LeafSize;

/// Largest leaf: 8 MiB (the largest leaf size). Nothing larger is read from
/// any source.
pub const MAX_LEAF_BYTES: u64 = 8 << 20;

/// BLAKE3's chunk: a leaf's offset in its file is a multiple of it.
const CHUNK: u64 = 1024;

/// A leaf as its signer committed to it: enough to check bytes claimed to
/// be it, with no other context. Two publications holding the same bytes
/// at the same offset of a file have the same key, so the archive keeps
/// them once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeafKey {
    commitment: [u8; 32],
    /// Where the leaf starts in its file (its chaining value's input
    /// offset); `None` for a file of one leaf, whose commitment is the
    /// plain BLAKE3 hash of its bytes (the file's root).
    offset: Option<u64>,
    len: u64,
}

impl LeafKey {
    /// Leaf `index` of a file of `leaf_size` leaves, `len` bytes long, with
    /// chaining value `cv`. `None` when `len` is 0 or over the leaf size.
    pub fn leaf(cv: [u8; 32], leaf_size: LeafSize, index: u64, len: u64) -> Option<LeafKey> {
        let offset = index.checked_mul(leaf_size.bytes())?;
        (len > 0 && len <= leaf_size.bytes()).then_some(LeafKey {
            commitment: cv,
            offset: Some(offset),
            len,
        })
    }

    /// A whole file of one leaf, `len` bytes, whose BLAKE3 hash is `root`.
    /// `None` when `len` is over [`MAX_LEAF_BYTES`].
    pub fn whole(root: [u8; 32], len: u64) -> Option<LeafKey> {
        (len <= MAX_LEAF_BYTES).then_some(LeafKey {
            commitment: root,
            offset: None,
            len,
        })
    }

    /// Leaf `index` of the file `f`, whose commitment is `c` (its chaining
    /// value; for a file of one leaf, the file's root, which `c` must be).
    /// `None` when the file has no such leaf.
    pub fn in_file(f: &modelda_manifest::FileEntry, index: u64, c: [u8; 32]) -> Option<LeafKey> {
        if f.size <= f.leaf_size.bytes() {
            return (index == 0 && &c == f.root.as_bytes())
                .then(|| LeafKey::whole(c, f.size))
                .flatten();
        }
        let b = f.leaf_size.leaf_bytes(f.size, index);
        LeafKey::leaf(c, f.leaf_size, index, b.end - b.start)
    }

    /// The commitment: a chaining value, or a whole file's BLAKE3 hash.
    pub fn commitment(&self) -> &[u8; 32] {
        &self.commitment
    }

    /// Bytes the leaf holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the leaf holds no bytes (only an empty whole file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `bytes` are this leaf.
    pub fn check(&self, bytes: &[u8]) -> bool {
        if bytes.len() as u64 != self.len {
            return false;
        }
        match self.offset {
            None => blake3::hash(bytes).as_bytes() == &self.commitment,
            Some(offset) => {
                use blake3::hazmat::HasherExt as _;
                let mut h = blake3::Hasher::new();
                h.set_input_offset(offset);
                h.update(bytes);
                h.finalize_non_root() == self.commitment
            }
        }
    }

    /// The object's name under an archive's prefix:
    /// `leaves/<commitment hex>` for a whole file,
    /// `leaves/<commitment hex>-<offset in KiB>` for a leaf.
    pub fn name(&self) -> String {
        match self.offset {
            None => format!("leaves/{}", hex::encode(self.commitment)),
            Some(o) => format!("leaves/{}-{}", hex::encode(self.commitment), o / CHUNK),
        }
    }

    /// The key of an object named `name` (as [`LeafKey::name`] writes it,
    /// without the `leaves/` directory) holding `len` bytes.
    pub fn from_name(name: &str, len: u64) -> Option<LeafKey> {
        let (hash, offset) = match name.split_once('-') {
            Some((h, kib)) => {
                let kib: u64 = kib.parse().ok()?;
                (h, Some(kib.checked_mul(CHUNK)?))
            }
            None => (name, None),
        };
        let mut commitment = [0u8; 32];
        hex::decode_to_slice(hash, &mut commitment).ok()?;
        if len > MAX_LEAF_BYTES || (offset.is_some() && len == 0) {
            return None;
        }
        Some(LeafKey {
            commitment,
            offset,
            len,
        })
    }
}

impl std::fmt::Display for LeafKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.commitment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelda_merkle::leaf_cv;

    #[test]
    fn keys_check_what_merkle_commits_to() {
        let ls = LeafSize::MIN;
        let data: Vec<u8> = (0..ls.bytes() as usize * 3 - 100)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for (i, leaf) in data.chunks(ls.bytes() as usize).enumerate() {
            let cv = leaf_cv(ls, i as u64, leaf);
            let key = LeafKey::leaf(*cv.as_bytes(), ls, i as u64, leaf.len() as u64).unwrap();
            assert!(key.check(leaf));
            let mut bad = leaf.to_vec();
            bad[7] ^= 1;
            assert!(!key.check(&bad));
            assert!(!key.check(&leaf[1..]));
            // The same bytes at another offset are another leaf.
            let other = LeafKey::leaf(*cv.as_bytes(), ls, i as u64 + 1, leaf.len() as u64);
            assert!(!other.unwrap().check(leaf));
        }
        let whole = LeafKey::whole(*blake3::hash(b"abc").as_bytes(), 3).unwrap();
        assert!(whole.check(b"abc") && !whole.check(b"abd"));
        assert!(LeafKey::whole([0; 32], MAX_LEAF_BYTES + 1).is_none());
        assert!(LeafKey::leaf([0; 32], ls, 0, 0).is_none());
        assert!(LeafKey::leaf([0; 32], ls, 0, ls.bytes() + 1).is_none());
        assert!(LeafKey::leaf([0; 32], ls, u64::MAX, 1).is_none());
    }

    #[test]
    fn names_are_pinned_and_read_back() {
        let ls = LeafSize::MIN;
        let k = LeafKey::leaf([0xab; 32], ls, 3, 100).unwrap();
        assert_eq!(k.name(), format!("leaves/{}-48", "ab".repeat(32)));
        let back = LeafKey::from_name(k.name().strip_prefix("leaves/").unwrap(), 100);
        assert_eq!(back, Some(k));
        let w = LeafKey::whole([1; 32], 5).unwrap();
        assert_eq!(w.name(), format!("leaves/{}", "01".repeat(32)));
        assert_eq!(
            LeafKey::from_name(w.name().strip_prefix("leaves/").unwrap(), 5),
            Some(w)
        );
        for bad in [
            "",
            "zz",
            &"ab".repeat(31),
            &format!("{}-x", "ab".repeat(32)),
        ] {
            assert_eq!(LeafKey::from_name(bad, 1), None, "{bad:?}");
        }
        assert_eq!(
            LeafKey::from_name(&"ab".repeat(32), MAX_LEAF_BYTES + 1),
            None
        );
    }
}
