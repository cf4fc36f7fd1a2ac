//! A blob's kept share proof (`da::square::kept`), as read back from an
//! archive anyone with the bucket's keys could have written: any JSON,
//! asked to prove runs of a real blob. Never panics, never allocates from a
//! claimed count, and never gives a proof that verifies against a data
//! root it was not built for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_da::square::kept::BlobSquareProof;
use modelda_da::Namespace;

fuzz_target!(|data: &[u8]| {
    let Ok(kept) = serde_json::from_slice::<BlobSquareProof>(data) else {
        return;
    };
    let ns = Namespace::new_v0(b"fuzz").unwrap();
    let blob: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let root = [7u8; 32];
    for want in [0..1, 0..kept.shares.min(8), 1..3] {
        if let Ok(p) = kept.prove(ns, &blob, want, &root) {
            panic!("a proof against a made-up data root: {p:?}");
        }
    }
});
