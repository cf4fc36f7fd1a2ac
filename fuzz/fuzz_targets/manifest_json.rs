//! Manifest decoding never panics; an accepted manifest has a stable id.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = modelda_manifest::ModelManifest::from_json(data) {
        let again = modelda_manifest::ModelManifest::from_json(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(again.id(), m.id());
    }
});
