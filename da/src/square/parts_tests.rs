use celestia_types::nmt::NamespaceProof;
use celestia_types::Blob;

use modelda_core::square::parts::*;
use modelda_core::square::to_celestia;

use crate::square::{self, Square};
use crate::{Locator, Namespace};

const H: u64 = 7;

fn ns(id: u8) -> Namespace {
    let mut b = [0u8; 29];
    b[27] = 1;
    b[28] = id;
    Namespace::from_bytes(b).unwrap()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29) ^ seed ^ (i >> 9) as u8)
        .collect()
}

/// A block of three blobs of namespaces 9, 2 and 5; blob 2 (70,000 bytes)
/// spans several rows of a 16x16 square.
fn block() -> (Square, Vec<(Namespace, Vec<u8>)>) {
    let blobs = vec![
        (ns(9), data(3000, 1)),
        (ns(2), data(100, 2)),
        (ns(5), data(70_000, 3)),
    ];
    let cblobs: Vec<Blob> = blobs
        .iter()
        .map(|(n, d)| Blob::new(to_celestia(*n), d.clone(), None).unwrap())
        .collect();
    (square::build(H, &cblobs, 128).unwrap(), blobs)
}

fn locator(n: Namespace, d: &[u8]) -> Locator {
    Locator::Local {
        height: H,
        namespace: n,
        commitment: crate::chain::share_commitment(n, d).unwrap(),
    }
}

/// A proof of the blob `b`'s shares `runs`, as a server builds it.
fn prove(sq: &Square, blobs: &[(Namespace, Vec<u8>)], b: usize, runs: &[(u32, u32)]) -> BlobShares {
    let (n, d) = &blobs[b];
    let p = sq.placement(b).unwrap();
    let runs = runs
        .iter()
        .map(|&(from, to)| {
            let ods = p.start + from as usize..p.start + to as usize;
            ShareRun::build(*n, d, from, sq.share_proof(H, ods).unwrap()).unwrap()
        })
        .collect();
    BlobShares {
        v: BlobShares::VERSION,
        height: H,
        blob_shares: square::shares_for(d.len()) as u32,
        subtree_roots: subtree_roots(*n, d),
        runs,
    }
}

fn root(sq: &Square) -> [u8; 32] {
    match sq.dah.hash() {
        celestia_types::hash::Hash::Sha256(h) => h,
        _ => unreachable!("a square has a root"),
    }
}

#[test]
fn share_offsets_cover_the_blob() {
    assert_eq!(share_payload_start(0), 0);
    assert_eq!(share_payload_start(1), 478);
    assert_eq!(share_payload_start(2), 960);
    assert_eq!(shares_holding(0..1), 0..1);
    assert_eq!(shares_holding(0..478), 0..1);
    assert_eq!(shares_holding(0..479), 0..2);
    assert_eq!(shares_holding(477..478), 0..1);
    assert_eq!(shares_holding(478..960), 1..2);
    assert_eq!(shares_holding(478..961), 1..3);
    for len in [1usize, 478, 479, 960, 961, 70_000] {
        assert_eq!(
            shares_holding(0..len as u64).end as usize,
            square::shares_for(len)
        );
    }
}

#[test]
fn runs_prove_the_bytes_they_carry() {
    let (sq, blobs) = block();
    for (b, runs) in [
        (0usize, vec![(0, 1)]),
        (0, vec![(0, 7)]),
        (1, vec![(0, 1)]),
        (2, vec![(0, 1), (3, 40), (100, 146)]),
        (2, vec![(50, 51)]),
        (2, vec![(145, 146)]),
        (2, vec![(0, 146)]),
    ] {
        let proof = prove(&sq, &blobs, b, &runs);
        let (n, d) = &blobs[b];
        let pieces = proof.verify(&locator(*n, d), &root(&sq)).unwrap();
        assert_eq!(pieces.len(), runs.len());
        for (piece, r) in pieces.iter().zip(&runs) {
            assert_eq!(piece.offset, share_payload_start(r.0));
            let from = piece.offset as usize;
            let to = (from + piece.bytes.len()).min(d.len());
            assert_eq!(
                &piece.bytes[..to - from],
                &d[from..to],
                "blob {b} run {r:?}"
            );
        }
        // The proof survives its JSON form.
        let json = serde_json::to_string(&proof).unwrap();
        let back: BlobShares = serde_json::from_str(&json).unwrap();
        back.verify(&locator(*n, d), &root(&sq)).unwrap();
    }
}

#[test]
fn every_lie_is_refused() {
    let (sq, blobs) = block();
    let (n, d) = &blobs[2];
    let loc = locator(*n, d);
    let good = prove(&sq, &blobs, 2, &[(10, 40)]);
    good.verify(&loc, &root(&sq)).unwrap();
    type Lie = (&'static str, Box<dyn Fn(&mut BlobShares)>);
    let lies: Vec<Lie> = vec![
        ("version", Box::new(|p| p.v = 2)),
        ("height", Box::new(|p| p.height += 1)),
        ("share count", Box::new(|p| p.blob_shares += 1)),
        ("no shares", Box::new(|p| p.blob_shares = 0)),
        ("huge share count", Box::new(|p| p.blob_shares = u32::MAX)),
        (
            "roots",
            Box::new(|p| {
                // A character of the first root's hash.
                let c = if &p.subtree_roots[100..101] == "A" {
                    "B"
                } else {
                    "A"
                };
                p.subtree_roots.replace_range(100..101, c)
            }),
        ),
        ("roots cut", Box::new(|p| p.subtree_roots.truncate(8))),
        ("no runs", Box::new(|p| p.runs.clear())),
        ("run moved", Box::new(|p| p.runs[0].first += 1)),
        ("run past the blob", Box::new(|p| p.runs[0].first = 140)),
        (
            "share altered",
            Box::new(|p| p.runs[0].square.data[3][100] ^= 1),
        ),
        (
            "share dropped",
            Box::new(|p| {
                p.runs[0].square.data.pop();
            }),
        ),
        (
            "subtree proof dropped",
            Box::new(|p| {
                p.runs[0].subtrees.pop();
            }),
        ),
        (
            "run twice",
            Box::new(|p| {
                let r = p.runs[0].clone();
                p.runs.push(r);
            }),
        ),
    ];
    for (what, lie) in lies {
        let mut p = good.clone();
        lie(&mut p);
        assert!(p.verify(&loc, &root(&sq)).is_err(), "{what} was accepted");
    }
    // Another blob's locator, another data root.
    let (n0, d0) = &blobs[0];
    assert!(good.verify(&locator(*n0, d0), &root(&sq)).is_err());
    assert!(good.verify(&loc, &[7u8; 32]).is_err());
    // Shares of another blob of the same namespace and height, with its
    // own subtree roots, do not pass as this blob's.
    let other = prove(&sq, &blobs, 0, &[(0, 5)]);
    let mut mixed = good.clone();
    mixed.runs = other.runs;
    assert!(mixed.verify(&loc, &root(&sq)).is_err());
}

#[test]
fn parity_roots_give_the_rows_own_proofs() {
    let (sq, _) = block();
    let parity = sq.parity_roots(H).unwrap();
    let k = sq.k;
    for (r, parity) in parity.iter().enumerate() {
        let shares: Vec<_> = (0..k)
            .map(|c| {
                let s = sq.eds.share(r as u16, c as u16).unwrap();
                (s.namespace(), s.data().to_vec())
            })
            .collect();
        let refs: Vec<_> = shares.iter().map(|(n, s)| (*n, s.as_slice())).collect();
        for range in [0..1, 0..k, 3..9, k - 1..k] {
            let ours = square::row_range_proof(&refs, parity, range.clone()).unwrap();
            let (_, theirs) = sq
                .eds
                .row_nmt(r as u16)
                .unwrap()
                .get_range_with_proof(range);
            let theirs: NamespaceProof = theirs.into();
            assert_eq!(ours, theirs, "row {r}");
        }
    }
}

#[test]
fn share_proofs_are_written_as_celestia_types_writes_them() {
    let (sq, blobs) = block();
    let shares = prove(&sq, &blobs, 2, &[(3, 40)]);
    let run = &shares.runs[0];
    let ours = serde_json::to_value(run).unwrap();
    let theirs = serde_json::to_value(&run.square).unwrap();
    assert_eq!(ours["square"], theirs);
    // Key order too: the text is the same.
    assert_eq!(
        serde_json::to_string(&ours["square"]).unwrap(),
        serde_json::to_string(&run.square).unwrap()
    );
    let back: ShareRun = serde_json::from_value(ours).unwrap();
    assert_eq!(back.square, run.square);
}
