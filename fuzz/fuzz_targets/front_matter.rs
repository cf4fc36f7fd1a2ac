//! Model card front matter parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = modelda_manifest::card::parse(std::path::Path::new("README.md"), s);
    }
});
