//! `verify` against a layer that accepts every blob (what a hostile server
//! controls besides the DA proofs): a good document verifies and returns
//! the bytes; each part altered is refused. Also writes the fuzz seed of
//! `inclusion_verify` (`MODELDA_WRITE_FUZZ_SEED=1`), which uses the same
//! key and file.

use std::collections::BTreeMap;

use async_trait::async_trait;
use modelda_da::{
    InclusionProof, LayerKind, Limits, Namespace, Receipt, Settlement, ShareCommitment,
};
use modelda_manifest::sign::{claims_payload, Bundle, PrivateKey};
use modelda_manifest::{CommittedModel, FileFormat, ModelCard, ModelManifest};
use modelda_merkle::{Commitment, LeafSize};

use super::*;
use crate::envelope::Header;

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

struct Accepting;

#[async_trait]
impl DaLayer for Accepting {
    fn kind(&self) -> LayerKind {
        LayerKind::Local
    }
    async fn limits(&self) -> modelda_da::Result<Limits> {
        Ok(Limits {
            max_blob_bytes: 1 << 20,
            max_batch_bytes: 1 << 20,
        })
    }
    async fn head(&self) -> modelda_da::Result<u64> {
        Ok(1)
    }
    fn settlement(&self) -> Settlement {
        Settlement::Immediate
    }
    async fn submit(&self, _: Namespace, _: Vec<Vec<u8>>) -> modelda_da::Result<Vec<Receipt>> {
        Ok(vec![])
    }
    async fn get(&self, l: &Locator) -> modelda_da::Result<Vec<u8>> {
        Err(modelda_da::Error::NotFound {
            locator: l.to_string(),
        })
    }
    async fn prove(&self, l: &Locator) -> modelda_da::Result<InclusionProof> {
        Err(modelda_da::Error::NotFound {
            locator: l.to_string(),
        })
    }
    async fn verify(&self, _: &Locator, _: &[u8], _: &InclusionProof) -> modelda_da::Result<()> {
        Ok(())
    }
}

/// A document proving bytes `range` of the file: its three leaves packed
/// in one blob, and the range proof.
fn document(range: std::ops::Range<u64>) -> InclusionDocument {
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
    let leaves = ls.leaves_of(data.len() as u64, range.clone()).unwrap();
    let mut blob = Vec::new();
    let mut places = Vec::new();
    for leaf in 0..ls.leaf_count(data.len() as u64) {
        let b = ls.leaf_bytes(data.len() as u64, leaf);
        let h = Header {
            kind: Kind::Data,
            model: model.id,
            file: 0,
            stripe: leaf / 4,
            shard: (leaf % 4) as u16,
            data_shards: 4,
            parity_shards: 2,
            leaf_size: ls,
        };
        let payload = &data[b.start as usize..b.end as usize];
        if leaves.contains(&leaf) {
            places.push(LeafPlace {
                leaf,
                blob: 0,
                offset: blob.len() as u32,
            });
        }
        h.encode_into(&h.digest(payload).unwrap(), payload, &mut blob);
    }
    let locator = Locator::Local {
        height: 1,
        namespace: Namespace::DEFAULT,
        commitment: ShareCommitment::from_bytes([7; 32]),
    };
    InclusionDocument {
        kind: DOCUMENT_KIND.into(),
        v: 1,
        model_id: model.id,
        file: "w.bin".into(),
        bytes: [range.start, range.end],
        tensor: None,
        claims,
        merkle: Some(B64.encode(c.prove(range).unwrap().encode())),
        leaves: places,
        blobs: vec![BlobInclusion {
            locator: locator.to_string(),
            data_root: None,
            data: B64.encode(&blob),
            proof: InclusionProof::Eigenda {
                v: 1,
                cert: modelda_da::Cert::new(vec![1]).unwrap(),
            },
        }],
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_document_verifies_and_each_part_altered_is_refused() {
    let doc = document(10_000..30_000);
    if std::env::var_os("MODELDA_WRITE_FUZZ_SEED").is_some() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/inclusion_verify.json");
        std::fs::write(p, serde_json::to_vec(&doc).unwrap()).unwrap();
    }
    let ok = run(verify(&doc, &Accepting, None, None)).unwrap();
    assert_eq!(ok.data, file()[10_000..30_000]);
    assert_eq!(ok.bytes, 10_000..30_000);
    // Through JSON, as a client reads it, and wrapped in an API answer.
    let answer = serde_json::json!({"data": {"inclusionProof": {"document": doc}}});
    let parsed = parse(answer.to_string().as_bytes()).unwrap();
    assert!(run(verify(&parsed, &Accepting, None, None)).is_ok());
    assert!(parse(b"{\"data\": {}}").is_err());

    let refused = |d: &InclusionDocument, part: &str| match run(verify(d, &Accepting, None, None)) {
        Ok(_) => panic!("a document altered in {part} verified"),
        Err(e) => assert!(
            e.to_string().contains(&format!("inclusion proof: {part}")),
            "{e}"
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
    let mut d = doc.clone();
    d.blobs[0].data = "not base64!".into();
    refused(&d, "blob data");
    // A byte of a proven leaf changed in the blob (the envelope's digest
    // catches it; with a real layer the share commitment does first).
    let mut d = doc.clone();
    let mut blob = B64.decode(&d.blobs[0].data).unwrap();
    blob[d.leaves[0].offset as usize + crate::HEADER_LEN + 5] ^= 1;
    d.blobs[0].data = B64.encode(blob);
    refused(&d, "leaves");
    // The same leaf with its envelope re-made to match (a consistent forgery
    // of the bytes) fails the range proof.
    let mut d = doc.clone();
    let mut blob = B64.decode(&d.blobs[0].data).unwrap();
    let at = d.leaves[0].offset as usize;
    let (env, _) = Envelope::decode(&blob[at..]).unwrap();
    let mut payload = env.payload.clone();
    payload[5] ^= 1;
    let mut forged = Vec::new();
    env.header
        .encode_into(&env.header.digest(&payload).unwrap(), &payload, &mut forged);
    blob[at..at + forged.len()].copy_from_slice(&forged);
    d.blobs[0].data = B64.encode(blob);
    refused(&d, "merkle");
    // Given bytes must be the proven ones.
    assert!(run(verify(&doc, &Accepting, None, Some(&file()[0..20_000]))).is_err());
}
