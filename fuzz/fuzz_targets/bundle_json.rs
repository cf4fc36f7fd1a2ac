//! Signature bundle decoding and verification never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.sig");
    if let Ok(b) = modelda_manifest::sign::Bundle::from_json(p, data) {
        let _ = b.payload(p);
        let key = modelda_manifest::sign::PrivateKey::generate().public();
        let _ = b.verify(p, &key);
    }
});
