//! Avail's data root and data proofs, as the runtime builds them
//! (`base/src/header_extension/builder_data.rs` in availproject/avail, with
//! Substrate's `binary_merkle_tree` over Keccak-256):
//!
//! - the leaves are `keccak256(data)` of each non-empty top-level
//!   `submit_data` of the block, in order, padded with zero hashes to a
//!   power of two;
//! - every leaf is hashed again before it enters the tree; a parent is
//!   `keccak256(left || right)`, unsorted; a single leaf's root is
//!   `keccak256(leaf)`; no submissions give a zero blob root;
//! - `data_root = keccak256(blob_root || bridge_root)`.
//!
//! The proof JSON is the `dataProof` of `kate_queryDataProof`:
//! `{"roots":{"dataRoot","blobRoot","bridgeRoot"},"proof":[..],
//! "numberOfLeaves","leafIndex","leaf"}`. Verification bounds every count
//! before it uses it.

use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

/// A 32-byte hash, `0x`-prefixed hex in JSON as Avail writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct H256(pub [u8; 32]);

impl Serialize for H256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(self.0)))
    }
}

impl<'de> Deserialize<'de> for H256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for H256 {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let h = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out)
            .map_err(|_| format!("not a 32-byte hex hash: {:.80}", s))?;
        Ok(H256(out))
    }
}

impl std::fmt::Display for H256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// Keccak-256.
pub fn keccak(data: &[u8]) -> H256 {
    H256(Keccak256::digest(data).into())
}

fn keccak2(a: &H256, b: &H256) -> H256 {
    let mut h = Keccak256::new();
    h.update(a.0);
    h.update(b.0);
    H256(h.finalize().into())
}

/// The leaf of a submission: `keccak256(data)`.
pub fn leaf_of(data: &[u8]) -> H256 {
    keccak(data)
}

/// The roots a data proof carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Roots {
    /// `keccak256(blob_root || bridge_root)`: the header's data root.
    pub data_root: H256,
    /// Root of the submissions' tree.
    pub blob_root: H256,
    /// Root of the bridge messages' tree.
    pub bridge_root: H256,
}

/// The proof of one submission, as `kate_queryDataProof` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataProof {
    /// The roots.
    pub roots: Roots,
    /// Sibling hashes, from the leaf up.
    pub proof: Vec<H256>,
    /// Leaves of the tree (a power of two: padded).
    pub number_of_leaves: u32,
    /// Position of the leaf among the block's submissions.
    pub leaf_index: u32,
    /// The leaf: `keccak256(data)`.
    pub leaf: H256,
}

/// Why a data proof does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The proof's shape is impossible.
    #[error("malformed Avail data proof: {0}")]
    Malformed(&'static str),
    /// The leaf is not `keccak256` of the data.
    #[error("the proof's leaf is not the hash of the data")]
    WrongLeaf,
    /// The siblings do not lead to the blob root.
    #[error("the Merkle path does not lead to the blob root")]
    WrongPath,
    /// The roots do not combine to the data root.
    #[error("blob root and bridge root do not hash to the proof's data root")]
    WrongRoots,
    /// The data root is not the header's.
    #[error("the proof's data root {proof} is not the header's {header}")]
    WrongHeader {
        /// The proof's.
        proof: H256,
        /// The header's.
        header: H256,
    },
}

/// The blob tree's leaves, padded with zero hashes to a power of two.
fn padded(leaves: &[H256]) -> Vec<H256> {
    let mut v = leaves.to_vec();
    v.resize(leaves.len().next_power_of_two(), H256::default());
    v
}

/// Levels of the tree over `leaves` (each hashed again), bottom first.
fn levels(leaves: &[H256]) -> Vec<Vec<H256>> {
    let mut level: Vec<H256> = leaves.iter().map(|l| keccak(&l.0)).collect();
    let mut out = Vec::new();
    while level.len() > 1 {
        let next = level
            .chunks(2)
            .map(|p| match p {
                [a, b] => keccak2(a, b),
                [a] => *a,
                _ => unreachable!("chunks of two"),
            })
            .collect();
        out.push(std::mem::replace(&mut level, next));
    }
    out.push(level);
    out
}

/// The blob root over the submissions `data` (zero when there are none).
pub fn blob_root<'a>(data: impl IntoIterator<Item = &'a [u8]>) -> H256 {
    let leaves: Vec<H256> = data.into_iter().map(leaf_of).collect();
    if leaves.is_empty() {
        return H256::default();
    }
    levels(&padded(&leaves))
        .last()
        .and_then(|l| l.first().copied())
        .unwrap_or_default()
}

/// `keccak256(blob_root || bridge_root)`.
pub fn data_root(blob_root: &H256, bridge_root: &H256) -> H256 {
    keccak2(blob_root, bridge_root)
}

/// The proof of submission `index` among `data` (the block's non-empty
/// submissions in order), with no bridge messages; `None` when `index` is
/// past them.
pub fn prove(data: &[&[u8]], index: usize) -> Option<DataProof> {
    if index >= data.len() {
        return None;
    }
    let leaves = padded(&data.iter().map(|d| leaf_of(d)).collect::<Vec<_>>());
    let levels = levels(&leaves);
    let mut proof = Vec::new();
    let mut pos = index;
    for level in &levels[..levels.len() - 1] {
        let sibling = pos ^ 1;
        if let Some(s) = level.get(sibling) {
            proof.push(*s);
        }
        pos /= 2;
    }
    let blob = levels.last()?.first().copied()?;
    let bridge = H256::default();
    Some(DataProof {
        roots: Roots {
            data_root: data_root(&blob, &bridge),
            blob_root: blob,
            bridge_root: bridge,
        },
        proof,
        number_of_leaves: leaves.len() as u32,
        leaf_index: index as u32,
        leaf: leaves[index],
    })
}

/// Checks that `data` is the submission `proof` proves, under the data root
/// `header_data_root` of a header the caller fetched itself.
pub fn verify(proof: &DataProof, data: &[u8], header_data_root: &H256) -> Result<(), ProofError> {
    let n = proof.number_of_leaves;
    if n == 0 || !n.is_power_of_two() {
        return Err(ProofError::Malformed(
            "the number of leaves is not a power of two",
        ));
    }
    if proof.leaf_index >= n {
        return Err(ProofError::Malformed("the leaf index is past the leaves"));
    }
    if proof.proof.len() != n.trailing_zeros() as usize {
        return Err(ProofError::Malformed(
            "the path's length does not match the number of leaves",
        ));
    }
    if leaf_of(data) != proof.leaf {
        return Err(ProofError::WrongLeaf);
    }
    let mut h = keccak(&proof.leaf.0);
    let mut pos = proof.leaf_index;
    let mut width = n;
    for p in &proof.proof {
        h = if pos % 2 == 1 || pos + 1 == width {
            keccak2(p, &h)
        } else {
            keccak2(&h, p)
        };
        pos /= 2;
        width = (width - 1) / 2 + 1;
    }
    if h != proof.roots.blob_root {
        return Err(ProofError::WrongPath);
    }
    if data_root(&proof.roots.blob_root, &proof.roots.bridge_root) != proof.roots.data_root {
        return Err(ProofError::WrongRoots);
    }
    if &proof.roots.data_root != header_data_root {
        return Err(ProofError::WrongHeader {
            proof: proof.roots.data_root,
            header: *header_data_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `avail_answers` fuzz target's seed: the proof of the second of
    /// its three blobs. `MODELDA_WRITE_FUZZ_SEED=1` writes it.
    #[test]
    fn the_fuzz_seed_is_a_valid_proof() {
        let blobs: [&[u8]; 3] = [b"first blob", b"second blob", b"third blob"];
        let p = prove(&blobs, 1).unwrap();
        let root = data_root(&blob_root(blobs), &H256::default());
        verify(&p, blobs[1], &root).unwrap();
        let json = serde_json::to_string_pretty(&p).unwrap() + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds/avail_answers.json");
        if std::env::var_os("MODELDA_WRITE_FUZZ_SEED").is_some() {
            std::fs::write(&path, &json).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), json);
    }

    fn h(s: &str) -> H256 {
        s.parse().unwrap()
    }

    #[test]
    fn the_runtime_test_vector_gives_its_data_root() {
        // availproject/avail runtime/src/header_extension_builder_data_tests.rs
        let blob = blob_root([&[0xab, 0xcd][..]]);
        assert_eq!(
            data_root(&blob, &H256::default()),
            h("0xf1f399f7e0d8c8ed712df0c21b4ec78f3b8533f1c3d0215e4023e1b7c80bfd91")
        );
        // An empty block (the runtime's `empty_root`).
        assert_eq!(
            data_root(&blob_root(std::iter::empty()), &H256::default()),
            h("0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5")
        );
    }

    #[test]
    fn example_data_and_three_blobs_match_the_vectors() {
        let p = prove(&[b"ExampleData"], 0).unwrap();
        assert_eq!(
            p.leaf,
            h("0x729afe29f4e9fee2624d7ed311bcf57d24683fb78938bcb4e2a6a22c4968795e")
        );
        assert_eq!(
            p.roots.blob_root,
            h("0x8b40fa8b722bb4d74f60999f9ec2ada4d01557ccae1498da59a116e86b9b3070")
        );
        assert_eq!(
            p.roots.data_root,
            h("0x6718396890964fa91d1623f0e9db0894f6b860a6e07c67995881e6615a8fcce9")
        );
        let blobs: [&[u8]; 3] = [b"a", b"b", b"c"];
        let p = prove(&blobs, 2).unwrap();
        assert_eq!(p.number_of_leaves, 4);
        assert_eq!(
            p.roots.blob_root,
            h("0xc6f5f75a93b6603ad03677a1873e8ed2b39f043bca26a0e8438ccdd06b4e9959")
        );
        assert_eq!(
            p.roots.data_root,
            h("0x1dc6db6ddf1abc94d6411fa6a1877d40604ee5a95842a2177a15aee37679bcc0")
        );
        assert_eq!(
            p.proof[0],
            h("0x290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563")
        );
        assert_eq!(p.proof.len(), 2);
    }

    #[test]
    fn every_proof_of_every_size_verifies_and_each_lie_is_refused() {
        let data: Vec<Vec<u8>> = (0..9u8).map(|i| vec![i; usize::from(i) + 1]).collect();
        for n in 1..=data.len() {
            let refs: Vec<&[u8]> = data[..n].iter().map(|d| d.as_slice()).collect();
            let root = data_root(&blob_root(refs.iter().copied()), &H256::default());
            for (i, d) in refs.iter().enumerate() {
                let p = prove(&refs, i).unwrap();
                assert_eq!(verify(&p, d, &root), Ok(()), "n {n} i {i}");
                assert_eq!(verify(&p, b"other", &root), Err(ProofError::WrongLeaf));
                let mut q = p.clone();
                q.roots.data_root.0[0] ^= 1;
                assert_eq!(
                    verify(&q, d, &q.roots.data_root.clone()),
                    Err(ProofError::WrongRoots)
                );
                let mut other_header = root;
                other_header.0[31] ^= 1;
                assert!(matches!(
                    verify(&p, d, &other_header),
                    Err(ProofError::WrongHeader { .. })
                ));
                if !p.proof.is_empty() {
                    let mut q = p.clone();
                    q.proof[0].0[5] ^= 1;
                    assert_eq!(verify(&q, d, &root), Err(ProofError::WrongPath));
                    let mut q = p.clone();
                    q.leaf_index ^= 1;
                    assert_eq!(verify(&q, d, &root), Err(ProofError::WrongPath));
                }
            }
            assert!(prove(&refs, n).is_none());
        }
    }

    #[test]
    fn impossible_shapes_are_refused_before_hashing() {
        let p = prove(&[b"x", b"y"], 1).unwrap();
        let root = p.roots.data_root;
        for (edit, why) in [
            (
                Box::new(|q: &mut DataProof| q.number_of_leaves = 3) as Box<dyn Fn(&mut DataProof)>,
                "power of two",
            ),
            (
                Box::new(|q: &mut DataProof| q.number_of_leaves = 0),
                "power of two",
            ),
            (Box::new(|q: &mut DataProof| q.leaf_index = 2), "past"),
            (
                Box::new(|q: &mut DataProof| q.proof.push(H256::default())),
                "length",
            ),
            (
                Box::new(|q: &mut DataProof| q.number_of_leaves = 1 << 31),
                "length",
            ),
        ] {
            let mut q = p.clone();
            edit(&mut q);
            match verify(&q, b"y", &root) {
                Err(ProofError::Malformed(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_json_is_kate_query_data_proof_s() {
        let p = prove(&[b"a", b"b", b"c"], 2).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        for k in ["roots", "proof", "numberOfLeaves", "leafIndex", "leaf"] {
            assert!(v.get(k).is_some(), "{k} in {v}");
        }
        for k in ["dataRoot", "blobRoot", "bridgeRoot"] {
            assert!(v["roots"][k].as_str().unwrap().starts_with("0x"));
        }
        let back: DataProof = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<H256>("\"0x12\"").is_err());
    }
}
