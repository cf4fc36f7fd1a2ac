//! A model committed from a directory, signed, and read back leaf by leaf
//! as a prover reads it from an untrusted source.

use std::path::Path;

use modelda_manifest::sign::{claims_payload, Bundle, PrivateKey};
use modelda_manifest::{commit_dir, CommitOptions, NoProgress};
use modelda_merkle::LeafSize;

use super::*;

/// A safetensors file of two F32 tensors, `a` (10,000 values, several
/// 16 KiB leaves) and `b` (3 values), and a small config.
fn model_dir() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let a: Vec<u8> = (0..10_000u32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let b: Vec<u8> = [1.5f32, -2.0, 3.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = format!(
        r#"{{"a":{{"dtype":"F32","shape":[100,100],"data_offsets":[0,{}]}},"b":{{"dtype":"F32","shape":[3],"data_offsets":[{},{}]}}}}"#,
        a.len(),
        a.len(),
        a.len() + b.len()
    );
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&a);
    file.extend_from_slice(&b);
    std::fs::write(dir.path().join("model.safetensors"), &file).unwrap();
    std::fs::write(dir.path().join("config.json"), br#"{"hidden":100}"#).unwrap();
    (dir, file)
}

/// The claims of the model in `dir`, signed by `k`, with `edit` applied to
/// the manifest's tensors first (a liar signing its own claims).
fn claims(
    dir: &Path,
    k: &PrivateKey,
    edit: impl FnOnce(&mut modelda_manifest::CommittedModel),
) -> Vec<u8> {
    let opts = CommitOptions {
        leaf_size: LeafSize::MIN,
        ..CommitOptions::default()
    };
    let mut model = commit_dir(dir, &opts, &NoProgress).unwrap();
    edit(&mut model);
    model.id = model.manifest.id();
    Bundle::sign(k, &claims_payload(&model, &k.public(), "test"))
        .to_json()
        .into_bytes()
}

/// Reads `read` from `file`, leaf by leaf, with `alter` applied to each
/// leaf's bytes as the source sends them.
fn run(
    mut read: RangeRead,
    file: &[u8],
    mut alter: impl FnMut(u64, &mut Vec<u8>),
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let ls = LeafSize::MIN;
    while let Some((i, _)) = read.next_leaf() {
        let span = ls.leaf_bytes(file.len() as u64, i);
        let mut bytes = file[span.start as usize..span.end as usize].to_vec();
        alter(i, &mut bytes);
        let within = read.leaf(i, &bytes)?;
        out.extend_from_slice(&bytes[within]);
    }
    read.finish()?;
    Ok(out)
}

#[test]
fn tensors_and_files_read_back_and_every_lie_is_refused() {
    let (dir, file) = model_dir();
    let alice = PrivateKey::generate();
    let signed = claims(dir.path(), &alice, |_| {});
    let m = SignedModel::open(&signed, None).unwrap();
    assert!(!m.pinned());
    let pinned = SignedModel::open(&signed, Some(&alice.public())).unwrap();
    assert!(pinned.pinned());
    assert_eq!(pinned.model_id(), m.model_id());

    // Tensor a spans several leaves; b sits inside the last one.
    let (f, a) = m.tensor(None, "a").unwrap();
    let read = m.read_tensor(None, "a").unwrap();
    assert!(read.leaves().len() >= 3, "{:?}", read.leaves());
    let got = run(read, &file, |_, _| {}).unwrap();
    assert_eq!(got, file[a.start as usize..a.end as usize]);
    assert_eq!(f.path, "model.safetensors");
    let got = run(
        m.read_tensor(Some("model.safetensors"), "b").unwrap(),
        &file,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(
        got,
        [1.5f32, -2.0, 3.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    );
    // Any range, and none past the end.
    let got = run(
        m.read_range("model.safetensors", 3..20_000).unwrap(),
        &file,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(got, file[3..20_000]);
    assert!(m
        .read_range("model.safetensors", 0..file.len() as u64 + 1)
        .is_err());
    // Whole files: one of many leaves, one of a single leaf (its root).
    assert_eq!(
        run(m.read_file("model.safetensors").unwrap(), &file, |_, _| {}).unwrap(),
        file
    );
    let config = std::fs::read(dir.path().join("config.json")).unwrap();
    let read = m.read_file("config.json").unwrap();
    assert_eq!(
        read.leaves(),
        vec![(0, blake3::hash(&config).to_hex().to_string())]
    );
    assert_eq!(run(read, &config, |_, _| {}).unwrap(), config);

    // A source that flips one byte, drops one, or adds one.
    for alter in [
        (|_: u64, b: &mut Vec<u8>| b[7] ^= 1) as fn(u64, &mut Vec<u8>),
        |_, b| {
            b.pop();
        },
        |_, b| b.push(0),
    ] {
        let e = run(m.read_tensor(None, "a").unwrap(), &file, alter).unwrap_err();
        assert!(
            matches!(e, Error::LeafMismatch { leaf, .. } if leaf == read_first(&m)),
            "{e}"
        );
    }
    // Leaves out of order, twice, or too few.
    let mut r = m.read_tensor(None, "a").unwrap();
    let (first, _) = r.next_leaf().unwrap();
    let span = LeafSize::MIN.leaf_bytes(file.len() as u64, first + 1);
    assert!(r
        .leaf(first + 1, &file[span.start as usize..span.end as usize])
        .is_err());
    assert!(r.finish().is_err(), "a read that ends early is refused");

    // Claims a liar signed with his own key: a tensor hash that is not the
    // bytes' is refused at the end of the read, though every leaf checks.
    let mallory = PrivateKey::generate();
    let lying = claims(dir.path(), &mallory, |model| {
        let t = &mut model
            .manifest
            .files
            .iter_mut()
            .find(|f| f.path == "model.safetensors")
            .unwrap()
            .tensors[0];
        t.blake3 = modelda_manifest::TensorHash::from_bytes([9; 32]);
    });
    let liar = SignedModel::open(&lying, None).unwrap();
    let e = run(liar.read_tensor(None, "a").unwrap(), &file, |_, _| {}).unwrap_err();
    assert!(matches!(e, Error::TensorMismatch { .. }), "{e}");
    // Pinned to Alice, Mallory's claims are another key's.
    let mallorys = claims(dir.path(), &mallory, |_| {});
    let e = SignedModel::open(&mallorys, Some(&alice.public())).unwrap_err();
    assert!(matches!(e, Error::KeyMismatch { .. }), "{e}");
    // Altered claims: the signature fails with any key.
    let mut altered = signed.clone();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    assert!(SignedModel::open(&altered, None).is_err());
    assert!(SignedModel::open(b"{}", None).is_err());
    // What the manifest does not have.
    assert!(matches!(
        m.read_tensor(None, "c"),
        Err(Error::NotInManifest { .. })
    ));
    assert!(matches!(
        m.read_file("nope"),
        Err(Error::NotInManifest { .. })
    ));
}

#[test]
fn threaded_leaf_hashing_equals_the_merkle_crates() {
    for (ls, len) in [
        (LeafSize::from_bytes(1 << 20).unwrap(), 1 << 20),
        (LeafSize::MAX, (5 << 20) + 7),
        (LeafSize::MIN, 16 << 10),
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        for index in [0u64, 3, 1000] {
            assert_eq!(
                leaf_cv_threaded(ls, index, &data),
                *leaf_cv(ls, index, &data).as_bytes(),
                "{ls:?} {len} {index}"
            );
        }
    }
}

fn read_first(m: &SignedModel) -> u64 {
    m.read_tensor(None, "a").unwrap().next_leaf().unwrap().0
}
