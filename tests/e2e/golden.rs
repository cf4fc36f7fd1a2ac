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

#[test]
fn checked_in_protocol_vectors_match_the_generator() {
    let path = repo().join("fixtures/protocol-vectors.json");
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        on_disk == modelda_fixtures::protocol::protocol_vectors_text(),
        "{} drifted from the generator: the canonical manifest encoding, the envelope layout or the record format changed. If that is intended, run `cargo run -p modelda-fixtures --bin gen-fixtures` and review the diff",
        path.display()
    );
}

#[test]
fn protocol_vectors_decode_and_verify() {
    use modelda_manifest::ModelManifest;
    use modelda_publisher::envelope::Envelope;
    use modelda_publisher::record;

    let path = repo().join("fixtures/protocol-vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // The manifest: its canonical bytes hash to its id.
    let m = &v["manifest"];
    let manifest = ModelManifest::from_json(&serde_json::to_vec(&m["json"]).unwrap()).unwrap();
    let canonical = hex::decode(m["canonical"].as_str().unwrap()).unwrap();
    assert_eq!(manifest.canonical_bytes(), canonical);
    assert_eq!(blake3::hash(&canonical).to_hex().as_str(), m["model_id"]);
    assert_eq!(manifest.id().to_hex(), m["model_id"]);
    // Envelopes decode to their payloads and re-encode to the same bytes.
    for e in v["envelopes"].as_array().unwrap() {
        let enc = hex::decode(e["encoded"].as_str().unwrap()).unwrap();
        let (env, rest) = Envelope::decode(&enc).unwrap();
        assert!(rest.is_empty());
        assert_eq!(hex::encode(&env.payload), e["payload"]);
        assert_eq!(env.header.stripe, e["stripe"].as_u64().unwrap());
        assert_eq!(env.encode(), enc);
    }
    // The record: the root page holds the signed bundle, which opens with
    // the key it carries and is for the manifest's model.
    let r = &v["record"];
    let root = hex::decode(r["root_page"].as_str().unwrap()).unwrap();
    let page = Envelope::decode_at(&root, 0).unwrap();
    let at: modelda_da::Locator = r["locator"].as_str().unwrap().parse().unwrap();
    let record::RootPage::Inline(bundle) = record::parse_root(&at, &page.payload).unwrap() else {
        panic!("the fixed record is inline")
    };
    assert_eq!(bundle, r["bundle"].as_str().unwrap().as_bytes());
    let opened = record::parse(&at, bundle, None).unwrap();
    assert_eq!(opened.model_id(), manifest.id());
    assert_eq!(opened.key.to_pem(), r["public_key"].as_str().unwrap());
    assert_eq!(
        serde_json::to_value(&opened.publication).unwrap(),
        r["publication"]
    );
}
