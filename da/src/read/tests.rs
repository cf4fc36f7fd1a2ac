//! `verify` against a layer that accepts every blob (what a hostile server
//! controls besides the DA proofs): a good document verifies and returns
//! the bytes; each part altered is refused. Also writes the fuzz seed of
//! `inclusion_verify` (`MODELDA_WRITE_FUZZ_SEED=1`), which uses the same
//! key and file.

use std::collections::BTreeMap;

use std::path::Path;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_manifest::FileEntry;
use modelda_wire::envelope::{Header, Kind};
use modelda_wire::inclusion::*;

use crate::square::parts::{self, BlobShares, ShareRun};
use crate::{
    DaLayer, InclusionProof, LayerKind, Limits, Locator, Namespace, Receipt, Settlement,
    ShareCommitment,
};
use modelda_manifest::sign::{claims_payload, Bundle, PrivateKey};
use modelda_manifest::{CommittedModel, FileFormat, ModelCard, ModelManifest};
use modelda_merkle::{Commitment, LeafPartProof, LeafSize};

use super::verify_inclusion as verify;

/// The fuzz target's key (fuzz/fuzz_targets/inclusion_verify.rs).
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt9b8QBmT4TvRj0m1
G8xBE12Ib0qWl5ndUZconhoJ+1ChRANCAAS/bXGklntmdA9VtmzpB62Q5PrG6ID4
bmqNZDPCwW/fbBZFfNWdadOAhoomOg6W891hqK7RmOwP1mJW342Nv/FL
-----END PRIVATE KEY-----
";

fn file() -> Vec<u8> {
    (0..40_000u32).map(|i| (i * 31 % 251) as u8).collect()
}

/// A layer whose headers give `root` and that accepts every whole blob:
/// what a hostile server controls besides the DA proofs.
struct Accepting {
    root: [u8; 32],
}

#[async_trait]
impl DaLayer for Accepting {
    fn kind(&self) -> LayerKind {
        LayerKind::Local
    }
    async fn limits(&self) -> crate::Result<Limits> {
        Ok(Limits {
            max_blob_bytes: 1 << 20,
            max_batch_bytes: 1 << 20,
        })
    }
    async fn head(&self) -> crate::Result<u64> {
        Ok(1)
    }
    fn settlement(&self) -> Settlement {
        Settlement::Immediate
    }
    async fn submit(&self, _: Namespace, _: Vec<Vec<u8>>) -> crate::Result<Vec<Receipt>> {
        Ok(vec![])
    }
    async fn get(&self, l: &Locator) -> crate::Result<Vec<u8>> {
        Err(crate::Error::NotFound {
            locator: l.to_string(),
        })
    }
    async fn prove(&self, l: &Locator) -> crate::Result<InclusionProof> {
        Err(crate::Error::NotFound {
            locator: l.to_string(),
        })
    }
    async fn verify(&self, _: &Locator, _: &[u8], _: &InclusionProof) -> crate::Result<()> {
        Ok(())
    }
    async fn data_root(&self, _: u64) -> crate::Result<Option<[u8; 32]>> {
        Ok(Some(self.root))
    }
}

/// Leaf `leaf` of the file in its envelope, as the publisher packs it.
fn envelope(model: modelda_manifest::ModelId, leaf: u64) -> Vec<u8> {
    let (data, ls) = (file(), LeafSize::MIN);
    let b = ls.leaf_bytes(data.len() as u64, leaf);
    let h = Header {
        kind: Kind::Data,
        model,
        file: 0,
        stripe: leaf / 4,
        shard: (leaf % 4) as u16,
        data_shards: 4,
        parity_shards: 2,
        leaf_size: ls,
    };
    let payload = &data[b.start as usize..b.end as usize];
    let mut out = Vec::new();
    h.encode_into(&h.digest(payload).unwrap(), payload, &mut out);
    out
}

/// A document proving bytes `range` of the file, whose three leaves are
/// packed in one blob of block 1 of a real square, as a server builds it:
/// the shares holding the range, the sub-leaf proofs of its edge leaves,
/// the range proof. With it, the layer that gives that square's root.
fn document(range: std::ops::Range<u64>) -> (InclusionDocument, Accepting) {
    let key = PrivateKey::from_pem(Path::new("fuzz.pem"), KEY).unwrap();
    let data = file();
    let ls = LeafSize::MIN;
    let c = Commitment::from_bytes(&data, ls);
    let entry = FileEntry {
        path: "w.bin".into(),
        size: data.len() as u64,
        root: c.root(),
        leaf_size: ls,
        format: FileFormat::Other,
        tensors: vec![],
    };
    let manifest = ModelManifest::new(vec![entry], vec![], None, ModelCard::default()).unwrap();
    let model = CommittedModel {
        id: manifest.id(),
        manifest,
        commitments: BTreeMap::from([("w.bin".to_string(), c.clone())]),
        has_symlinks: false,
    };
    let claims = Bundle::sign(&key, &claims_payload(&model, &key.public(), "fuzz")).to_json();
    let len = data.len() as u64;
    let leaves = ls.leaves_of(len, range.clone()).unwrap();
    let mut blob = Vec::new();
    let mut places = Vec::new();
    let mut travel = Vec::new();
    for leaf in 0..ls.leaf_count(len) {
        let b = ls.leaf_bytes(len, leaf);
        let payload = &data[b.start as usize..b.end as usize];
        if leaves.contains(&leaf) {
            let (span, leaf_len) = plan::leaf_span(ls, len, leaf, &range);
            let part = (span != (0..leaf_len)).then(|| {
                let within = range.start.max(b.start) - b.start..range.end.min(b.end) - b.start;
                B64.encode(
                    LeafPartProof::prove(ls, leaf, payload, within)
                        .unwrap()
                        .encode(),
                )
            });
            travel.push((blob.len() as u32, span));
            places.push(LeafPlace {
                leaf,
                blob: 0,
                offset: blob.len() as u32,
                part,
            });
        }
        blob.extend(envelope(model.id, leaf));
    }
    let ns = Namespace::DEFAULT;
    let cblob =
        celestia_types::Blob::new(crate::chain::to_celestia(ns), blob.clone(), None).unwrap();
    let sq = crate::square::build(1, &[cblob], 128).unwrap();
    let start = sq.placement(0).unwrap().start as u32;
    let blob_shares = crate::square::shares_for(blob.len()) as u32;
    let runs = plan::share_runs(&plan::blob_spans(travel), blob_shares)
        .into_iter()
        .map(|r| {
            let square = sq
                .share_proof(1, (start + r.start) as usize..(start + r.end) as usize)
                .unwrap();
            ShareRun::build(ns, &blob, r.start, square).unwrap()
        })
        .collect();
    let locator = Locator::Local {
        height: 1,
        namespace: ns,
        commitment: crate::chain::share_commitment(ns, &blob).unwrap(),
    };
    let root = match sq.dah.hash() {
        celestia_types::hash::Hash::Sha256(h) => h,
        _ => unreachable!("a square has a root"),
    };
    let doc = InclusionDocument {
        kind: DOCUMENT_KIND.into(),
        v: DOCUMENT_VERSION,
        model_id: model.id,
        file: "w.bin".into(),
        bytes: [range.start, range.end],
        tensor: None,
        claims,
        merkle: Some(B64.encode(c.prove(range).unwrap().encode())),
        leaves: places,
        blobs: vec![BlobInclusion {
            locator: locator.to_string(),
            data_root: Some(hex::encode(root)),
            evidence: Evidence::Shares(BlobShares {
                v: BlobShares::VERSION,
                height: 1,
                blob_shares,
                subtree_roots: parts::subtree_roots(ns, &blob),
                runs,
            }),
        }],
    };
    (doc, Accepting { root })
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_document_verifies_and_each_part_altered_is_refused() {
    let (doc, layer) = document(10_000..30_000);
    if std::env::var_os("MODELDA_WRITE_FUZZ_SEED").is_some() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/inclusion_verify.json");
        std::fs::write(p, serde_json::to_vec(&doc).unwrap()).unwrap();
    }
    let ok = run(verify(&doc, &layer, None, None)).unwrap();
    assert_eq!(ok.data, file()[10_000..30_000]);
    assert_eq!(ok.bytes, 10_000..30_000);
    // Edge leaves travel in part: fewer bytes than the leaves hold.
    assert!(doc.leaves.iter().all(|l| l.part.is_some()));
    let Evidence::Shares(s) = &doc.blobs[0].evidence else {
        panic!("a square layer's blob travels as shares")
    };
    let carried: usize = s.runs.iter().map(|r| r.square.data.len()).sum();
    assert!(
        carried < crate::square::shares_for(40_000 + 3 * 93),
        "{carried}"
    );
    // Through JSON, as a client reads it, and wrapped in an API answer.
    let answer = serde_json::json!({"data": {"inclusionProof": {"document": doc}}});
    let parsed = parse(answer.to_string().as_bytes()).unwrap();
    assert!(run(verify(&parsed, &layer, None, None)).is_ok());
    assert!(parse(b"{\"data\": {}}").is_err());
    // An old document is refused by its version, not by its shape.
    let mut old = serde_json::to_value(&doc).unwrap();
    old["v"] = 1.into();
    let e = parse(old.to_string().as_bytes()).unwrap_err().to_string();
    assert!(e.contains("version 1"), "{e}");

    let refused = |d: &InclusionDocument, part: &str| match run(verify(d, &layer, None, None)) {
        Ok(_) => panic!("a document altered in {part} verified"),
        Err(e) => assert!(
            e.to_string().contains(&format!("inclusion proof: {part}")),
            "{part}: {e}"
        ),
    };
    let mut d = doc.clone();
    d.leaves[0].offset += 1;
    refused(&d, "leaves");
    let mut d = doc.clone();
    d.leaves.pop();
    refused(&d, "leaves");
    let mut d = doc.clone();
    d.bytes = [10_000, 40_000];
    refused(&d, "leaves");
    let mut d = doc.clone();
    d.bytes = [10_000, 30_001];
    refused(&d, "merkle");
    let mut d = doc.clone();
    d.bytes = [0, 50_000];
    refused(&d, "range");
    let mut d = doc.clone();
    let mut raw = B64.decode(d.merkle.as_ref().unwrap()).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    d.merkle = Some(B64.encode(raw));
    refused(&d, "merkle");
    let mut d = doc.clone();
    d.claims = d.claims.replacen("\"sig\":\"", "\"sig\":\"AAAA", 1);
    refused(&d, "claims");
    let mut d = doc.clone();
    d.tensor = Some("nope".into());
    refused(&d, "tensor");
    // A sub-leaf proof altered, or dropped (the leaf's bytes did not travel).
    let mut d = doc.clone();
    let mut raw = B64.decode(d.leaves[0].part.as_ref().unwrap()).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    d.leaves[0].part = Some(B64.encode(raw));
    refused(&d, "leaves");
    let mut d = doc.clone();
    d.leaves[1].part = None;
    refused(&d, "leaves");
    // A byte of a share changed: the share proofs catch it.
    let mut d = doc.clone();
    if let Evidence::Shares(s) = &mut d.blobs[0].evidence {
        s.runs[0].square.data[0][200] ^= 1;
    }
    refused(&d, "blob inclusion");
    // Another data root than the verifier's node gives.
    let mut d = doc.clone();
    d.blobs[0].data_root = Some(hex::encode([9u8; 32]));
    refused(&d, "header");
    // Another blob's locator.
    let mut d = doc.clone();
    d.blobs[0].locator = Locator::Local {
        height: 1,
        namespace: Namespace::DEFAULT,
        commitment: ShareCommitment::from_bytes([7; 32]),
    }
    .to_string();
    refused(&d, "blob inclusion");
    // Given bytes must be the proven ones.
    assert!(run(verify(&doc, &layer, None, Some(&file()[0..20_000]))).is_err());
}

#[test]
fn every_range_of_the_file_verifies() {
    let len = file().len() as u64;
    for range in [
        0..1,
        0..len,
        16_383..16_385,
        1023..1025,
        len - 1..len,
        5..16_384,
    ] {
        let (doc, layer) = document(range.clone());
        let ok = run(verify(&doc, &layer, None, None)).unwrap_or_else(|e| panic!("{range:?}: {e}"));
        assert_eq!(ok.data, file()[range.start as usize..range.end as usize]);
    }
}

#[test]
fn a_whole_blob_verifies_through_the_layer() {
    // Layers that prove only whole blobs (EigenDA, Avail): the blob travels.
    let (mut doc, layer) = document(10_000..30_000);
    let data = file();
    let blob: Vec<u8> = (0..3).flat_map(|l| envelope(doc.model_id, l)).collect();
    doc.blobs[0] = BlobInclusion {
        locator: Locator::Eigenda {
            cert: crate::Cert::new(vec![1]).unwrap(),
        }
        .to_string(),
        data_root: None,
        evidence: Evidence::Whole {
            data: B64.encode(&blob),
            proof: InclusionProof::Eigenda {
                v: 1,
                cert: crate::Cert::new(vec![1]).unwrap(),
            },
        },
    };
    let ok = run(verify(&doc, &layer, None, None)).unwrap();
    assert_eq!(ok.data, data[10_000..30_000]);
    let mut d = doc.clone();
    if let Evidence::Whole { data, .. } = &mut d.blobs[0].evidence {
        *data = "not base64!".into();
    }
    assert!(run(verify(&d, &layer, None, None))
        .unwrap_err()
        .to_string()
        .contains("blob data"));
}

/// A hostile document whose share proof holds a string that is not base64
/// in the way that makes celestia-types' decoder (subtle-encoding 0.5)
/// panic: refused with an error (found by the `inclusion_verify` fuzz
/// target).
#[test]
fn a_share_proof_string_that_crashes_the_base64_decoder_is_an_error() {
    let (doc, _) = document(10_000..30_000);
    let mut v = serde_json::to_value(&doc).unwrap();
    let data = &mut v["blobs"][0]["evidence"]["runs"][0]["square"]["data"][0];
    assert!(data.is_string(), "{data}");
    *data = serde_json::Value::String("AAAA=".into());
    // Unguarded, the decoder panics.
    let unguarded = std::panic::catch_unwind(|| {
        let _ = serde_json::from_value::<InclusionDocument>(v.clone());
    });
    assert!(
        unguarded.is_err(),
        "the premise: celestia-types panics on it"
    );
    let e = parse(v.to_string().as_bytes()).unwrap_err().to_string();
    assert!(e.contains("not base64"), "{e}");
}
