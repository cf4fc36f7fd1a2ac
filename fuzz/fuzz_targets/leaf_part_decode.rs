//! Decoding a sub-leaf proof never panics; a decoded proof re-encodes to
//! the same bytes, and recomputing a chaining value or a file root from it
//! with arbitrary bytes never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_merkle::LeafPartProof;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = LeafPartProof::decode(data) {
        assert_eq!(p.encode(), data);
        let span = p.span();
        let bytes = vec![7u8; (span.end - span.start).min(1 << 23) as usize];
        let _ = p.leaf_cv(p.leaf_size(), p.leaf_index(), p.leaf_len(), span.clone(), &bytes);
        let _ = p.file_root(p.leaf_size(), p.leaf_len(), span, &bytes);
    }
});
