//! GGUF header parsing never panics, and what it accepts is in bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = modelda_manifest::gguf::parse_bytes(data) {
        for t in &h.tensors {
            assert!(t.start <= t.end && t.end <= data.len() as u64);
        }
    }
});
