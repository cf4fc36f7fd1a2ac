//! One test body per store, run against each store; the chain's checks
//! against sources that lie.

use std::sync::Arc;

use super::conformance::leaves;
use super::*;

#[tokio::test]
async fn the_memory_store_keeps_what_it_is_given() {
    crate::conformance::store_body(Arc::new(MemorySource::new(1 << 20))).await;
}

#[tokio::test]
async fn the_directory_archive_keeps_what_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ArchiveSpec::parse(dir.path().join("a").to_str().unwrap(), None).unwrap();
    let archive = Archive::open(spec).unwrap();
    crate::conformance::store_body(Arc::new(archive.clone())).await;
    let mut seen = Vec::new();
    let held = archive.leaves(|k| seen.push(k)).await.unwrap();
    assert_eq!((held.leaves, held.foreign), (3, 0));
    assert_eq!(held.bytes, 2 * 16384 - 1);
}

#[tokio::test]
async fn a_lying_source_is_skipped_counted_and_overwritten() {
    let ls = leaves(2);
    let (k, good) = &ls[0];
    let liar = Arc::new(MemorySource::named("archive", 1 << 20));
    let mut bad = good.to_vec();
    bad[100] ^= 1;
    liar.put_unchecked(*k, bad.into());
    let honest = Arc::new(MemorySource::named("layer", 1 << 20));
    honest.keep(k, good).await.unwrap();
    let cache = Arc::new(MemorySource::new(1 << 20));
    let chain = Sources::new()
        .then(cache.clone())
        .then(liar.clone())
        .then(honest.clone());
    let got = chain.get(&Want::key(*k)).await.unwrap();
    assert_eq!((&got.bytes, got.from), (good, "layer"));
    let counts: Vec<_> = chain
        .stats()
        .map(|(n, s)| (n, Outcome::ALL.map(|o| s.get(o))))
        .collect();
    assert_eq!(
        counts,
        [
            ("cache", [0, 1, 0, 0]),
            ("archive", [0, 0, 1, 0]),
            ("layer", [1, 0, 0, 0])
        ]
    );
    // The sources before the honest one keep the checked bytes: the liar's
    // wrong object is replaced, and the next read stops at the cache.
    assert_eq!(
        liar.read(&Want::key(*k)).await.unwrap().as_ref(),
        Some(good)
    );
    assert_eq!(chain.get(&Want::key(*k)).await.unwrap().from, "cache");
    // A source that answers a longer body is a liar too.
    let long = Arc::new(MemorySource::named("peer", 1 << 20));
    let mut more = good.to_vec();
    more.push(0);
    long.put_unchecked(ls[1].0, more.into());
    let e = Sources::new()
        .then(long)
        .get(&Want::key(ls[1].0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("wrong bytes"), "{e}");
}

#[tokio::test]
async fn the_archive_refuses_unchecked_bytes_and_rereads_corrupt_objects() {
    let dir = tempfile::tempdir().unwrap();
    let archive =
        Archive::open(ArchiveSpec::parse(dir.path().to_str().unwrap(), None).unwrap()).unwrap();
    let ls = leaves(1);
    let (k, good) = &ls[0];
    let mut bad = good.to_vec();
    bad[0] ^= 1;
    let e = archive.put_leaf(k, bad.clone().into()).await.unwrap_err();
    assert!(e.is_lie(), "{e}");
    assert!(!archive.has_leaf(k).await.unwrap());
    // A corrupt object on disk (a disk fault, a hand edit) is a lie the
    // chain skips, then replaces with the checked bytes.
    std::fs::create_dir_all(dir.path().join("leaves")).unwrap();
    std::fs::write(dir.path().join(k.name()), &bad).unwrap();
    let layer = Arc::new(MemorySource::named("layer", 1 << 20));
    layer.keep(k, good).await.unwrap();
    let chain = Sources::new().then(Arc::new(archive.clone())).then(layer);
    assert_eq!(chain.get(&Want::key(*k)).await.unwrap().from, "layer");
    assert_eq!(
        std::fs::read(dir.path().join(k.name())).unwrap(),
        good.to_vec()
    );
    // An object of the wrong size is not even read.
    std::fs::write(dir.path().join(k.name()), vec![0u8; 1 << 20]).unwrap();
    let e = archive.get_leaf(k).await.unwrap_err();
    assert!(e.is_lie() && e.to_string().contains("expected"), "{e}");
}

#[test]
fn archive_specs_parse() {
    assert_eq!(
        ArchiveSpec::parse("s3://b/p/q/", Some("http://127.0.0.1:1")).unwrap(),
        ArchiveSpec::S3 {
            bucket: "b".into(),
            prefix: "p/q".into(),
            endpoint: Some("http://127.0.0.1:1".into())
        }
    );
    assert_eq!(
        ArchiveSpec::parse("./arch", None).unwrap(),
        ArchiveSpec::Dir("./arch".into())
    );
    for bad in ["", "s3://", "gs://x/y"] {
        assert!(ArchiveSpec::parse(bad, None).is_err(), "{bad:?}");
    }
    assert!(ArchiveSpec::parse("dir", Some("http://x")).is_err());
}

/// A square locator of `data` (its share commitment recomputed).
fn locator_of(data: &[u8]) -> modelda_da::Locator {
    let probe: modelda_da::Locator = format!("local:7:6b697474657374000001:{}", "00".repeat(32))
        .parse()
        .unwrap();
    let (_, ns, _) = probe.square_parts().unwrap();
    let c = modelda_da::square::share_commitment(ns.as_bytes(), data);
    format!("local:7:6b697474657374000001:{}", hex::encode(c))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_blob_rebuilds_from_its_kit_and_leaves_and_refuses_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ArchiveSpec::parse(dir.path().join("a").to_str().unwrap(), None).unwrap();
    let archive = Archive::open(spec).unwrap();
    // A blob: a header, two leaves, a gap, a trailer.
    let l1: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let l2: Vec<u8> = (0..3000u32).map(|i| (i % 13) as u8).collect();
    let mut blob = vec![0xaa; 40];
    blob.extend_from_slice(&l1);
    blob.extend_from_slice(&[0xbb; 17]);
    blob.extend_from_slice(&l2);
    blob.extend_from_slice(&[0xcc; 9]);
    let k1 = LeafKey::whole(*blake3::hash(&l1).as_bytes(), l1.len() as u64).unwrap();
    let k2 = LeafKey::whole(*blake3::hash(&l2).as_bytes(), l2.len() as u64).unwrap();
    let loc = locator_of(&blob);
    assert!(
        archive.rebuild_blob(&loc).await.unwrap().is_none(),
        "no kit yet"
    );
    let (kit, refused) = BlobKit::new(&loc, &blob, vec![(5057, k2), (40, k1)]).unwrap();
    assert_eq!((kit.leaves.len(), refused.len()), (2, 0));
    // Wrong places are refused when the kit is made: a leaf whose bytes
    // are not there is left out, an overlap is an error.
    let (wrong, refused) = BlobKit::new(&loc, &blob, vec![(41, k1)]).unwrap();
    assert!(wrong.leaves.is_empty() && refused == vec![(41, k1)]);
    assert!(BlobKit::new(&loc, &blob, vec![(40, k1), (41, k2)]).is_err());
    archive.put_kit(&loc, &kit).await.unwrap();
    // A leaf missing: an error naming it, not a wrong blob.
    archive.put_leaf(&k1, l1.clone().into()).await.unwrap();
    let e = archive.rebuild_blob(&loc).await.unwrap_err().to_string();
    assert!(e.contains("not archived") && e.contains(&k2.name()), "{e}");
    archive.put_leaf(&k2, l2.clone().into()).await.unwrap();
    let (_, got) = archive.rebuild_blob(&loc).await.unwrap().unwrap();
    assert_eq!(got, blob);
    // The kit is this blob's only: another locator's name refuses it.
    let other = locator_of(&blob[1..]);
    let mut foreign = kit.clone();
    foreign.locator = loc.to_string();
    archive.put_kit(&other, &foreign).await.unwrap();
    assert!(archive.rebuild_blob(&other).await.is_err());
    // Damaged kits: wrong other bytes, leaves past the blob, a huge length.
    for damage in [
        |k: &mut BlobKit| k.rest = "AAAA".into(),
        |k: &mut BlobKit| k.leaves[1].at = 1 << 40,
        |k: &mut BlobKit| k.len = u64::MAX,
        |k: &mut BlobKit| k.leaves[0].leaf = "zz".into(),
    ] {
        let mut k = kit.clone();
        damage(&mut k);
        archive.put_kit(&loc, &k).await.unwrap();
        assert!(archive.rebuild_blob(&loc).await.is_err());
    }
    // Other bytes changed: the blob no longer matches its locator.
    let mut k = kit.clone();
    let mut rest =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &k.rest).unwrap();
    rest[0] ^= 1;
    k.rest = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, rest);
    archive.put_kit(&loc, &k).await.unwrap();
    let e = archive.rebuild_blob(&loc).await.unwrap_err().to_string();
    assert!(e.contains("does not match its locator"), "{e}");
}
