//! Checking an inclusion document from a hostile server, past the
//! signature: the claims are replaced by a bundle properly signed by a
//! fixed key (anyone can sign claims), and the witness accepts every
//! whole blob and gives the data root the document names, so
//! the fuzzer drives the range, the leaf places, the blob bytes, the
//! envelopes and the range proof. Never panics, never allocates from a
//! claimed size more than the input holds, and accepts only the real bytes.
#![no_main]
use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelda_manifest::sign::{claims_payload, Bundle, PrivateKey};
use modelda_manifest::{CommittedModel, FileEntry, FileFormat, ModelCard, ModelManifest};
use modelda_merkle::{Commitment, LeafSize};
use modelda_wire::inclusion::{self, Need, Witness};

const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt9b8QBmT4TvRj0m1
G8xBE12Ib0qWl5ndUZconhoJ+1ChRANCAAS/bXGklntmdA9VtmzpB62Q5PrG6ID4
bmqNZDPCwW/fbBZFfNWdadOAhoomOg6W891hqK7RmOwP1mJW342Nv/FL
-----END PRIVATE KEY-----
";

/// The file every document is about: 40,000 bytes in 16 KiB leaves (3).
fn file() -> &'static [u8] {
    static F: OnceLock<Vec<u8>> = OnceLock::new();
    F.get_or_init(|| (0..40_000u32).map(|i| (i * 31 % 251) as u8).collect())
}

/// Signed claims of a model holding that file, and its id.
fn claims() -> &'static (String, modelda_manifest::ModelId) {
    static C: OnceLock<(String, modelda_manifest::ModelId)> = OnceLock::new();
    C.get_or_init(|| {
        let key = PrivateKey::from_pem(std::path::Path::new("fuzz.pem"), KEY).unwrap();
        let ls = LeafSize::MIN;
        let c = Commitment::from_bytes(file(), ls);
        let entry = FileEntry {
            path: "w.bin".into(),
            size: file().len() as u64,
            root: c.root(),
            leaf_size: ls,
            format: FileFormat::Other,
            tensors: vec![],
        };
        let manifest = ModelManifest::new(vec![entry], vec![], None, ModelCard::default()).unwrap();
        let model = CommittedModel {
            id: manifest.id(),
            manifest,
            commitments: BTreeMap::from([("w.bin".to_string(), c)]),
            has_symlinks: false,
        };
        let bundle = Bundle::sign(&key, &claims_payload(&model, &key.public(), "fuzz")).to_json();
        (bundle, model.id)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut doc) = inclusion::parse(data) else {
        return;
    };
    let (c, id) = claims();
    doc.claims = c.clone();
    doc.model_id = *id;
    doc.file = "w.bin".into();
    let root = doc
        .blobs
        .first()
        .and_then(|b| b.data_root.as_deref())
        .and_then(|r| hex::decode(r).ok())
        .and_then(|r| <[u8; 32]>::try_from(r).ok());
    // The fuzzer is the DA node too: every data root is the one the
    // document names, and every whole blob is accepted.
    let Ok(needs) = inclusion::needs(&doc) else {
        return;
    };
    let mut witness = Witness::default();
    for need in needs {
        match need {
            Need::DataRoot { height } => {
                witness.data_root(height, root);
            }
            Need::WholeBlob { index, .. } => {
                witness.whole_blob(index, Ok(()));
            }
        }
    }
    if let Ok(v) = inclusion::verify(&doc, &witness, None, None) {
        // Whatever the server sent, only the real bytes verify.
        assert_eq!(v.data, file()[v.bytes.start as usize..v.bytes.end as usize]);
    }
});
