//! One local chain mixing valid publications (a base, a finetune, a
//! quantized model, an adapter published before its parent, an attestation
//! of the base by a second key, a repost) with hostile records, each signed
//! properly by the attacker's own key. Indexed end to end, in process; the
//! models, edges, evidence and rejection codes are asserted.

use std::collections::BTreeMap;
use std::path::Path;

use modelda_da::{
    ChainLimits, DaLayer, LocalChain, LocalLayer, Locator, Namespace, ShareCommitment,
};
use modelda_fixtures::records::{self, FileSpec, Rng};
use modelda_manifest::sign::{Bundle, PrivateKey};
use modelda_manifest::{CommittedModel, LineageClaim, ModelId, Relation};
use modelda_merkle::LeafSize;
use modelda_wire::record::{self, page_header};
use modelda_wire::{Envelope, Geometry, Kind};

use super::publication::check_lineage;
use super::*;
use crate::query::Direction;
use crate::schema::{key, ChunkPlace, EdgeStatus, Source};
use crate::{follow, FollowOptions, Stop};

mod advisories;

const LEAF: LeafSize = LeafSize::MIN;
const MAX_BLOB: usize = 1 << 20;
const G: Geometry = Geometry { data: 4, parity: 2 };

fn spec(path: &str, leaves: u64, tensors: u64) -> FileSpec {
    FileSpec {
        path: path.into(),
        leaves,
        tensors,
    }
}

fn claim(parent: &CommittedModel, relation: Relation) -> Vec<LineageClaim> {
    vec![LineageClaim {
        parent: parent.id,
        relation,
    }]
}

struct Chain {
    _tmp: tempfile::TempDir,
    layer: LocalLayer,
}

impl Chain {
    fn new() -> Chain {
        let tmp = tempfile::tempdir().unwrap();
        let chain = LocalChain::open(&tmp.path().join("chain"), ChainLimits::APP_V5).unwrap();
        Chain {
            _tmp: tmp,
            layer: LocalLayer::new(chain),
        }
    }

    async fn post(&self, blobs: Vec<Vec<u8>>) -> Vec<Locator> {
        self.layer
            .submit(Namespace::RECORDS, blobs)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.locator)
            .collect()
    }

    async fn post_one(&self, blob: Vec<u8>) -> Locator {
        self.post(vec![blob]).await.remove(0)
    }
}

fn source() -> Source {
    Source {
        layer: "local".into(),
        namespace: Some(Namespace::RECORDS.to_string()),
    }
}

async fn index_all(chain: &Chain, dir: &std::path::Path) -> Index {
    let index = Index::open(dir, Some(&source())).unwrap();
    let head = chain.layer.head().await.unwrap();
    let opts = FollowOptions {
        to_height: Some(head),
        ..FollowOptions::default()
    };
    let stop = follow(
        &index,
        &chain.layer,
        &opts,
        &tokio_util::sync::CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(stop, Stop::Reached);
    index
}

/// A root page whose payload is `payload` (an `I` or `P` page).
fn raw_root(model: ModelId, payload: &[u8]) -> Vec<u8> {
    Envelope::new(page_header(model, 0), payload.to_vec())
        .unwrap()
        .encode()
}

/// The signed bundle inside an inline root page.
fn bundle_of(root: &[u8]) -> Vec<u8> {
    let e = Envelope::decode_at(root, 0).unwrap();
    assert_eq!(e.payload[0], b'I');
    e.payload[1..].to_vec()
}

fn inline(model: ModelId, bundle: &[u8]) -> Vec<u8> {
    let mut p = b"I".to_vec();
    p.extend_from_slice(bundle);
    raw_root(model, &p)
}

#[tokio::test]
async fn a_mixed_chain_of_valid_and_hostile_records() {
    let chain = Chain::new();
    let alice = PrivateKey::generate();
    let bob = PrivateKey::generate();
    let mallory = PrivateKey::generate();
    let base = records::model(
        1,
        &[
            spec("model.safetensors", 40, 8),
            spec("extra.safetensors", 8, 2),
        ],
        LEAF,
        vec![],
    );
    // The finetune changes one tensor and one leaf of the first file.
    let finetune = records::derive(&base, 2, &[(1, 3, 5)], claim(&base, Relation::Finetune));
    let quantized = records::model(
        3,
        &[spec("model-q4.safetensors", 12, 8)],
        LEAF,
        claim(&base, Relation::Quantized),
    );
    let adapter = records::model(
        4,
        &[spec("adapter.safetensors", 4, 2)],
        LEAF,
        claim(&finetune, Relation::Adapter),
    );
    let page = |k: &PrivateKey, m: &CommittedModel| records::root_page(k, m, G, MAX_BLOB);

    // The adapter comes first: its parent is pending until the finetune.
    let adapter_at = chain.post_one(page(&alice, &adapter)).await;
    let base_root = page(&alice, &base);
    let base_at = chain.post_one(base_root.clone()).await;
    chain.post_one(page(&bob, &base)).await; // attestation by a second key
    chain.post_one(page(&alice, &finetune)).await;
    chain.post_one(page(&alice, &quantized)).await;
    chain.post_one(base_root.clone()).await; // the same record again
    chain.post_one(page(&alice, &base)).await; // same model, same key, new signature

    // Hostile records, each on its own height unless said otherwise.
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut hostile = |code: &'static str| *expected.entry(code).or_default() += 1;
    // Garbage, truncated and oversized envelopes.
    chain.post_one(b"not an envelope at all".to_vec()).await;
    hostile("envelope_malformed");
    chain.post_one(base_root[..60].to_vec()).await;
    hostile("envelope_malformed");
    let mut long = base_root.clone();
    long[57..61].copy_from_slice(&u32::MAX.to_be_bytes());
    chain.post_one(long).await;
    hostile("envelope_malformed");
    let mut altered = base_root.clone();
    let last = altered.len() - 2;
    altered[last] ^= 1;
    chain.post_one(altered).await;
    hostile("payload_hash");
    // A forged signature: the record's bytes altered, its signature kept.
    let mut forged = Bundle::from_json(
        std::path::Path::new("b"),
        &bundle_of(&page(&mallory, &quantized)),
    )
    .unwrap();
    let mut sig = forged.dsse_envelope.signatures[0].sig.clone().into_bytes();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    forged.dsse_envelope.signatures[0].sig = String::from_utf8(sig).unwrap();
    chain
        .post_one(inline(quantized.id, forged.to_json().as_bytes()))
        .await;
    hostile("bad_signature");
    // Claims signed by Alice's key, the record by Mallory's.
    let p = records::publication(&alice, &adapter, G, MAX_BLOB);
    chain
        .post_one(inline(adapter.id, &record::sign(&mallory, &p)))
        .await;
    hostile("bad_signature");
    // A model id that is not the hash of its manifest.
    let mut liar = records::model(5, &[spec("w.safetensors", 4, 1)], LEAF, vec![]);
    liar.id = ModelId::from_bytes([0x42; 32]);
    chain.post_one(page(&mallory, &liar)).await;
    hostile("model_id_mismatch");
    // An absurd size: a file of 2^50 bytes with the model id recomputed.
    let small = records::model(6, &[spec("w.safetensors", 4, 1)], LEAF, vec![]);
    let mut huge = small.clone();
    huge.manifest.files[0].size = 1 << 50;
    huge.manifest.files[0].tensors.clear();
    huge.id = huge.manifest.id();
    let mut p = records::publication(&mallory, &small, G, MAX_BLOB);
    p.model_id = huge.id;
    p.claims = Bundle::sign(
        &mallory,
        &modelda_manifest::sign::claims_payload(&huge, &mallory.public(), "huge"),
    )
    .to_json();
    chain
        .post_one(inline(huge.id, &record::sign(&mallory, &p)))
        .await;
    hostile("claims_invalid");
    // A page index of more bytes than any record.
    let idx = format!(
        "P{{\"pages\":[[\"{base_at}\",\"{}\"]],\"len\":{}}}",
        "00".repeat(32),
        record::MAX_RECORD_BYTES + 1
    );
    chain.post_one(raw_root(base.id, idx.as_bytes())).await;
    hostile("too_large");
    // Pages that do not match their index: a root page named as page 1.
    let idx = format!(
        "P{{\"pages\":[[\"{base_at}\",\"{}\"]],\"len\":5000}}",
        "00".repeat(32)
    );
    chain.post_one(raw_root(base.id, idx.as_bytes())).await;
    hostile("inconsistent");
    // A page above its root's height, and a page that is not there.
    let future = Locator::Local {
        height: 1_000_000,
        namespace: Namespace::RECORDS,
        commitment: ShareCommitment::from_bytes([1; 32]),
    };
    let idx = format!(
        "P{{\"pages\":[[\"{future}\",\"{}\"]],\"len\":5000}}",
        "00".repeat(32)
    );
    chain.post_one(raw_root(base.id, idx.as_bytes())).await;
    hostile("page_place");
    let gone = Locator::Local {
        height: 2,
        namespace: Namespace::RECORDS,
        commitment: ShareCommitment::from_bytes([1; 32]),
    };
    let idx = format!(
        "P{{\"pages\":[[\"{gone}\",\"{}\"]],\"len\":5000}}",
        "00".repeat(32)
    );
    chain.post_one(raw_root(base.id, idx.as_bytes())).await;
    hostile("page_unavailable");
    // A flood of small blobs at one height, and a data envelope (skipped).
    let flood: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().repeat(3)).collect();
    chain.post(flood).await;
    for _ in 0..2000 {
        hostile("envelope_malformed");
    }
    let data = Envelope::new(
        modelda_wire::Header {
            kind: Kind::Parity,
            ..page_header(base.id, 1)
        },
        vec![7; 100],
    )
    .unwrap()
    .encode();
    chain.post_one(data).await;

    let tmp = tempfile::tempdir().unwrap();
    let index = index_all(&chain, &tmp.path().join("a")).await;
    let counts = index.counts().unwrap();
    assert_eq!(counts.records, 5, "{counts:?}"); // adapter, base x2 keys, finetune, quantized
    assert_eq!(counts.reposts, 2, "{counts:?}");
    assert_eq!(counts.skipped, 1, "{counts:?}");
    let by_code: BTreeMap<&str, u64> = counts
        .rejections_by_code
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(by_code, expected, "rejections by code");
    assert_eq!(counts.rejections, expected.values().sum::<u64>());

    // The base: two signers, two publications, two children.
    let v = index.model_view(&base.id).unwrap().unwrap();
    assert_eq!(v.signers.len(), 2);
    let mut hints = vec![alice.public().hint(), bob.public().hint()];
    hints.sort();
    assert_eq!(v.signers, hints);
    assert_eq!(v.publications.len(), 2);
    assert_eq!(
        v.publications[0].reposts, 2,
        "the repeated record and the re-signed one"
    );
    assert_eq!(v.publications[0].record, base_at.to_string());
    assert_eq!(v.children.len(), 2);
    assert!(v.parents.is_empty());
    // Name, file roots and the signed claims are filed too.
    assert_eq!(v.model.name, "synthetic");
    let named = index.models_named("SYNTHETIC", None, 1000).unwrap();
    assert!(named.items.contains(&base.id) && named.items.contains(&finetune.id));
    let f0 = &base.manifest.files[0];
    let holders = index.files_with_root(f0.root.as_bytes(), None, 10).unwrap();
    assert!(holders.items.contains(&(base.id, 0)));
    let claims = index.claims(v.publications[0].id).unwrap().unwrap();
    let (c, _) =
        modelda_manifest::verify::open_claims(Path::new("claims"), claims.as_bytes(), None)
            .unwrap();
    assert_eq!(c.model_id, base.id);

    // The finetune: one tensor and one leaf changed.
    let ft = index.model_view(&finetune.id).unwrap().unwrap();
    assert_eq!(ft.parents.len(), 1);
    let e = &ft.parents[0];
    assert_eq!(e.parent, base.id);
    assert_eq!(e.entry.claim.relation, Relation::Finetune);
    assert_eq!(e.entry.status, EdgeStatus::Resolved);
    let ev = e.entry.evidence.as_ref().unwrap();
    assert_eq!((ev.child_tensors, ev.identical_tensors), (10, 9));
    assert_eq!((ev.child_leaves, ev.shared_leaves), (48, 47));
    assert_eq!(ev.new_tensor_count, 1);
    assert_eq!(
        ev.new_tensors,
        vec!["model.safetensors:layers.3.weight".to_string()]
    );
    let changed = &finetune.manifest.files[1].tensors[3];
    assert_eq!(
        ev.identical_bytes,
        finetune
            .manifest
            .files
            .iter()
            .flat_map(|f| &f.tensors)
            .map(|t| t.end - t.start)
            .sum::<u64>()
            - (changed.end - changed.start)
    );
    assert!(ev.is_supported());

    // The quantized model shares nothing: the claim is kept, unsupported.
    let q = index.model_view(&quantized.id).unwrap().unwrap();
    let ev = q.parents[0].entry.evidence.as_ref().unwrap();
    assert_eq!((ev.identical_tensors, ev.shared_leaves), (0, 0));
    assert!(!ev.is_supported());
    let shown = serde_json::to_value(&q.parents[0]).unwrap();
    assert_eq!(shown["evidence"]["supported"], false, "{shown}");

    // The adapter arrived before its parent: resolved when it came.
    let a = index.model_view(&adapter.id).unwrap().unwrap();
    assert_eq!(a.parents[0].entry.status, EdgeStatus::Resolved);
    assert_eq!(a.publications[0].record, adapter_at.to_string());
    assert!(index
        .scan(schema::CF_PENDING, &[], None, 10)
        .unwrap()
        .is_empty());

    // Lineage walks, both ways, with a depth bound.
    let up = index
        .lineage(&adapter.id, Direction::Ancestors, 10)
        .unwrap();
    assert_eq!(
        up.iter().map(|e| e.parent).collect::<Vec<_>>(),
        vec![finetune.id, base.id]
    );
    assert_eq!(
        index
            .lineage(&adapter.id, Direction::Ancestors, 1)
            .unwrap()
            .len(),
        1
    );
    let down = index.lineage(&base.id, Direction::Descendants, 10).unwrap();
    assert_eq!(down.len(), 3);

    // Tensor and chunk look-ups.
    let t = &base.manifest.files[0].tensors[0];
    let hits = index.tensor_models(&t.blake3, None, 10).unwrap();
    let mut found: Vec<ModelId> = hits.items.iter().map(|h| h.model_id).collect();
    found.sort();
    let mut want = vec![base.id, finetune.id];
    want.sort();
    assert_eq!(found, want, "a tensor the finetune kept is in both");
    let leaf0 = base.commitments["model.safetensors"].leaves()[0];
    let places = index.chunk_places(leaf0.as_bytes(), None, 100).unwrap();
    // Base by Alice, base by Bob, the finetune: three publications hold it.
    assert_eq!(places.items.len(), 3, "{:?}", places.items);
    for p in &places.items {
        assert_eq!((p.file, p.leaf), (1, 0));
        assert_eq!(p.place.stripe, 0);
        assert!(p.blob.starts_with("local:"), "{}", p.blob);
    }

    // Listings page with stable cursors.
    let first = index.rejections(None, None, 7).unwrap();
    let second = index.rejections(None, first.next.as_deref(), 7).unwrap();
    assert_eq!(first.items.len(), 7);
    assert!(first.items.last().unwrap().id < second.items[0].id);
    let sigs = index.rejections(Some("bad_signature"), None, 10).unwrap();
    assert_eq!(sigs.items.len(), 2);
    let pubs = index.publications(None, 1000).unwrap();
    assert_eq!(pubs.items.len(), 5);
    assert!(pubs.next.is_none());
    let alice_models = index
        .publisher_models(&alice.public().hint(), None, 100)
        .unwrap();
    assert_eq!(alice_models.items.len(), 4);

    // A second replica of the same chain has the same digest.
    let d1 = index.digest().unwrap();
    let replica = index_all(&chain, &tmp.path().join("b")).await;
    assert_eq!(replica.digest().unwrap(), d1);
    // Reopened on the same directory, it resumes and writes nothing.
    drop(replica);
    let again = index_all(&chain, &tmp.path().join("b")).await;
    assert_eq!(again.digest().unwrap(), d1);
    assert_eq!(d1.checkpoint, Some(chain.layer.head().await.unwrap()));
}

#[tokio::test]
async fn a_reader_in_another_instance_sees_what_the_writer_wrote() {
    let chain = Chain::new();
    let key = PrivateKey::generate();
    let m = records::model(9, &[spec("w.safetensors", 6, 2)], LEAF, vec![]);
    chain
        .post_one(records::root_page(&key, &m, G, MAX_BLOB))
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("i");
    let writer = index_all(&chain, &dir).await;
    let reader = Index::open_reader(&dir).unwrap();
    assert!(reader.model(&m.id).unwrap().is_some());
    assert_eq!(reader.digest().unwrap(), writer.digest().unwrap());
    // A second writer is refused with a clear error.
    let err = Index::open(&dir, Some(&source())).unwrap_err().to_string();
    assert!(err.contains("another"), "{err}");
    // Another source is refused.
    drop(writer);
    let other = Source {
        layer: "celestia".into(),
        namespace: Some(Namespace::RECORDS.to_string()),
    };
    let err = Index::open(&dir, Some(&other)).unwrap_err().to_string();
    assert!(err.contains("use another --index-dir"), "{err}");
}

#[tokio::test]
async fn a_claim_that_closes_a_cycle_is_refused() {
    // Hashes make real cycles impossible to sign; the check stands on the
    // edges alone, so it is tested on them.
    let tmp = tempfile::tempdir().unwrap();
    let index = Index::open(tmp.path(), Some(&source())).unwrap();
    let (a, b, c) = (
        ModelId::from_bytes([1; 32]),
        ModelId::from_bytes([2; 32]),
        ModelId::from_bytes([3; 32]),
    );
    let mut ov = Overlay::new(&index);
    // b -> a, c -> b: a claim "a -> c" would close a -> c -> b -> a.
    for (child, parent) in [(b, a), (c, b)] {
        ov.put(
            schema::CF_EDGES,
            &key::pair(child.as_bytes(), parent.as_bytes()),
            b"{}".to_vec(),
        );
    }
    let r = check_lineage(&ov, a, &[c]).unwrap();
    assert_eq!(r.map(|(c, _)| c), Some(Code::LineageCycle));
    let r = check_lineage(&ov, a, &[a]).unwrap();
    assert_eq!(r.map(|(c, _)| c), Some(Code::LineageSelf));
    assert_eq!(check_lineage(&ov, c, &[a]).unwrap().map(|(c, _)| c), None);
    ov.commit(None).unwrap();
    // Committed, the same.
    let ov = Overlay::new(&index);
    assert_eq!(
        check_lineage(&ov, a, &[c]).unwrap().map(|(c, _)| c),
        Some(Code::LineageCycle)
    );
}

#[test]
fn key_bytes_are_pinned() {
    let id = PubId {
        height: 0x0102030405060708,
        index: 0x090a0b0c,
    };
    assert_eq!(hex::encode(id.to_bytes()), "0102030405060708090a0b0c");
    assert_eq!(PubId::from_bytes(&id.to_bytes()), Some(id));
    let c = [0xaa; 32];
    assert_eq!(
        hex::encode(key::chunk(&c, id, 7, 9)),
        format!(
            "{}0102030405060708090a0b0c000000070000000000000009",
            "aa".repeat(32)
        )
    );
    assert_eq!(
        hex::encode(key::tensor(&c, &[0xbb; 32], 1, 2)),
        format!("{}{}0000000100000002", "aa".repeat(32), "bb".repeat(32))
    );
    assert_eq!(
        hex::encode(key::pub_blob(id, 3)),
        "0102030405060708090a0b0c00000003"
    );
    assert_eq!(
        hex::encode(key::model_pub(&c, id)),
        format!("{}0102030405060708090a0b0c", "aa".repeat(32))
    );
    let place = ChunkPlace {
        blob: 1,
        offset: 2,
        stripe: 3,
        shard: 4,
    };
    assert_eq!(
        hex::encode(place.to_bytes()),
        "000000010000000200000000000000030004"
    );
    assert_eq!(ChunkPlace::from_bytes(&place.to_bytes()), Some(place));
    assert_eq!(
        schema::COLUMN_FAMILIES.join(","),
        "meta_v1,models_v1,model_pubs_v1,pubs_v1,pub_blobs_v1,signers_v1,publishers_v1,\
         publisher_models_v1,tensors_v1,chunks_v1,edges_v1,edges_rev_v1,pending_v1,rejections_v1,\
         claims_v1,files_v1,names_v1,statements_v1,advisories_v1,advisory_ids_v1,\
         model_advisories_v1,advisory_current_v1"
    );
    assert_eq!(
        hex::encode(key::file(&c, &[0xbb; 32], 5)),
        format!("{}{}00000005", "aa".repeat(32), "bb".repeat(32))
    );
    assert_eq!(
        key::name_hash(" Llama "),
        *blake3::hash(b"llama").as_bytes()
    );
}

#[test]
fn rng_is_deterministic() {
    assert_eq!(Rng::new(1).next_u64(), Rng::new(1).next_u64());
}

/// `archive sync`'s adoption: another index's publications, adopted at
/// their ids, read and checked as the follower would; again, nothing; a
/// different record at a held id, an error; a hostile blob, a rejection.
/// The checkpoint only moves forward.
#[tokio::test]
async fn adopting_another_index_s_publications() {
    let chain = Chain::new();
    let alice = PrivateKey::generate();
    let base = records::model(1, &[spec("model.safetensors", 8, 2)], LEAF, vec![]);
    let finetune = records::derive(&base, 2, &[(0, 1, 1)], claim(&base, Relation::Finetune));
    let page = |m: &CommittedModel| records::root_page(&alice, m, G, MAX_BLOB);
    let base_at = chain.post_one(page(&base)).await;
    let ft_at = chain.post_one(page(&finetune)).await;
    let junk_at = chain.post_one(b"not an envelope".to_vec()).await;
    let tmp = tempfile::tempdir().unwrap();
    let followed = index_all(&chain, &tmp.path().join("a")).await;
    let listed = followed.publications(None, 10).unwrap().items;
    assert_eq!(listed.len(), 2);

    let index = Index::open(&tmp.path().join("b"), Some(&source())).unwrap();
    for p in &listed {
        let loc: Locator = p.record.parse().unwrap();
        let r = adopt(&index, &chain.layer, p.id, &loc)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.indexed.len(), 1, "{r:?}");
        assert_eq!(index.publication(p.id).unwrap().unwrap(), *p);
        // Again: held.
        assert!(adopt(&index, &chain.layer, p.id, &loc)
            .await
            .unwrap()
            .is_none());
    }
    // The finetune's edge to the base, as the follower saw it.
    assert_eq!(
        index.publication(listed[1].id).unwrap().unwrap().model_id,
        followed
            .publication(listed[1].id)
            .unwrap()
            .unwrap()
            .model_id
    );
    // Another record at a held id.
    let other = if listed[0].record == base_at.to_string() {
        &ft_at
    } else {
        &base_at
    };
    assert!(adopt(&index, &chain.layer, listed[0].id, other)
        .await
        .is_err());
    // A blob that is not a record: a rejection, held like a publication.
    let junk = PubId {
        height: junk_at.square_parts().unwrap().0,
        index: 0,
    };
    let r = adopt(&index, &chain.layer, junk, &junk_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert!(adopt(&index, &chain.layer, junk, &junk_at)
        .await
        .unwrap()
        .is_none());
    // The checkpoint: forward only.
    assert_eq!(index.checkpoint(), None);
    advance(&index, 5).await.unwrap();
    advance(&index, 3).await.unwrap();
    assert_eq!(index.checkpoint(), Some(5));
}
