//! What modelda reads from an Avail node or light client, from a hostile
//! one: a `kate_queryDataProof` answer checked against the data root of
//! three real submissions (the fuzzer starts from a valid proof of the
//! second one, `fuzz/seeds/avail_answers.json`), a timestamp inherent, and
//! an Avail locator. Never panics, never allocates from a claimed count,
//! and a proof verifies only for the real bytes of a real leaf.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_da::avail::proof::{self, DataProof};
use modelda_da::avail::timestamp_of;
use modelda_da::Locator;

const BLOBS: [&[u8]; 3] = [b"first blob", b"second blob", b"third blob"];

fuzz_target!(|data: &[u8]| {
    let root = proof::data_root(
        &proof::blob_root(BLOBS.iter().copied()),
        &proof::H256::default(),
    );
    if let Ok(dp) = serde_json::from_slice::<DataProof>(data) {
        for blob in BLOBS.iter().copied().chain([&b"not a blob"[..], data]) {
            if proof::verify(&dp, blob, &root).is_ok() {
                assert!(BLOBS.contains(&blob), "a proof verified bytes never submitted");
                assert_eq!(dp.leaf, proof::leaf_of(blob));
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = timestamp_of(s);
        if let Ok(l) = s.parse::<Locator>() {
            assert_eq!(l.to_string().parse::<Locator>().ok(), Some(l));
        }
    }
    let _ = timestamp_of(&format!("0x{}", hex::encode(data)));
});
