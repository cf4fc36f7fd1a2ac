//! The structural checks of a publication record, reached without a valid
//! signature: the input is JSON `[publication, claims]`. Never panics, and
//! never allocates from a claimed number (a size, a count) more than the
//! input holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use modelda_da::{Locator, Namespace, ShareCommitment};
use modelda_manifest::sign::ClaimsPredicate;
use modelda_wire::record::{self, Publication};

fuzz_target!(|data: &[u8]| {
    let Ok((publication, claims)) = serde_json::from_slice::<(Publication, ClaimsPredicate)>(data)
    else {
        return;
    };
    let at = Locator::Local {
        height: 1,
        namespace: Namespace::DEFAULT,
        commitment: ShareCommitment::from_bytes([0; 32]),
    };
    if let Ok(v) = record::validate(&at, &publication, &claims) {
        for f in &v.files {
            assert_eq!(Some(f.refs.len() as u64), f.stripes.shard_count());
            assert_eq!(f.stripe_starts.len() as u64, f.stripes.count());
        }
    }
});
