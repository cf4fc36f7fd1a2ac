//! Envelope decoding never panics; what decodes re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_publisher::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(all) = Envelope::decode_all(data) {
        let mut again = Vec::new();
        for e in &all {
            e.encode_into(&mut again);
        }
        assert_eq!(again, data);
    }
});
