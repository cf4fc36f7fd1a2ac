//! Golden merkle vectors: the checked-in file matches the generator, and each
//! vector holds against BLAKE3 itself.

use modelda_fixtures::{input, merkle_vectors_text};
use modelda_merkle::{FileRoot, LeafSize, RangeProof};

use super::repo;

#[test]
fn checked_in_vectors_match_the_generator() {
    let path = repo().join("fixtures/merkle-vectors.json");
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        on_disk == merkle_vectors_text(),
        "{} drifted from the generator: run `cargo run -p modelda-fixtures --bin gen-fixtures` and review the diff",
        path.display()
    );
}

#[test]
fn vectors_agree_with_blake3_and_verify() {
    let path = repo().join("fixtures/merkle-vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 28);
    let data = input(8 * (1 << 20) + 1);
    for c in cases {
        let len = c["len"].as_u64().unwrap();
        let ls = LeafSize::from_bytes(c["leaf_size"].as_u64().unwrap()).unwrap();
        let d = &data[..len as usize];
        let root: FileRoot = c["root"].as_str().unwrap().parse().unwrap();
        assert_eq!(root, FileRoot::from(blake3::hash(d)), "root of {len} bytes");
        assert_eq!(
            c["leaves"].as_array().unwrap().len() as u64,
            ls.leaf_count(len)
        );
        for p in c["proofs"].as_array().unwrap() {
            let enc = hex::decode(p["proof"].as_str().unwrap()).unwrap();
            let proof = RangeProof::decode(&enc).unwrap();
            let cov = proof.covered();
            let b = p["bytes"].as_array().unwrap();
            let range = b[0].as_u64().unwrap()..b[1].as_u64().unwrap();
            proof
                .verify(
                    &root,
                    len,
                    ls,
                    range,
                    &d[cov.start as usize..cov.end as usize],
                )
                .unwrap();
        }
    }
}
