//! Tests of the embedded chain: crash tails, readers, pinned layouts.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use super::*;

#[test]
fn a_reader_follows_the_writer_and_never_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = Namespace::DEFAULT;
    assert!(
        LocalChain::open_reader(tmp.path(), ChainLimits::APP_V5).is_err(),
        "no chain yet"
    );
    let writer = LocalChain::open(tmp.path(), ChainLimits::APP_V5).unwrap();
    let (h1, c1) = writer.append(&[(ns, &[1u8; 700][..])]).unwrap();
    let reader = LocalChain::open_reader(tmp.path(), ChainLimits::APP_V5).unwrap();
    assert!(reader.is_reader());
    assert_eq!(reader.head().unwrap(), h1);
    assert_eq!(
        reader.get(h1, ns, c1[0]).unwrap().unwrap().data,
        vec![1u8; 700]
    );
    // Heights written later are found without an explicit head() call.
    let (h2, c2) = writer.append(&[(ns, &[2u8; 5000][..])]).unwrap();
    assert_eq!(
        reader.get(h2, ns, c2[0]).unwrap().unwrap().data,
        vec![2u8; 5000]
    );
    assert_eq!(reader.blobs(h2, Some(ns)).unwrap().len(), 1);
    assert!(matches!(
        reader.get(h2 + 1, ns, c2[0]),
        Err(Error::FutureHeight { .. })
    ));
    // Headers a reader signs equal the writer's.
    assert_eq!(reader.header(h2).unwrap(), writer.header(h2).unwrap());
    // A reader refuses writes.
    assert!(reader.append(&[(ns, &[3u8; 10][..])]).is_err());
    let own = reader.inner.reader.as_ref().unwrap().dir.clone();
    assert!(own.exists());
    drop(reader);
    assert!(!own.exists(), "a reader removes its directory");
}

#[test]
fn blobs_survive_reopen_and_a_torn_segment_tail_is_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = Namespace::DEFAULT;
    let (a, b) = (vec![1u8; 1000], vec![2u8; 3000]);
    let (h, c) = {
        let chain = LocalChain::open(tmp.path(), ChainLimits::APP_V5).unwrap();
        chain.append(&[(ns, &a), (ns, &b)]).unwrap()
    };
    // An append that wrote its bytes but never committed its batch.
    let seg = segment_path(tmp.path(), 1);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&[9u8; 500], 4000).unwrap();
    drop(f);
    let chain = LocalChain::open(tmp.path(), ChainLimits::APP_V5).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), 4000);
    assert_eq!(chain.get(h, ns, c[1]).unwrap().unwrap().data, b);
    let (h2, c2) = chain.append(&[(ns, &a)]).unwrap();
    assert_eq!(chain.get(h2, ns, c2[0]).unwrap().unwrap().data, a);
    let all = chain.blobs(h, Some(ns)).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].data, a);
    // The record layout: namespace, commitment, segment, offset, length.
    let mut key = h8(h).to_vec();
    key.extend_from_slice(&1u32.to_be_bytes());
    let rec = chain
        .inner
        .db
        .get_cf(chain.cf(cf::BLOBS), &key)
        .unwrap()
        .unwrap();
    assert_eq!(rec.len(), BLOB_RECORD_LEN);
    assert_eq!(&rec[61..65], &1u32.to_be_bytes());
    assert_eq!(&rec[65..73], &1000u64.to_be_bytes());
    assert_eq!(&rec[73..81], &3000u64.to_be_bytes());
}

/// The key layouts are the store's format: pinned byte for byte.
#[test]
fn key_layouts_are_pinned() {
    assert_eq!(hex::encode(h8(0x0102)), "0000000000000102");
    assert_eq!(hex::encode(blob_key(0x0102, 7)), "000000000000010200000007");
    let c = ShareCommitment::from_bytes([0xab; 32]);
    assert_eq!(
        hex::encode(commitment_key(Namespace::DEFAULT, c, 5)),
        format!(
            "{}{}{}",
            "00".repeat(19) + "6d6f64656c6461000001",
            "ab".repeat(32),
            "0000000000000005"
        )
    );
    assert_eq!(
        cf::ALL,
        [
            "meta-v1",
            "blocks-v1",
            "blobs-v2",
            "commitments-v1",
            "headers-v1",
            "eigenda-v1"
        ]
    );
}

#[test]
fn a_chain_with_missing_segment_bytes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let chain = LocalChain::open(tmp.path(), ChainLimits::APP_V5).unwrap();
        chain
            .append(&[(Namespace::DEFAULT, &[5u8; 100][..])])
            .unwrap();
    }
    let seg = segment_path(tmp.path(), 1);
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(10)
        .unwrap();
    let err = LocalChain::open(tmp.path(), ChainLimits::APP_V5)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("missing"), "{err}");
}
