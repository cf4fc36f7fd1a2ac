//! Advisory decoding and checking never panic, whatever the blob; nor
//! does reading a statement's predicate type (the indexer's dispatch).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = modelda_wire::advisory::decode(data);
    // The payload alone, as the indexer reads it from an envelope.
    let _ = modelda_wire::statement::predicate_type(data);
    let _ = modelda_wire::advisory::parse(&modelda_manifest::ModelId::from_bytes([0; 32]), data);
});
