//! Hostile records: each is signed properly with a fresh key, with the model
//! id recomputed from the tampered manifest, so every signature and id
//! checks out and only the structure is wrong. Each must be refused with a
//! typed error, before anything is allocated from its numbers.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::{LayerKind, Locator, Namespace, ShareCommitment};
use modelda_manifest::sign::{
    Bundle, ClaimsPredicate, PrivateKey, Statement, Subject, CLAIMS_PREDICATE_TYPE, STATEMENT_TYPE,
};
use modelda_manifest::{FileEntry, FileFormat, ModelManifest, TensorHash, TensorInfo};
use modelda_merkle::{Commitment, LeafSize};
use proptest::prelude::*;

use modelda_manifest::ModelId;
use modelda_wire::record::*;
use modelda_wire::{Envelope, Error, FileStripes, Geometry, Result, ShardRef};

use crate::plan::Plan;

const LEAF: LeafSize = LeafSize::MIN;

fn at() -> Locator {
    Locator::Local {
        height: 7,
        namespace: Namespace::DEFAULT,
        commitment: ShareCommitment::from_bytes([7; 32]),
    }
}

/// File contents: byte `i` is `i % 251`.
fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A safetensors-format entry holding one F32 tensor `w` of shape [n] over
/// `4 * n` bytes after an 8-byte prefix (the index checks shapes against
/// ranges, not the file's own header).
fn weights(path: &str, n: u64) -> (FileEntry, Vec<u8>) {
    let data = bytes(8 + 4 * n as usize);
    let tensor = TensorInfo {
        name: "w".into(),
        dtype: "F32".into(),
        shape: vec![n],
        start: 8,
        end: 8 + 4 * n,
        blake3: TensorHash::from(blake3::hash(&data[8..])),
    };
    (
        entry(path, &data, FileFormat::Safetensors, vec![tensor]),
        data,
    )
}

fn entry(path: &str, data: &[u8], format: FileFormat, tensors: Vec<TensorInfo>) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: data.len() as u64,
        root: Commitment::from_bytes(data, LEAF).root(),
        leaf_size: LEAF,
        format,
        tensors,
    }
}

/// Claims over `files` (in path order, not validated), with the leaves of
/// `data` for each file of two or more leaves, and the model id recomputed.
fn claims(key: &PrivateKey, files: Vec<(FileEntry, Vec<u8>)>) -> ClaimsPredicate {
    let mut leaves = BTreeMap::new();
    for (e, data) in &files {
        let c = Commitment::from_bytes(data, LEAF);
        if c.leaves().len() >= 2 {
            let raw: Vec<u8> = c.leaves().iter().flat_map(|l| *l.as_bytes()).collect();
            leaves.insert(e.path.clone(), B64.encode(raw));
        }
    }
    let manifest = ModelManifest {
        version: 1,
        files: files.into_iter().map(|(e, _)| e).collect(),
        lineage: vec![],
        training: None,
        card: Default::default(),
    };
    ClaimsPredicate {
        model_id: manifest.id(),
        manifest,
        leaves,
        public_key: key.public().to_pem(),
    }
}

/// The claims bundle JSON, signed by `key`.
fn sign_claims(key: &PrivateKey, c: &ClaimsPredicate) -> String {
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: "hostile".into(),
            digest: [("blake3".to_string(), c.model_id.to_hex())].into(),
        }],
        predicate_type: CLAIMS_PREDICATE_TYPE.into(),
        predicate: c,
    };
    Bundle::sign(key, &serde_json::to_vec(&st).unwrap()).to_json()
}

/// A publication consistent with `c` (as a publish would write it) under
/// 2 + 1 stripes.
fn publication(key: &PrivateKey, c: &ClaimsPredicate) -> Publication {
    let g = Geometry::new(2, 1).unwrap();
    let plan = Plan::new(&c.manifest, g, 1 << 20, &vec![], 0).unwrap();
    let files = c
        .manifest
        .files
        .iter()
        .enumerate()
        .map(|(fi, e)| {
            let n = FileStripes::of(e, g).parity_count().unwrap() as usize;
            FileShards {
                path: e.path.clone(),
                shards: encode_refs(&plan.refs[fi]),
                parity: B64.encode(vec![0u8; 32 * n]),
            }
        })
        .collect();
    Publication {
        v: 1,
        model_id: c.model_id,
        layer: LayerKind::Local,
        namespace: Some(Namespace::DEFAULT),
        record_namespace: None,
        data_shards: g.data,
        parity_shards: g.parity,
        blobs: (0..plan.blobs.len())
            .map(|i| {
                Locator::Local {
                    height: 1,
                    namespace: Namespace::DEFAULT,
                    commitment: ShareCommitment::from_bytes([i as u8; 32]),
                }
                .to_string()
            })
            .collect(),
        files,
        reused_from: vec![],
        claims: sign_claims(key, c),
        oms: None,
    }
}

/// Signs `p` and reads it back as a fetch would.
fn read(key: &PrivateKey, p: &Publication) -> Result<OpenedRecord> {
    parse(&at(), &sign(key, p), None)
}

/// The manifest error inside a record refused for its claims.
fn claims_cause(r: Result<OpenedRecord>) -> modelda_manifest::Error {
    match r {
        Err(Error::RecordClaims { cause, .. }) => *cause,
        other => panic!("expected invalid claims, got {other:?}"),
    }
}

#[test]
fn a_consistent_record_reads_back() {
    let key = PrivateKey::generate();
    let c = claims(
        &key,
        vec![
            (
                entry(
                    "a.bin",
                    &bytes(5 * LEAF.bytes() as usize + 3),
                    FileFormat::Other,
                    vec![],
                ),
                bytes(5 * LEAF.bytes() as usize + 3),
            ),
            weights("b.safetensors", 10),
        ],
    );
    let p = publication(&key, &c);
    let r = read(&key, &p).unwrap();
    assert_eq!(r.model_id(), c.model_id);
    assert_eq!(r.files[0].stripe_starts, vec![0, 3, 6]);
    assert_eq!(r.files[0].refs.len(), 6 + 3);
    assert!(r.files[0].commitment.is_some());
    // The same checks, without any signature.
    let v = validate(&at(), &p, &c).unwrap();
    assert_eq!(v.files.len(), 2);
    // Another key is refused as a signature problem.
    let other = PrivateKey::generate();
    assert!(matches!(
        parse(&at(), &sign(&key, &p), Some(&other.public())),
        Err(Error::RecordSignature { .. })
    ));
}

#[test]
fn a_file_of_2_pow_62_bytes_is_refused_by_its_leaf_count() {
    let key = PrivateKey::generate();
    let data = bytes(2 * LEAF.bytes() as usize);
    let (mut e, _) = (entry("huge.bin", &data, FileFormat::Other, vec![]), ());
    e.size = 1 << 62;
    let c = claims(&key, vec![(e, data)]);
    let p = publication_unplanned(&key, &c, 1);
    let cause = claims_cause(read(&key, &p));
    assert!(
        matches!(
            cause,
            modelda_manifest::Error::LeafCount { expected, found: 2, .. } if expected == 1 << 48
        ),
        "{cause}"
    );
    // Without the claims' own check, the record's shard places are compared
    // with the size before anything is allocated per stripe.
    let err = validate_publication(&at(), &p, &c).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordCount {
                what: "shard places",
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

/// A publication for `c` that lists `n` places per file, whatever the size.
fn publication_unplanned(key: &PrivateKey, c: &ClaimsPredicate, n: usize) -> Publication {
    Publication {
        v: 1,
        model_id: c.model_id,
        layer: LayerKind::Local,
        namespace: Some(Namespace::DEFAULT),
        record_namespace: None,
        data_shards: 2,
        parity_shards: 1,
        blobs: vec![at().to_string()],
        files: c
            .manifest
            .files
            .iter()
            .map(|e| FileShards {
                path: e.path.clone(),
                shards: B64.encode(vec![0u8; 8 * n * 3]),
                parity: B64.encode(vec![0u8; 32 * n]),
            })
            .collect(),
        reused_from: vec![],
        claims: sign_claims(key, c),
        oms: None,
    }
}

#[test]
fn a_million_files_listed_for_a_manifest_of_one_is_refused() {
    let key = PrivateKey::generate();
    let c = claims(&key, vec![weights("w.safetensors", 4)]);
    let mut p = publication(&key, &c);
    let one = p.files[0].clone();
    p.files = vec![one; 1 << 20];
    let err = read(&key, &p).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordCount { what: "files", expected: 1, found, file: None, .. } if found == 1 << 20
        ),
        "{err}"
    );
}

#[test]
fn more_shard_places_or_parity_digests_than_the_size_implies_are_refused() {
    let key = PrivateKey::generate();
    let c = claims(&key, vec![weights("w.safetensors", 4)]);
    let mut p = publication(&key, &c);
    p.files[0].shards = B64.encode(vec![0u8; 8 * 1_000_000]);
    let err = read(&key, &p).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordCount {
                what: "shard places",
                expected: 2,
                found: 1_000_000,
                ..
            }
        ),
        "{err}"
    );
    let mut p = publication(&key, &c);
    p.files[0].parity = B64.encode(vec![0u8; 32 * 1000]);
    let err = read(&key, &p).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordCount {
                what: "parity digests",
                expected: 1,
                found: 1000,
                ..
            }
        ),
        "{err}"
    );
    let mut p = publication(&key, &c);
    p.files[0].shards = encode_refs(&[
        ShardRef { blob: 0, offset: 0 },
        ShardRef {
            blob: u32::MAX,
            offset: 0,
        },
    ]);
    assert!(matches!(
        read(&key, &p),
        Err(Error::RecordInconsistent { .. })
    ));
    // Huge geometry is refused by the coder's own bounds.
    let mut p = publication(&key, &c);
    p.data_shards = u16::MAX;
    p.parity_shards = u16::MAX;
    assert!(matches!(
        read(&key, &p),
        Err(Error::RecordInconsistent { .. })
    ));
    let mut p = publication(&key, &c);
    p.v = 2;
    assert!(matches!(
        read(&key, &p),
        Err(Error::RecordVersion { found: 2, .. })
    ));
}

#[test]
fn a_page_index_of_millions_of_pages_is_refused_before_any_page_is_read() {
    let index = |pages: usize, len: u64| {
        let mut payload = b"P".to_vec();
        payload.extend(
            serde_json::to_vec(&PageIndex {
                pages: vec![(String::new(), String::new()); pages],
                len,
            })
            .unwrap(),
        );
        payload
    };
    let err = parse_root(&at(), &index(2_000_000, MAX_RECORD_BYTES as u64)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                what: "pages",
                found: 2_000_000,
                ..
            }
        ),
        "{err}"
    );
    // Counted before decoding: entries that are not even page pairs.
    let mut payload = b"P{\"len\":1,\"pages\":[".to_vec();
    payload.extend(b"0,".repeat(3_000_000));
    payload.extend(b"0]}");
    let err = parse_root(&at(), &payload).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                what: "pages",
                found: 3_000_001,
                ..
            }
        ),
        "{err}"
    );
    // Fewer pages than the limit, but more than the length allows.
    let err = parse_root(&at(), &index(1000, 10_000)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                what: "pages for the index's length",
                found: 1000,
                limit: 3,
                ..
            }
        ),
        "{err}"
    );
    let err = parse_root(&at(), &index(1, u64::MAX)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                what: "record bytes",
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        parse_root(&at(), &index(0, 0)),
        Err(Error::RecordMalformed { .. })
    ));
    assert!(matches!(
        parse_root(&at(), b"X"),
        Err(Error::RecordMalformed { .. })
    ));
    assert!(matches!(
        parse_root(&at(), b""),
        Err(Error::RecordMalformed { .. })
    ));
    match parse_root(&at(), &index(MAX_PAGES, MAX_RECORD_BYTES as u64)).unwrap() {
        RootPage::Paged(i) => assert_eq!(i.pages.len(), MAX_PAGES),
        RootPage::Inline(_) => panic!("paged"),
    }
    // What `layout` writes at the smallest blob is within the bounds.
    let bundle = vec![b'x'; 3 * MIN_PAGE_PAYLOAD + 1];
    let Layout::Paged(pages) = layout(
        ModelId::from_bytes([1; 32]),
        &bundle,
        crate::publish::MIN_BLOB_BYTES,
    ) else {
        panic!("paged")
    };
    assert_eq!(pages.len(), 4);
    let locs = vec![at(); 4];
    let root = root_of_pages(ModelId::from_bytes([1; 32]), &pages, &locs);
    let root = Envelope::decode_at(&root, 0).unwrap();
    assert!(matches!(
        parse_root(&at(), &root.payload),
        Ok(RootPage::Paged(_))
    ));
}

#[test]
fn a_tensor_of_shape_2_pow_32_cubed_over_4096_bytes_is_refused() {
    let key = PrivateKey::generate();
    let (mut e, data) = weights("w.safetensors", 1024);
    e.tensors[0].shape = vec![1 << 32, 1 << 32, 1 << 32];
    let c = claims(&key, vec![(e, data)]);
    let cause = claims_cause(read(&key, &publication_unplanned(&key, &c, 1)));
    assert!(
        matches!(
            &cause,
            modelda_manifest::Error::TensorShape {
                needed: None,
                bytes: 4096,
                ..
            }
        ),
        "{cause}"
    );
    // The same claims in a claims bundle are refused by `verify` too.
    let bundle = sign_claims(&key, &c);
    let err = modelda_manifest::verify::open_claims(
        std::path::Path::new("model.claims.sig"),
        bundle.as_bytes(),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, modelda_manifest::Error::TensorShape { .. }),
        "{err}"
    );
}

#[test]
fn a_tensor_outside_its_file_is_refused() {
    let key = PrivateKey::generate();
    let (mut e, data) = weights("w.safetensors", 4);
    e.tensors[0].start = e.size;
    e.tensors[0].end = e.size + 16;
    let c = claims(&key, vec![(e, data)]);
    let cause = claims_cause(read(&key, &publication_unplanned(&key, &c, 1)));
    assert!(
        matches!(
            cause,
            modelda_manifest::Error::TensorRange {
                start: 24,
                end: 40,
                file_size: 24,
                ..
            }
        ),
        "{cause}"
    );
}

#[test]
fn duplicate_tensor_names_are_refused() {
    let key = PrivateKey::generate();
    let (mut e, data) = weights("w.safetensors", 4);
    let mut second = e.tensors[0].clone();
    e.tensors[0].shape = vec![2];
    e.tensors[0].end = 16;
    second.shape = vec![2];
    second.start = 16;
    e.tensors.push(second);
    let c = claims(&key, vec![(e, data)]);
    let cause = claims_cause(read(&key, &publication_unplanned(&key, &c, 1)));
    assert!(
        matches!(&cause, modelda_manifest::Error::DuplicateTensor { tensor, .. } if tensor == "w"),
        "{cause}"
    );
}

#[test]
fn a_path_with_dot_dot_is_refused() {
    let key = PrivateKey::generate();
    for path in ["../escape.bin", "a/../../b", "/etc/passwd", "a//b", "./a"] {
        let data = bytes(10);
        let c = claims(
            &key,
            vec![(entry(path, &data, FileFormat::Other, vec![]), data)],
        );
        let cause = claims_cause(read(&key, &publication_unplanned(&key, &c, 1)));
        assert!(
            matches!(&cause, modelda_manifest::Error::ManifestPath { path: p, .. } if p == path),
            "{path}: {cause}"
        );
    }
}

#[test]
fn leaves_that_do_not_hash_to_the_root_are_refused() {
    let key = PrivateKey::generate();
    let data = bytes(3 * LEAF.bytes() as usize);
    let mut c = claims(
        &key,
        vec![(entry("a.bin", &data, FileFormat::Other, vec![]), data)],
    );
    c.leaves.insert("a.bin".into(), B64.encode(vec![9u8; 96]));
    let cause = claims_cause(read(&key, &publication(&key, &c)));
    assert!(
        matches!(cause, modelda_manifest::Error::LeafRoot { .. }),
        "{cause}"
    );
    c.leaves
        .insert("nope.bin".into(), B64.encode(vec![9u8; 64]));
    let cause = claims_cause(read(&key, &publication(&key, &c)));
    assert!(
        matches!(cause, modelda_manifest::Error::UnexpectedLeaves { .. }),
        "{cause}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever size, leaf size and geometry a stranger claims, `validate`
    /// answers without panicking, and accepts only counts that match.
    #[test]
    fn validate_is_total_over_claimed_numbers(
        size in prop_oneof![any::<u64>(), 0u64..(1 << 20)],
        log2 in 14u8..=23,
        k in any::<u16>(),
        m in any::<u16>(),
        places in 0usize..64,
        digests in 0usize..16,
    ) {
        let key = PrivateKey::generate();
        let ls = LeafSize::from_log2(log2).unwrap();
        let data = bytes(10);
        let mut e = entry("f.bin", &data, FileFormat::Other, vec![]);
        e.size = size;
        e.leaf_size = ls;
        let c = claims(&key, vec![(e, data)]);
        let mut p = publication_unplanned(&key, &c, 0);
        p.data_shards = k;
        p.parity_shards = m;
        p.files[0].shards = B64.encode(vec![0u8; 8 * places]);
        p.files[0].parity = B64.encode(vec![0u8; 32 * digests]);
        // With and without the claims' own checks (which refuse most
        // sizes by their leaf count first).
        let results = [validate(&at(), &p, &c), validate_publication(&at(), &p, &c)];
        for v in results.iter().flatten() {
            let f = &v.files[0];
            prop_assert_eq!(f.stripes.shard_count(), Some(places as u64));
            prop_assert_eq!(f.stripes.parity_count(), Some(digests as u64));
            prop_assert!(f.stripe_starts.len() as u64 == f.stripes.count());
        }
    }
}
