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
