//! Differential, end-to-end, tampering and property tests of leaf part proofs.

use std::ops::Range;

use blake3::hazmat::{merge_subtrees_non_root, HasherExt, Mode};
use proptest::prelude::*;

use super::*;
use crate::{leaf_cv, Commitment};

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 10) as u8)
        .collect()
}

/// A naive leaf chaining value: every chunk's chaining value, merged by the
/// split rule. Independent of `Hasher`'s own subtree hashing.
fn naive_leaf_cv(offset: u64, bytes: &[u8]) -> [u8; 32] {
    fn merge(cvs: &[[u8; 32]]) -> [u8; 32] {
        if cvs.len() == 1 {
            return cvs[0];
        }
        let mut k = 1;
        while k * 2 < cvs.len() {
            k *= 2;
        }
        merge_subtrees_non_root(&merge(&cvs[..k]), &merge(&cvs[k..]), Mode::Hash)
    }
    let cvs: Vec<[u8; 32]> = (bytes.chunks(1024).enumerate())
        .map(|(j, c)| {
            let mut h = blake3::Hasher::new();
            h.set_input_offset(offset + 1024 * j as u64);
            h.update(c);
            h.finalize_non_root()
        })
        .collect();
    merge(&cvs)
}

fn at(d: &[u8], r: Range<u64>) -> &[u8] {
    &d[r.start as usize..r.end as usize]
}

/// Every chunk-aligned span of a leaf of `len` bytes, or those whose ends fall
/// on `sample` chunk indexes when given.
fn spans(len: u64, sample: Option<&[u64]>) -> Vec<Range<u64>> {
    let chunks = len.div_ceil(1024);
    let ends: Vec<u64> = match sample {
        None => (0..=chunks).collect(),
        Some(s) => s.iter().copied().filter(|&c| c <= chunks).collect(),
    };
    let mut out = Vec::new();
    for &a in &ends {
        for &b in ends.iter().filter(|&&b| b > a) {
            out.push(a * 1024..(b * 1024).min(len));
        }
    }
    out
}

/// Proves each span of leaf `index` (`len` bytes) and checks the chaining
/// value it gives back against `leaf_cv` and the naive tree.
fn check_leaf(ls: LeafSize, index: u64, len: u64, sample: Option<&[u64]>) {
    let d = data((index * ls.bytes() + len) as usize);
    let leaf = &d[(index * ls.bytes()) as usize..];
    let want = leaf_cv(ls, index, leaf);
    assert_eq!(*want.as_bytes(), naive_leaf_cv(index * ls.bytes(), leaf));
    for span in spans(len, sample) {
        let p = LeafPartProof::prove(ls, index, leaf, span.clone()).unwrap();
        assert_eq!(p.span(), span);
        let p = LeafPartProof::decode(&p.encode()).unwrap();
        let got = p.leaf_cv(ls, index, len, span.clone(), at(leaf, span.clone()));
        assert_eq!(
            got.unwrap(),
            want,
            "leaf {index} of {len} bytes, span {span:?}"
        );
    }
}

#[test]
fn chunk_span_rounds_out_and_caps() {
    assert_eq!(chunk_span(16384, 0..1), 0..1024);
    assert_eq!(chunk_span(16384, 1000..1025), 0..2048);
    assert_eq!(chunk_span(16384, 1024..2048), 1024..2048);
    assert_eq!(chunk_span(1500, 1100..1200), 1024..1500);
    assert_eq!(chunk_span(16384, 0..u64::MAX), 0..16384);
    assert!(chunk_span(16384, 5..5).is_empty());
    let reversed = Range { start: 6, end: 5 };
    assert!(chunk_span(16384, reversed).is_empty());
    assert!(chunk_span(100, 200..300).is_empty());
}

#[test]
fn every_span_of_small_leaves_gives_the_leaf_cv() {
    let ls = LeafSize::MIN;
    let full = ls.bytes();
    for index in [0u64, 1, 6] {
        for len in [1, 1023, 1024, 1025, 3072, 3073, full - 1, full] {
            check_leaf(ls, index, len, None);
        }
    }
}

#[test]
fn sampled_spans_of_large_leaves_give_the_leaf_cv() {
    let sample = [
        0, 1, 2, 3, 31, 32, 33, 63, 64, 511, 512, 513, 1000, 1023, 1024,
    ];
    for (ls, lens) in [
        (LeafSize::from_log2(16).unwrap(), vec![65536, 40_000]),
        (
            LeafSize::DEFAULT,
            vec![1 << 20, (1 << 20) - 5, 700 * 1024 + 3],
        ),
    ] {
        for len in lens {
            check_leaf(ls, 2, len, Some(&sample));
        }
    }
}

#[test]
fn prove_rounds_unaligned_ranges_out_and_refuses_empty_ones() {
    let ls = LeafSize::MIN;
    let d = data(ls.bytes() as usize);
    let p = LeafPartProof::prove(ls, 3, &d, 1500..5000).unwrap();
    assert_eq!(p.span(), 1024..5120);
    assert_eq!(p.covered(), 3 * 16384 + 1024..3 * 16384 + 5120);
    for bad in [5..5, Range { start: 6, end: 5 }, 0..16385] {
        let err = LeafPartProof::prove(ls, 3, &d, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidSpan { .. }), "{err}");
    }
    let err = LeafPartProof::prove(ls, 3, &data(16385), 0..1).unwrap_err();
    assert!(matches!(err, Error::InvalidSpan { .. }), "{err}");
    let err = LeafPartProof::prove(ls, u64::MAX >> 10, &d, 0..1).unwrap_err();
    assert!(matches!(err, Error::InvalidSpan { .. }), "{err}");
}

/// A served range: the leaf-level proof and a part proof of each edge leaf
/// (one when the range sits in one leaf).
fn serve(d: &[u8], ls: LeafSize, range: Range<u64>) -> (RangeProof, Vec<LeafPartProof>) {
    let len = d.len() as u64;
    let proof = Commitment::from_bytes(d, ls).prove(range.clone()).unwrap();
    let leaves = proof.leaves();
    let mut edges = vec![leaves.start, leaves.end - 1];
    edges.dedup();
    let mut parts = Vec::new();
    for i in edges {
        let lb = ls.leaf_bytes(len, i);
        let within = range.start.max(lb.start) - lb.start..range.end.min(lb.end) - lb.start;
        parts.push(LeafPartProof::prove(ls, i, at(d, lb), within).unwrap());
    }
    (proof, parts)
}

/// Verifies `held` with a served range proof: the bytes a verifier of `range`
/// holds, the range rounded out to chunks (`chunk_span` over the whole file,
/// whose leaves are whole chunks).
fn verify_served(
    root: &FileRoot,
    len: u64,
    ls: LeafSize,
    range: Range<u64>,
    (proof, parts): &(RangeProof, Vec<LeafPartProof>),
    held: &[u8],
) -> Result<()> {
    let base = chunk_span(len, range.clone()).start;
    let leaves = ls.leaves_of(len, range.clone())?;
    let mut cvs = Vec::new();
    for i in leaves.clone() {
        let lb = ls.leaf_bytes(len, i);
        let within = range.start.max(lb.start) - lb.start..range.end.min(lb.end) - lb.start;
        let span = chunk_span(lb.end - lb.start, within);
        let file = lb.start + span.start - base..lb.start + span.end - base;
        let bytes = held
            .get(file.start as usize..file.end as usize)
            .unwrap_or(&[]);
        cvs.push(if i == leaves.start || i == leaves.end - 1 {
            let part = &parts[usize::from(i != leaves.start)];
            part.leaf_cv(ls, i, lb.end - lb.start, span, bytes)?
        } else {
            leaf_cv(ls, i, bytes)
        });
    }
    proof.verify_cvs(root, len, ls, range, &cvs)
}

fn offsets(len: u64, l: u64) -> Vec<u64> {
    let mut v: Vec<u64> = [0, 1, 1023, 1024, 1025, l - 1, l, l + 1, 2 * l + 517]
        .into_iter()
        .chain([len - 1, len])
        .collect();
    v.retain(|&o| o <= len);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn ranges_of_multi_leaf_files_verify_with_chunk_rounded_bytes() {
    let ls = LeafSize::MIN;
    let l = ls.bytes();
    for len in [2 * l, 5 * l - 3, 8 * l + 1] {
        let d = data(len as usize);
        let root = FileRoot::from(blake3::hash(&d));
        let os = offsets(len, l);
        for (i, &s) in os.iter().enumerate() {
            for &e in &os[i + 1..] {
                let served = serve(&d, ls, s..e);
                let held = at(&d, chunk_span(len, s..e));
                assert!(held.len() as u64 <= e - s + 2046);
                verify_served(&root, len, ls, s..e, &served, held)
                    .unwrap_or_else(|err| panic!("len {len} range {s}..{e}: {err}"));
            }
        }
    }
}

#[test]
fn verify_cvs_agrees_with_verify_and_refuses_bad_cvs() {
    let ls = LeafSize::MIN;
    let len = 7 * ls.bytes() - 3;
    let d = data(len as usize);
    let c = Commitment::from_bytes(&d, ls);
    for a in 0..7 {
        for b in a + 1..=7 {
            let bytes = ls.bytes_of(len, a..b);
            let p = c.prove(bytes.clone()).unwrap();
            let cvs = &c.leaves()[a as usize..b as usize];
            p.verify_cvs(&c.root(), len, ls, bytes.clone(), cvs)
                .unwrap();
            let err = p.verify_cvs(&c.root(), len, ls, bytes.clone(), &cvs[1..]);
            assert!(matches!(err, Err(Error::CvCount { .. })));
            let mut wrong = cvs.to_vec();
            wrong[0] = LeafCv::from_bytes([0; 32]);
            let err = p.verify_cvs(&c.root(), len, ls, bytes.clone(), &wrong);
            assert!(matches!(err, Err(Error::RootMismatch { .. })));
            let err = p.verify_cvs(&c.root(), len + 1, ls, bytes, cvs);
            assert!(matches!(err, Err(Error::ProofMismatch { .. })));
        }
    }
    let one = Commitment::from_bytes(&d[..100], ls);
    let p = one.prove(0..100).unwrap();
    let err = p.verify_cvs(&one.root(), 100, ls, 0..100, one.leaves());
    assert!(matches!(err, Err(Error::SingleLeafFile { .. })));
}

#[test]
fn files_of_one_leaf_give_back_their_hash() {
    let ls = LeafSize::MIN;
    for len in [1, 1023, 1024, 1025, 3072, ls.bytes() - 1, ls.bytes()] {
        let d = data(len as usize);
        let root = FileRoot::from(blake3::hash(&d));
        for span in spans(len, None) {
            let p = LeafPartProof::prove(ls, 0, &d, span.clone()).unwrap();
            let got = p.file_root(ls, len, span.clone(), at(&d, span.clone()));
            assert_eq!(got.unwrap(), root, "len {len} span {span:?}");
        }
        let p = LeafPartProof::prove(ls, 0, &d, 0..1).unwrap();
        let err = p.file_root(ls, len + 1, p.span(), at(&d, p.span()));
        assert!(matches!(err, Err(Error::ProofMismatch { .. })));
    }
}

#[test]
fn tampering_is_refused() {
    let ls = LeafSize::MIN;
    let l = ls.bytes();
    let len = 5 * l - 3;
    let d = data(len as usize);
    let root = FileRoot::from(blake3::hash(&d));
    let range = l + 1500..3 * l + 700;
    let served = serve(&d, ls, range.clone());
    let held = at(&d, chunk_span(len, range.clone())).to_vec();
    verify_served(&root, len, ls, range.clone(), &served, &held).unwrap();
    for i in [0, 600, held.len() / 2, held.len() - 1] {
        let mut bad = held.clone();
        bad[i] ^= 1;
        let err = verify_served(&root, len, ls, range.clone(), &served, &bad);
        assert!(matches!(err, Err(Error::RootMismatch { .. })), "byte {i}");
    }
    let (proof, parts) = &served;
    for which in 0..2 {
        let mut enc = parts[which].encode();
        enc[HEADER_LEN + 5] ^= 1;
        let mut bad = parts.clone();
        bad[which] = LeafPartProof::decode(&enc).unwrap();
        let err = verify_served(&root, len, ls, range.clone(), &(proof.clone(), bad), &held);
        assert!(
            matches!(err, Err(Error::RootMismatch { .. })),
            "part {which}"
        );
    }
    let swapped = (proof.clone(), vec![parts[1].clone(), parts[0].clone()]);
    let err = verify_served(&root, len, ls, range.clone(), &swapped, &held);
    assert!(matches!(err, Err(Error::ProofMismatch { .. })));

    let p = &parts[0];
    let (span, bytes) = (p.span(), at(&d, p.covered()));
    assert!(p.leaf_cv(ls, 1, l, span.clone(), bytes).is_ok());
    let mismatch = |ls, i, len, span| {
        let r = p.leaf_cv(ls, i, len, span, bytes);
        matches!(r, Err(Error::ProofMismatch { .. }))
    };
    let (big, cut) = (LeafSize::DEFAULT, span.start..span.end - 1);
    assert!(mismatch(ls, 2, l, span.clone()) && mismatch(ls, 1, l - 1, span.clone()));
    assert!(mismatch(big, 1, l, span.clone()) && mismatch(ls, 1, l, cut));
    assert!(mismatch(ls, 1, l, 0..span.end));
    let short = p.leaf_cv(ls, 1, l, span.clone(), &bytes[1..]);
    assert!(matches!(short, Err(Error::DataLength { .. })));
    // Relabelled as leaf 2, the proof gives neither leaf's chaining value.
    let mut enc = p.encode();
    enc[13] = 2;
    let moved = LeafPartProof::decode(&enc).unwrap();
    let cv = moved.leaf_cv(ls, 2, l, span, bytes).unwrap();
    assert_ne!(cv, leaf_cv(ls, 2, at(&d, ls.leaf_bytes(len, 2))));
    assert_ne!(cv, leaf_cv(ls, 1, at(&d, ls.leaf_bytes(len, 1))));
}

#[test]
fn decode_rejects_bad_encodings_without_panicking() {
    let ls = LeafSize::MIN;
    let d = data(ls.bytes() as usize);
    let enc = LeafPartProof::prove(ls, 4, &d, 5000..6000)
        .unwrap()
        .encode();
    assert_eq!(enc.len(), HEADER_LEN + 32 * 3);
    for cut in 0..enc.len() {
        assert!(LeafPartProof::decode(&enc[..cut]).is_err(), "cut at {cut}");
    }
    for extra in [1, 32] {
        let mut long = enc.clone();
        long.extend(std::iter::repeat_n(0, extra));
        assert!(LeafPartProof::decode(&long).is_err(), "{extra} extra bytes");
    }
    let edit = |at: usize, v: u8| {
        let mut e = enc.clone();
        e[at] = v;
        LeafPartProof::decode(&e)
    };
    assert!(matches!(edit(0, b'X'), Err(Error::MalformedProof { .. })));
    assert!(matches!(edit(4, 2), Err(Error::UnsupportedVersion { .. })));
    assert!(matches!(edit(5, 13), Err(Error::MalformedProof { .. })));
    assert!(matches!(edit(39, 5), Err(Error::PartShape { .. })));
    assert!(matches!(edit(29, 1), Err(Error::InvalidSpan { .. }))); // start 4097
    assert!(matches!(edit(20, 0), Err(Error::InvalidSpan { .. }))); // empty leaf
    assert!(matches!(edit(6, 0xff), Err(Error::InvalidSpan { .. }))); // offset overflows
    assert!(LeafPartProof::decode(b"MDAP").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn part_proofs_round_trip(
        log2 in 14u8..17, index in 0u64..1 << 20, len_frac in 1u64..=1 << 16,
        a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
    ) {
        let ls = LeafSize::from_log2(log2).unwrap();
        let len = (len_frac * ls.bytes()).div_ceil(1 << 16);
        let leaf = data(len as usize);
        let (x, y) = (a.index(len as usize) as u64, b.index(len as usize) as u64);
        let within = x.min(y)..x.max(y) + 1;
        let p = LeafPartProof::prove(ls, index, &leaf, within.clone()).unwrap();
        prop_assert_eq!(LeafPartProof::decode(&p.encode()).unwrap(), p.clone());
        let span = chunk_span(len, within);
        let cv = p.leaf_cv(ls, index, len, span.clone(), at(&leaf, span)).unwrap();
        prop_assert_eq!(cv, leaf_cv(ls, index, &leaf));
    }

    #[test]
    fn ranges_verify_end_to_end(len in 1u64..12 * 16384, a: prop::sample::Index, b: prop::sample::Index) {
        let ls = LeafSize::MIN;
        let d = data(len as usize);
        let root = FileRoot::from(blake3::hash(&d));
        let (x, y) = (a.index(len as usize) as u64, b.index(len as usize) as u64);
        let range = x.min(y)..x.max(y) + 1;
        let held = at(&d, chunk_span(len, range.clone()));
        if len <= ls.bytes() {
            let p = LeafPartProof::prove(ls, 0, &d, range.clone()).unwrap();
            prop_assert_eq!(p.file_root(ls, len, p.span(), held).unwrap(), root);
        } else {
            let served = serve(&d, ls, range.clone());
            prop_assert!(verify_served(&root, len, ls, range, &served, held).is_ok());
        }
    }

    #[test]
    fn tampered_encoding_fails(pick: prop::sample::Index, flip in 1u8..=255, start in 0u64..16) {
        let ls = LeafSize::MIN;
        let leaf = data(ls.bytes() as usize - 100);
        let len = leaf.len() as u64;
        let p = LeafPartProof::prove(ls, 9, &leaf, start * 1024..start * 1024 + 1).unwrap();
        let mut enc = p.encode();
        let i = pick.index(enc.len());
        enc[i] ^= flip;
        let want = leaf_cv(ls, 9, &leaf);
        if let Ok(q) = LeafPartProof::decode(&enc) {
            let span = p.span();
            let got = q.leaf_cv(ls, 9, len, span.clone(), at(&leaf, span));
            prop_assert!(!matches!(got, Ok(cv) if cv == want));
        }
    }

    #[test]
    fn decode_never_panics(log2 in 12u8..25, rest in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = LeafPartProof::decode(&rest);
        let mut buf = b"MDAL\x01".to_vec();
        buf.push(log2);
        buf.extend_from_slice(&rest);
        let _ = LeafPartProof::decode(&buf);
    }
}
