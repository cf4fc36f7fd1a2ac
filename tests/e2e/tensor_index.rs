//! The tensor index agrees with the reference packages' own reading of
//! fixtures they wrote (`fixtures/models/tiny.expected.json`).

use modelda_manifest::{commit_dir, CommitOptions, FileFormat, NoProgress};

use super::repo;

#[test]
fn tensor_index_matches_the_reference_packages() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/models/tiny.expected.json")).unwrap(),
    )
    .unwrap();
    let model = commit_dir(
        &repo().join("fixtures/models/tiny"),
        &CommitOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let m = &model.manifest;
    for f in expected["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let entry = m
            .file(path)
            .unwrap_or_else(|| panic!("{path} missing from the manifest"));
        assert_eq!(entry.size, f["size"].as_u64().unwrap(), "{path}");
        assert_eq!(entry.root.to_hex(), f["blake3"].as_str().unwrap(), "{path}");
    }
    assert_eq!(m.files.len(), expected["files"].as_array().unwrap().len());
    let tensors = expected["tensors"].as_array().unwrap();
    let ours: usize = m.files.iter().map(|f| f.tensors.len()).sum();
    assert_eq!(ours, tensors.len(), "tensor count");
    for t in tensors {
        let file = m.file(t["file"].as_str().unwrap()).unwrap();
        let name = t["name"].as_str().unwrap();
        let got = file
            .tensors
            .iter()
            .find(|x| x.name == name)
            .unwrap_or_else(|| panic!("tensor {name}"));
        assert_eq!(got.dtype, t["dtype"].as_str().unwrap(), "{name}");
        let shape: Vec<u64> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(got.shape, shape, "{name}");
        assert_eq!(got.start, t["start"].as_u64().unwrap(), "{name}");
        assert_eq!(got.end, t["end"].as_u64().unwrap(), "{name}");
        assert_eq!(got.blake3.to_hex(), t["blake3"].as_str().unwrap(), "{name}");
    }
    assert_eq!(m.file("tiny-q8.gguf").unwrap().format, FileFormat::Gguf);
    assert_eq!(m.card.base_model, vec!["some-org/base-model"]);
    assert_eq!(m.card.datasets.len(), 2);
}

#[test]
fn model_id_is_stable_and_content_addressed() {
    let a = commit_dir(
        &repo().join("fixtures/models/tiny"),
        &CommitOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let b = commit_dir(
        &repo().join("fixtures/models/tiny"),
        &CommitOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(a.id, b.id);
    let mut opts = CommitOptions::default();
    opts.lineage
        .push(format!("{}:quantized", a.id).parse().unwrap());
    let c = commit_dir(&repo().join("fixtures/models/tiny"), &opts, &NoProgress).unwrap();
    assert_ne!(a.id, c.id, "lineage is part of the id");
    let json = serde_json::to_vec(&c.manifest).unwrap();
    let back = modelda_manifest::ModelManifest::from_json(&json).unwrap();
    assert_eq!(back.id(), c.id, "the id survives a JSON round trip");
}
