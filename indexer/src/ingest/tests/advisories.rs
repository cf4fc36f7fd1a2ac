//! Advisories on one local chain: a base with a finetune (shares tensors)
//! and a quantized child (shares nothing); the publisher's advisories, a
//! third party's, hostile ones signed by the attacker's own key; pending,
//! replacement, withdrawal and trust. Indexed twice: same digest.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_wire::advisory::{
    self, derive_id, AdvisoryPredicate, Draft, Status, MAX_DETAILS_BYTES,
};

use super::*;
use crate::query::{Standing, Trust};

const NOW: u64 = 1_796_342_400; // 2026-12-04T00:00:00Z

fn draft(model: ModelId, status: Status, summary: &str) -> Draft {
    Draft {
        model: Some(model),
        status: Some(status),
        summary: Some(summary.into()),
        ..Draft::default()
    }
}

fn advise(key: &PrivateKey, d: &Draft) -> Vec<u8> {
    let osv = d.osv(&key.public(), NOW).unwrap();
    advisory::encode(
        key,
        AdvisoryPredicate {
            model_id: d.model.unwrap(),
            withdraws: None,
            public_key: String::new(),
            osv,
        },
    )
}

fn withdraw(key: &PrivateKey, blob: &[u8]) -> Vec<u8> {
    let a = advisory::decode(blob).unwrap();
    advisory::encode(key, advisory::withdrawal(&a, NOW + 60))
}

fn id_of(blob: &[u8]) -> String {
    advisory::decode(blob).unwrap().id().to_string()
}

fn rejected_codes(index: &Index) -> BTreeMap<String, u64> {
    index.counts().unwrap().rejections_by_code
}

#[tokio::test]
async fn advisories_are_believed_from_the_publisher_and_reach_children_with_evidence() {
    let chain = Chain::new();
    let alice = PrivateKey::generate();
    let mallory = PrivateKey::generate();
    let base = records::model(1, &[spec("model.safetensors", 24, 6)], LEAF, vec![]);
    let finetune = records::derive(&base, 2, &[(0, 2, 3)], claim(&base, Relation::Finetune));
    let quantized = records::model(
        3,
        &[spec("model-q4.safetensors", 8, 6)],
        LEAF,
        claim(&base, Relation::Quantized),
    );
    let grandchild = records::derive(
        &finetune,
        4,
        &[(0, 4, 5)],
        claim(&finetune, Relation::Finetune),
    );
    let late = records::model(5, &[spec("late.safetensors", 4, 1)], LEAF, vec![]);
    let page = |k: &PrivateKey, m: &CommittedModel| records::root_page(k, m, G, MAX_BLOB);

    for m in [&base, &finetune, &quantized, &grandchild] {
        chain.post_one(page(&alice, m)).await;
    }
    // Mallory attests the base (one record of it, his key), then revokes it.
    chain.post_one(page(&mallory, &base)).await;
    let mallory_revokes = advise(&mallory, &draft(base.id, Status::Revoked, "mine now"));
    chain.post_one(mallory_revokes.clone()).await;
    // Alice: the base's data was poisoned.
    let poisoned = advise(&alice, &draft(base.id, Status::PoisonedData, "poisoned"));
    chain.post_one(poisoned.clone()).await;
    // The same blob again: a repost.
    chain.post_one(poisoned.clone()).await;
    // An advisory about a model not indexed yet: pending until it comes.
    let early = advise(
        &alice,
        &draft(late.id, Status::Vulnerable, "before its record"),
    );
    chain.post_one(early.clone()).await;

    // Hostile statements, each signed properly by Mallory's own key.
    // A withdrawal of Alice's advisory.
    chain.post_one(withdraw(&mallory, &poisoned)).await;
    // A forged signature: Alice's advisory with its text changed.
    let mut st = {
        let e = Envelope::decode_at(&poisoned, 0).unwrap();
        let b = Bundle::from_json(Path::new("t"), &e.payload).unwrap();
        serde_json::from_slice::<serde_json::Value>(&b.payload(Path::new("t")).unwrap()).unwrap()
    };
    st["predicate"]["osv"]["summary"] = "all fine, keep using it".into();
    let mut forged = Bundle::from_json(
        Path::new("t"),
        &Envelope::decode_at(&poisoned, 0).unwrap().payload,
    )
    .unwrap();
    forged.dsse_envelope.payload = B64.encode(serde_json::to_vec(&st).unwrap());
    chain
        .post_one(advisory::statement_blob(
            base.id,
            forged.to_json().as_bytes(),
        ))
        .await;
    // Huge details, signed and with the id its content gives.
    let d = draft(base.id, Status::Revoked, "long");
    let mut osv = d.osv(&mallory.public(), NOW).unwrap();
    osv.details = Some("x".repeat(MAX_DETAILS_BYTES + 1));
    osv.id = derive_id(&osv, &base.id, &mallory.public().hint());
    chain
        .post_one(advisory::encode(
            &mallory,
            AdvisoryPredicate {
                model_id: base.id,
                withdraws: None,
                public_key: String::new(),
                osv,
            },
        ))
        .await;
    // The header names another model than the statement.
    let other = advise(&mallory, &draft(quantized.id, Status::Revoked, "x"));
    let e = Envelope::decode_at(&other, 0).unwrap();
    chain
        .post_one(advisory::statement_blob(base.id, &e.payload))
        .await;
    // Not a statement at all, in a statement envelope.
    chain
        .post_one(advisory::statement_blob(base.id, b"{\"mediaType\":1}"))
        .await;
    // A statement of a type this build does not read: skipped.
    let unknown = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://example.com/other/v1","predicate":{}}"#;
    chain
        .post_one(advisory::statement_blob(
            base.id,
            Bundle::sign(&mallory, unknown).to_json().as_bytes(),
        ))
        .await;

    let tmp = tempfile::tempdir().unwrap();
    let index = index_all(&chain, &tmp.path().join("a")).await;
    let signers_only = Trust::signers_only();

    let codes = rejected_codes(&index);
    let want: BTreeMap<String, u64> = [
        ("advisory_withdrawal", 1),
        ("advisory_signature", 1),
        ("advisory_too_large", 1),
        ("advisory_subject", 1),
        ("statement_malformed", 1),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_string(), n))
    .collect();
    assert_eq!(codes, want);
    let counts = index.counts().unwrap();
    assert_eq!(counts.advisories, 3, "{counts:?}");
    assert_eq!(counts.advisory_reposts, 1, "{counts:?}");
    assert_eq!(counts.skipped, 1, "{counts:?}");

    // The base: Alice's advisory decides; Mallory's is a report, though he
    // attested the base.
    let s = index
        .model_status(&base.id, &signers_only)
        .unwrap()
        .unwrap();
    assert_eq!(s.status, Status::PoisonedData);
    assert_eq!(s.standing, Standing::Publisher);
    assert_eq!(s.advisory.id, id_of(&poisoned));
    let all = index.model_advisories(&base.id).unwrap();
    assert_eq!(all.len(), 2);
    let m = all
        .iter()
        .find(|a| a.id == id_of(&mallory_revokes))
        .unwrap();
    assert_eq!(
        index.standing(m, &signers_only).unwrap(),
        Standing::ThirdParty
    );
    // Trusting Mallory's key makes his revocation decide (it ranks first).
    let trust_mallory = Trust::with_keys([&mallory.public()]);
    let s = index
        .model_status(&base.id, &trust_mallory)
        .unwrap()
        .unwrap();
    assert_eq!((s.status, s.standing), (Status::Revoked, Standing::Trusted));

    // Through lineage: the finetune and its child share the base's tensors;
    // the quantized model shares nothing.
    let ft = index.affected_through(&finetune.id, &signers_only).unwrap();
    assert_eq!(ft.len(), 1);
    assert_eq!(ft[0].path, vec![finetune.id, base.id]);
    assert_eq!(ft[0].advisory.status, Status::PoisonedData);
    let gc = index
        .affected_through(&grandchild.id, &signers_only)
        .unwrap();
    assert_eq!(gc.len(), 1);
    assert_eq!(gc[0].path, vec![grandchild.id, finetune.id, base.id]);
    assert!(index
        .affected_through(&quantized.id, &signers_only)
        .unwrap()
        .is_empty());
    assert!(index
        .model_status(&finetune.id, &signers_only)
        .unwrap()
        .is_none());

    // Pending until the model comes.
    let e = index.advisory(&id_of(&early)).unwrap().unwrap();
    assert!(index.advisory_pending(&e).unwrap());
    assert!(index
        .model_status(&late.id, &signers_only)
        .unwrap()
        .is_none());

    // Same chain, more heights: the late model; Alice replaces her advisory
    // with `vulnerable` (which does not reach descendants), then withdraws
    // it, and Mallory withdraws his own.
    chain.post_one(page(&alice, &late)).await;
    let vulnerable = advise(&alice, &draft(base.id, Status::Vulnerable, "only a CVE"));
    chain.post_one(vulnerable.clone()).await;
    let h_replaced = chain.layer.head().await.unwrap();
    chain.post_one(withdraw(&alice, &vulnerable)).await;
    chain.post_one(withdraw(&mallory, &mallory_revokes)).await;
    let index = {
        drop(index);
        index_all(&chain, &tmp.path().join("a")).await
    };
    let e = index.advisory(&id_of(&early)).unwrap().unwrap();
    assert!(!index.advisory_pending(&e).unwrap());
    let s = index
        .model_status(&late.id, &signers_only)
        .unwrap()
        .unwrap();
    assert_eq!(s.status, Status::Vulnerable);
    let p = index.advisory(&id_of(&poisoned)).unwrap().unwrap();
    assert_eq!(p.replaced_by.map(|r| r.height), Some(h_replaced));
    assert!(!p.stands());
    let v = index.advisory(&id_of(&vulnerable)).unwrap().unwrap();
    assert!(v.withdrawn_by.is_some() && v.withdrawn.is_some());
    assert!(index
        .model_status(&base.id, &trust_mallory)
        .unwrap()
        .is_none());
    assert!(index
        .affected_through(&finetune.id, &signers_only)
        .unwrap()
        .is_empty());
    assert_eq!(index.counts().unwrap().withdrawals, 2);
    // Every statement's bundle is kept for readers to check.
    let bundle = index.statement(p.at).unwrap().unwrap();
    assert!(advisory::parse(&base.id, bundle.as_bytes()).is_ok());

    // A second index of the same chain: the same digest.
    let again = index_all(&chain, &tmp.path().join("b")).await;
    assert_eq!(index.digest().unwrap(), again.digest().unwrap());
}

/// An advisory registered by hand (what EigenDA needs: it has no namespace
/// to follow), then again: indexed once, and the second registration says
/// which advisory the locator holds.
#[tokio::test]
async fn an_advisory_registered_by_hand_is_indexed_once() {
    let chain = Chain::new();
    let alice = PrivateKey::generate();
    let base = records::model(1, &[spec("model.safetensors", 4, 2)], LEAF, vec![]);
    let a = advise(&alice, &draft(base.id, Status::Revoked, "by cert"));
    let at = chain.post_one(a.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let index = Index::open(&tmp.path().join("i"), None).unwrap();
    let first = register(&index, &chain.layer, &at).await.unwrap();
    assert_eq!(first.advisories, vec![id_of(&a)]);
    let again = register(&index, &chain.layer, &at).await.unwrap();
    assert_eq!(again.advisories, vec![id_of(&a)]);
    assert_eq!(index.counts().unwrap().advisories, 1);
    let e = index.advisory(&id_of(&a)).unwrap().unwrap();
    assert!(index.advisory_pending(&e).unwrap() && e.at.height == 0);
}
