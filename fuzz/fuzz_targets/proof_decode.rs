//! Proof decoding never panics; a decoded proof re-encodes to the same bytes
//! and verifying it against arbitrary data never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_merkle::{FileRoot, RangeProof};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RangeProof::decode(data) {
        assert_eq!(p.encode(), data);
        let cov = p.covered();
        let want = (cov.end - cov.start).min(1 << 20) as usize;
        let bytes = vec![0u8; want];
        let root = FileRoot::from_bytes([0; 32]);
        let _ = p.verify(&root, p.file_len(), p.leaf_size(), p.bytes(), &bytes);
    }
});
