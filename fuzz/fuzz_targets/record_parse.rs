//! Publication records and root pages from a layer never panic the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_da::{Locator, Namespace, ShareCommitment};
use modelda_wire::record;

fuzz_target!(|data: &[u8]| {
    let at = Locator::Local {
        height: 1,
        namespace: Namespace::DEFAULT,
        commitment: ShareCommitment::from_bytes([0; 32]),
    };
    let _ = record::parse(&at, data, None);
    let _ = record::parse_root(&at, data);
});
