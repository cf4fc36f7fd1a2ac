//! Decoder robustness: arbitrary and mutated input is rejected with an
//! error, never a panic (the fuzz targets in `fuzz/` go further).

use std::path::Path;

use proptest::prelude::*;

use crate::{gguf, safetensors, sign::Bundle, ModelManifest};

fn valid_safetensors() -> Vec<u8> {
    let h = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}"#;
    let mut f = (h.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(h.as_bytes());
    f.extend_from_slice(&[1; 11]);
    f
}

fn valid_gguf() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models/tiny/tiny-q8.gguf"),
    )
    .unwrap()
}

/// Applies byte edits to `f`, then truncates it at `cut`.
fn mutate(
    mut f: Vec<u8>,
    edits: Vec<(prop::sample::Index, u8)>,
    cut: prop::sample::Index,
) -> Vec<u8> {
    for (i, b) in edits {
        let i = i.index(f.len());
        f[i] = b;
    }
    let n = cut.index(f.len() + 1);
    f.truncate(n);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn safetensors_random_bytes(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = safetensors::parse_bytes(&buf);
    }

    #[test]
    fn safetensors_mutations(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut: prop::sample::Index) {
        let f = mutate(valid_safetensors(), edits, cut);
        if let Ok(h) = safetensors::parse_bytes(&f) {
            for t in h.tensors {
                prop_assert!(t.end <= f.len() as u64);
            }
        }
    }

    #[test]
    fn gguf_mutations(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut: prop::sample::Index) {
        let f = mutate(valid_gguf(), edits, cut);
        if let Ok(h) = gguf::parse_bytes(&f) {
            for t in h.tensors {
                prop_assert!(t.end <= f.len() as u64);
            }
        }
    }

    #[test]
    fn gguf_random_bytes(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut f = b"GGUF\x03\0\0\0".to_vec();
        f.extend(buf);
        let _ = gguf::parse_bytes(&f);
    }

    #[test]
    fn manifest_and_bundle_random_json(s in "\\PC{0,200}") {
        let _ = ModelManifest::from_json(s.as_bytes());
        let _ = Bundle::from_json(Path::new("x.sig"), s.as_bytes());
        let _ = crate::card::parse(Path::new("README.md"), &format!("---\n{s}\n---\n"));
    }
}

#[test]
fn huge_counts_do_not_allocate() {
    // A GGUF header claiming 2^60 tensors and metadata pairs is refused up front.
    let mut f = b"GGUF\x03\0\0\0".to_vec();
    f.extend_from_slice(&(1u64 << 60).to_le_bytes());
    f.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(gguf::parse_bytes(&f)
        .unwrap_err()
        .reason
        .contains("cannot fit"));
    let mut f = b"GGUF\x03\0\0\0".to_vec();
    f.extend_from_slice(&(1u64 << 60).to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    assert!(gguf::parse_bytes(&f)
        .unwrap_err()
        .reason
        .contains("cannot fit"));
    // A safetensors header length of 2^63 is refused before reading.
    let mut f = (1u64 << 63).to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    assert!(safetensors::parse_bytes(&f).is_err());
}

mod validation {
    //! A manifest read from a stranger is validated as strictly as one made
    //! by `commit`: every rule refused with its own typed error.

    use std::collections::BTreeMap;

    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use modelda_merkle::{Commitment, FileRoot, LeafSize};
    use proptest::prelude::*;

    use crate::sign::{ClaimsPredicate, PrivateKey};
    use crate::{Error, FileEntry, FileFormat, ModelManifest, TensorHash, TensorInfo};

    fn tensor(name: &str, dtype: &str, shape: Vec<u64>, start: u64, end: u64) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype: dtype.into(),
            shape,
            start,
            end,
            blake3: TensorHash::from_bytes([0; 32]),
        }
    }

    fn file(path: &str, size: u64, format: FileFormat, tensors: Vec<TensorInfo>) -> FileEntry {
        FileEntry {
            path: path.into(),
            size,
            root: FileRoot::from_bytes([0; 32]),
            leaf_size: LeafSize::MIN,
            format,
            tensors,
        }
    }

    fn manifest(files: Vec<FileEntry>) -> ModelManifest {
        ModelManifest {
            version: 1,
            files,
            lineage: vec![],
            training: None,
            card: Default::default(),
        }
    }

    fn check(files: Vec<FileEntry>) -> crate::Result<()> {
        manifest(files).validate()
    }

    #[test]
    fn valid_weights_pass() {
        let st = file(
            "a.safetensors",
            100,
            FileFormat::Safetensors,
            vec![
                tensor("x", "F16", vec![2, 3], 20, 32),
                tensor("empty", "F32", vec![0, 7], 32, 32),
                tensor("y", "F4", vec![3], 32, 34),
            ],
        );
        // F4 [3] is 12 bits: not whole bytes.
        assert!(matches!(
            check(vec![st.clone()]),
            Err(Error::TensorShape { needed: None, .. })
        ));
        let mut st = st;
        st.tensors[2] = tensor("y", "F4", vec![4], 32, 34);
        let gguf = file(
            "b.gguf",
            1000,
            FileFormat::Gguf,
            vec![tensor("q", "Q8_0", vec![64, 2], 96, 96 + 4 * 34)],
        );
        check(vec![st, gguf]).unwrap();
    }

    #[test]
    fn every_rule_has_its_error() {
        let st = |tensors| file("w.safetensors", 4096 + 8, FileFormat::Safetensors, tensors);
        let big = tensor("w", "F32", vec![1 << 32, 1 << 32, 1 << 32], 8, 4096 + 8);
        assert!(matches!(
            check(vec![st(vec![big])]),
            Err(Error::TensorShape {
                needed: None,
                bytes: 4096,
                ..
            })
        ));
        let wrong = tensor("w", "F32", vec![1000], 8, 4096 + 8);
        assert!(matches!(
            check(vec![st(vec![wrong])]),
            Err(Error::TensorShape {
                needed: Some(4000),
                bytes: 4096,
                ..
            })
        ));
        let outside = tensor("w", "F32", vec![1024], 16, 4096 + 16);
        assert!(matches!(
            check(vec![st(vec![outside])]),
            Err(Error::TensorRange { .. })
        ));
        let reversed = tensor("w", "U8", vec![0], 20, 10);
        assert!(matches!(
            check(vec![st(vec![reversed])]),
            Err(Error::TensorRange { .. })
        ));
        let a = tensor("w", "U8", vec![10], 8, 18);
        let overlap = tensor("v", "U8", vec![10], 10, 20);
        assert!(matches!(
            check(vec![st(vec![a.clone(), overlap])]),
            Err(Error::TensorRange { .. })
        ));
        let again = tensor("w", "U8", vec![10], 18, 28);
        assert!(matches!(
            check(vec![st(vec![a.clone(), again])]),
            Err(Error::DuplicateTensor { .. })
        ));
        let q = tensor("w", "Q8_0", vec![32], 8, 42);
        assert!(matches!(
            check(vec![st(vec![q])]),
            Err(Error::TensorDtype {
                format: "safetensors",
                ..
            })
        ));
        let gguf = |t| file("m.gguf", 4096, FileFormat::Gguf, vec![t]);
        assert!(matches!(
            check(vec![gguf(tensor("w", "Q8_0", vec![33], 0, 34))]),
            Err(Error::TensorShape { needed: None, .. })
        ));
        assert!(matches!(
            check(vec![gguf(tensor("w", "F32", vec![1, 1, 1, 1, 1], 0, 4))]),
            Err(Error::TensorShape { needed: None, .. })
        ));
        assert!(matches!(
            check(vec![gguf(tensor("w", "BF16", vec![1], 0, 2))]),
            Ok(())
        ));
        assert!(matches!(
            check(vec![file("c.json", 100, FileFormat::Config, vec![a])]),
            Err(Error::TensorDtype {
                format: "config",
                ..
            })
        ));
        for bad in ["../x", "a/./b", "/abs", "a\\b", "", "a/", "x\0y"] {
            assert!(
                matches!(
                    check(vec![file(bad, 1, FileFormat::Other, vec![])]),
                    Err(Error::ManifestPath { .. })
                ),
                "{bad:?}"
            );
        }
        let twice = vec![
            file("a", 1, FileFormat::Other, vec![]),
            file("a", 1, FileFormat::Other, vec![]),
        ];
        assert!(matches!(check(twice), Err(Error::FileOrder { .. })));
        let mut m = manifest(vec![]);
        m.version = 2;
        assert!(matches!(
            m.validate(),
            Err(Error::UnsupportedVersion { found: 2, .. })
        ));
    }

    fn claims(files: Vec<(FileEntry, Vec<u8>)>) -> ClaimsPredicate {
        let mut leaves = BTreeMap::new();
        let mut entries = Vec::new();
        for (mut e, data) in files {
            let c = Commitment::from_bytes(&data, e.leaf_size);
            e.size = data.len() as u64;
            e.root = c.root();
            if c.leaves().len() >= 2 {
                let raw: Vec<u8> = c.leaves().iter().flat_map(|l| *l.as_bytes()).collect();
                leaves.insert(e.path.clone(), B64.encode(raw));
            }
            entries.push(e);
        }
        let manifest = manifest(entries);
        ClaimsPredicate {
            model_id: manifest.id(),
            manifest,
            leaves,
            public_key: PrivateKey::generate().public().to_pem(),
        }
    }

    #[test]
    fn claims_leaf_counts_match_sizes_before_decoding() {
        let data = vec![1u8; 3 * LeafSize::MIN.bytes() as usize];
        let c = claims(vec![(file("a", 0, FileFormat::Other, vec![]), data)]);
        c.validate().unwrap();
        let e = &c.manifest.files[0];
        assert_eq!(c.commitment(e).unwrap().unwrap().leaves().len(), 3);
        // A file of 2^62 bytes with its id recomputed: the count is refused.
        let mut huge = c.clone();
        huge.manifest.files[0].size = 1 << 62;
        huge.model_id = huge.manifest.id();
        assert!(matches!(
            huge.validate(),
            Err(Error::LeafCount { found: 3, expected, .. }) if expected == 1 << 48
        ));
        assert!(matches!(
            huge.commitment(&huge.manifest.files[0]),
            Err(Error::LeafCount { .. })
        ));
        // An id that is not the manifest's hash.
        let mut other = c.clone();
        other.manifest.files[0].size -= 1;
        assert!(matches!(
            other.validate(),
            Err(Error::ModelIdMismatch { .. })
        ));
        // Leaves that are not 32-byte values, or for a file without them.
        let mut bad = c.clone();
        bad.leaves.insert("a".into(), B64.encode([0u8; 33]));
        assert!(matches!(bad.validate(), Err(Error::LeafEncoding { .. })));
        let mut extra = c.clone();
        extra.leaves.insert("b".into(), B64.encode([0u8; 64]));
        assert!(matches!(
            extra.validate(),
            Err(Error::UnexpectedLeaves { .. })
        ));
        let mut missing = c;
        missing.leaves.clear();
        assert!(matches!(
            missing.validate(),
            Err(Error::LeafCount { found: 0, .. })
        ));
    }

    proptest! {
        /// Any size, shape and dtype: validation answers without
        /// panicking, and accepts a tensor only when its shape needs
        /// exactly its bytes.
        #[test]
        fn tensor_rules_are_total(
            shape in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..8], 0..6),
            dtype in prop::sample::select(vec!["F32", "F16", "F4", "F6_E2M3", "Q8_0", "Q4_K", "BOOL", "X"]),
            gguf in any::<bool>(),
            start in prop_oneof![any::<u64>(), 0u64..64],
            len in prop_oneof![any::<u64>(), 0u64..256],
            size in any::<u64>(),
        ) {
            let format = if gguf { FileFormat::Gguf } else { FileFormat::Safetensors };
            let end = start.saturating_add(len);
            let t = tensor("t", dtype, shape, start, end);
            let f = file("w", size, format, vec![t.clone()]);
            if check(vec![f]).is_ok() {
                prop_assert!(end <= size);
                let needed = if gguf {
                    crate::gguf::ggml_type_by_name(dtype)
                        .and_then(|(b, n)| crate::gguf::tensor_bytes(b, n, &t.shape))
                } else {
                    crate::safetensors::dtype_bits(dtype)
                        .and_then(|b| crate::safetensors::tensor_bytes(b, &t.shape))
                };
                prop_assert_eq!(needed, Some(t.len()));
            }
        }
    }
}
