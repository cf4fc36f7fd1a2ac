//! Property and differential tests of commitments and proofs.

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};
use proptest::prelude::*;

use crate::{Commitment, Error, FileRoot, LeafSize, RangeProof};

/// A naive recursive tree straight over the bytes, independent of the leaf
/// vector code: the reference the commitment is checked against.
fn naive_root(data: &[u8], leaf: u64) -> FileRoot {
    fn cv(data: &[u8], offset: u64, leaf: usize) -> [u8; 32] {
        if data.len() <= leaf {
            let mut h = blake3::Hasher::new();
            h.set_input_offset(offset);
            h.update(data);
            return h.finalize_non_root();
        }
        let n = data.len().div_ceil(leaf);
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        let (l, r) = data.split_at(k * leaf);
        merge_subtrees_non_root(
            &cv(l, offset, leaf),
            &cv(r, offset + (k * leaf) as u64, leaf),
            Mode::Hash,
        )
    }
    let leaf = leaf as usize;
    if data.len() <= leaf {
        return FileRoot::from(blake3::hash(data));
    }
    let n = data.len().div_ceil(leaf);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    let (l, r) = data.split_at(k * leaf);
    FileRoot::from(merge_subtrees_root(
        &cv(l, 0, leaf),
        &cv(r, (k * leaf) as u64, leaf),
        Mode::Hash,
    ))
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut out);
    out
}

/// A file of 0..=40 small leaves (16 or 32 KiB) and a non-empty byte range in it.
fn case() -> impl Strategy<Value = (Vec<u8>, LeafSize, std::ops::Range<u64>)> {
    (0u8..2, 1usize..40 * 16384, any::<u8>())
        .prop_flat_map(|(ls, len, seed)| {
            let ls = LeafSize::from_log2(14 + ls).unwrap();
            (Just(bytes(len, seed)), Just(ls), 0..len as u64)
        })
        .prop_flat_map(|(d, ls, start)| {
            let len = d.len() as u64;
            (Just(d), Just(ls), Just(start), start + 1..=len)
        })
        .prop_map(|(d, ls, a, b)| (d, ls, a..b))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn root_matches_blake3_and_naive_tree(len in 0usize..300_000, seed: u8, ls in 0u8..3) {
        let ls = LeafSize::from_log2(14 + ls).unwrap();
        let d = bytes(len, seed);
        let c = Commitment::from_bytes(&d, ls);
        prop_assert_eq!(c.root(), FileRoot::from(blake3::hash(&d)));
        prop_assert_eq!(c.root(), naive_root(&d, ls.bytes()));
    }

    #[test]
    fn proof_round_trips((d, ls, range) in case()) {
        let c = Commitment::from_bytes(&d, ls);
        let p = RangeProof::decode(&c.prove(range.clone()).unwrap().encode()).unwrap();
        let cov = p.covered();
        let got = p.verify(&c.root(), d.len() as u64, ls, range.clone(), &d[cov.start as usize..cov.end as usize]).unwrap();
        prop_assert_eq!(got, &d[range.start as usize..range.end as usize]);
    }

    #[test]
    fn tampered_byte_fails((d, ls, range) in case(), pick: prop::sample::Index, flip in 1u8..=255) {
        let c = Commitment::from_bytes(&d, ls);
        let p = c.prove(range.clone()).unwrap();
        let cov = p.covered();
        let mut data = d[cov.start as usize..cov.end as usize].to_vec();
        let i = pick.index(data.len());
        data[i] ^= flip;
        let is_root_mismatch = matches!(
            p.verify(&c.root(), d.len() as u64, ls, range, &data),
            Err(Error::RootMismatch { .. })
        );
        prop_assert!(is_root_mismatch);
    }

    #[test]
    fn tampered_proof_fails((d, ls, range) in case(), pick: prop::sample::Index, flip in 1u8..=255) {
        let c = Commitment::from_bytes(&d, ls);
        let mut enc = c.prove(range.clone()).unwrap().encode();
        let i = pick.index(enc.len());
        enc[i] ^= flip;
        let cov = c.prove(range.clone()).unwrap().covered();
        let data = &d[cov.start as usize..cov.end as usize];
        // Either it no longer decodes, or it no longer verifies for this file and range.
        if let Ok(p) = RangeProof::decode(&enc) {
            let cov2 = p.covered();
            let ok_len = cov2 == cov;
            prop_assert!(!ok_len || p.verify(&c.root(), d.len() as u64, ls, range, data).is_err());
        }
    }

    #[test]
    fn wrong_length_or_data_length_fails((d, ls, range) in case(), extra in 1u64..5) {
        let c = Commitment::from_bytes(&d, ls);
        let p = c.prove(range.clone()).unwrap();
        let cov = p.covered();
        let data = &d[cov.start as usize..cov.end as usize];
        prop_assert!(p.verify(&c.root(), d.len() as u64 + extra, ls, range.clone(), data).is_err());
        prop_assert!(p.verify(&c.root(), d.len() as u64, ls, range.clone(), &data[..data.len() - 1]).is_err());
        let other = FileRoot::from(blake3::hash(b"other"));
        prop_assert!(p.verify(&other, d.len() as u64, ls, range, data).is_err());
    }

    #[test]
    fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = RangeProof::decode(&buf);
    }
}
