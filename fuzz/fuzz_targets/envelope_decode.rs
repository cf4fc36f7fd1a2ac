//! Envelope decoding never panics; what decodes re-encodes to the same
//! bytes; the header-only peek (what the indexer reads of every blob)
//! agrees with the full decode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_wire::Envelope;

fuzz_target!(|data: &[u8]| {
    let peeked = Envelope::peek(data);
    if let Ok((e, _)) = Envelope::decode(data) {
        let (h, len) = peeked.expect("what decodes peeks");
        assert_eq!(h, e.header);
        assert_eq!(len, e.payload.len());
    }
    if let Ok(all) = Envelope::decode_all(data) {
        let mut again = Vec::new();
        for e in &all {
            e.encode_into(&mut again);
        }
        assert_eq!(again, data);
    }
});
