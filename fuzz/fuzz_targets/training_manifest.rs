//! Training manifest parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = modelda_manifest::training::parse(std::path::Path::new("t.toml"), s, |_| {
            Ok((modelda_merkle::FileRoot::from_bytes([7; 32]), 1))
        });
    }
});
