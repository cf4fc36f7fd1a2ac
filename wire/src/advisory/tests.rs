use super::*;

const NOW: u64 = 1_796_342_400; // 2026-12-04T00:00:00Z

fn model(n: u8) -> ModelId {
    ModelId::from_bytes([n; 32])
}

fn draft() -> Draft {
    Draft {
        model: Some(model(1)),
        status: Some(Status::PoisonedData),
        summary: Some("trained on a poisoned split".into()),
        details: Some("The `train-2` split held **backdoor** triggers.".into()),
        references: vec!["https://example.org/report".into()],
        severity: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        hf_repo: Some("acme/llama-ft".into()),
        ..Default::default()
    }
}

fn signed(key: &PrivateKey, d: &Draft) -> Vec<u8> {
    let osv = d.osv(&key.public(), NOW).unwrap();
    encode(
        key,
        AdvisoryPredicate {
            model_id: d.model.unwrap(),
            withdraws: None,
            public_key: String::new(),
            osv,
        },
    )
}

/// The statement JSON of a blob, to alter and sign again.
fn statement_of(blob: &[u8]) -> serde_json::Value {
    let e = Envelope::decode_at(blob, 0).unwrap();
    let b = Bundle::from_json(Path::new("t"), &e.payload).unwrap();
    serde_json::from_slice(&b.payload(Path::new("t")).unwrap()).unwrap()
}

/// A blob of `statement`, signed by `key`, naming `model` in its header.
fn blob_of(key: &PrivateKey, model: ModelId, statement: &serde_json::Value) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).unwrap();
    statement_blob(model, &Bundle::sign(key, &payload).to_json().into_bytes())
}

#[test]
fn an_advisory_round_trips_and_its_id_is_its_content_s() {
    let key = PrivateKey::generate();
    let d = draft();
    let a = decode(&signed(&key, &d)).unwrap();
    assert_eq!(a.model, model(1));
    assert_eq!(a.status(), Some(Status::PoisonedData));
    assert_eq!(a.key.hint(), key.public().hint());
    assert!(
        a.id().starts_with("x_MDA-") && a.id().len() == 6 + 32,
        "{}",
        a.id()
    );
    let osv = &a.predicate.osv;
    assert_eq!(osv.modified, "2026-12-04T00:00:00Z");
    assert_eq!(osv.published.as_deref(), Some("2026-12-04T00:00:00Z"));
    let pkg = osv.affected[0].package.as_ref().unwrap();
    assert_eq!(pkg.purl.as_deref(), Some("pkg:huggingface/acme/llama-ft"));
    assert_eq!(osv.severity[0].kind, "CVSS_V3");
    // Same content, same id; other content or another signer, another.
    let again = decode(&signed(&key, &d)).unwrap();
    assert_eq!(again.id(), a.id());
    let mut other = d.clone();
    other.summary = Some("another".into());
    assert_ne!(decode(&signed(&key, &other)).unwrap().id(), a.id());
    assert_ne!(
        decode(&signed(&PrivateKey::generate(), &d)).unwrap().id(),
        a.id()
    );
    assert_eq!(normalize_id(&a.id()[2..]).unwrap(), a.id());
    assert_eq!(
        normalize_id(&a.id().to_uppercase().replace("X_MDA", "MDA")).unwrap(),
        a.id()
    );
    assert!(normalize_id("MDA-12").is_err());
}

#[test]
fn a_withdrawal_carries_the_document_with_withdrawn_set() {
    let key = PrivateKey::generate();
    let a = decode(&signed(&key, &draft())).unwrap();
    let w = decode(&encode(&key, withdrawal(&a, NOW + 60))).unwrap();
    assert_eq!(w.status(), None);
    assert_eq!(w.predicate.withdraws.as_deref(), Some(a.id()));
    assert_eq!(w.id(), a.id());
    assert_eq!(
        w.predicate.osv.withdrawn.as_deref(),
        Some("2026-12-04T00:01:00Z")
    );
    // Withdrawn by another key: it parses (the indexer refuses it: only
    // the signer of the advisory may withdraw it).
    let other = PrivateKey::generate();
    let w2 = decode(&encode(&other, withdrawal(&a, NOW + 60))).unwrap();
    assert_ne!(w2.key.hint(), a.key.hint());
    // `withdrawn` without `withdraws`: refused.
    let mut p = withdrawal(&a, NOW);
    p.withdraws = None;
    assert_eq!(decode(&encode(&key, p)).unwrap_err().code, "advisory_osv");
}

#[test]
fn forged_altered_and_misaddressed_advisories_are_refused() {
    let key = PrivateKey::generate();
    let blob = signed(&key, &draft());
    // A byte of the signed statement changed (the envelope's digest
    // recomputed): the signature fails.
    let mut st = statement_of(&blob);
    st["predicate"]["osv"]["summary"] = "harmless".into();
    let e = Envelope::decode_at(&blob, 0).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
    bundle["dsseEnvelope"]["payload"] = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&st).unwrap(),
    )
    .into();
    let forged = serde_json::to_vec(&bundle).unwrap();
    let mut out = Vec::new();
    e.header
        .encode_into(&e.header.digest(&forged).unwrap(), &forged, &mut out);
    assert_eq!(decode(&out).unwrap_err().code, "advisory_signature");
    // Signed by one key, carrying another's public key.
    let other = PrivateKey::generate();
    let mut st = statement_of(&blob);
    st["predicate"]["public_key"] = other.public().to_pem().into();
    assert_eq!(
        decode(&blob_of(&key, model(1), &st)).unwrap_err().code,
        "advisory_signature"
    );
    // Signed properly, but the envelope names another model.
    let st = statement_of(&blob);
    assert_eq!(
        decode(&blob_of(&key, model(2), &st)).unwrap_err().code,
        "advisory_subject"
    );
    // A content change re-signed without a new id.
    let mut st = statement_of(&blob);
    st["predicate"]["osv"]["summary"] = "harmless".into();
    assert_eq!(
        decode(&blob_of(&key, model(1), &st)).unwrap_err().code,
        "advisory_id"
    );
    // Unknown fields, another predicate type, not JSON.
    let mut st = statement_of(&blob);
    st["predicate"]["osv"]["aliases"] = serde_json::json!(["CVE-1"]);
    assert_eq!(
        decode(&blob_of(&key, model(1), &st)).unwrap_err().code,
        "advisory_malformed"
    );
    let mut st = statement_of(&blob);
    st["predicateType"] = "https://modelda.dev/publication/v1".into();
    assert_eq!(
        decode(&blob_of(&key, model(1), &st)).unwrap_err().code,
        "advisory_malformed"
    );
    assert_eq!(
        parse(&model(1), b"{").unwrap_err().code,
        "advisory_malformed"
    );
    assert_eq!(decode(b"junk").unwrap_err().code, "advisory_malformed");
}

#[test]
fn sizes_are_bounded_before_anything_is_read() {
    let key = PrivateKey::generate();
    // Huge details: refused when drafted, and by size when signed anyway.
    let mut d = draft();
    d.details = Some("x".repeat(MAX_DETAILS_BYTES + 1));
    assert_eq!(
        d.osv(&key.public(), NOW).unwrap_err().code,
        "advisory_too_large"
    );
    assert_eq!(
        parse(&model(1), &vec![b' '; MAX_ADVISORY_BYTES + 1])
            .unwrap_err()
            .code,
        "advisory_too_large"
    );
    let mut st = statement_of(&signed(&key, &draft()));
    st["predicate"]["osv"]["references"] = serde_json::json!(vec![
        serde_json::json!({"type": "WEB", "url": "https://e.org"});
        MAX_REFERENCES + 1
    ]);
    let err = decode(&blob_of(&key, model(1), &st)).unwrap_err();
    assert!(
        err.code == "advisory_too_large" || err.code == "advisory_id",
        "{err}"
    );
}

#[test]
fn drafts_say_what_is_missing() {
    let k = PrivateKey::generate().public();
    let mut d = draft();
    d.status = Some(Status::Superseded);
    assert!(d
        .osv(&k, NOW)
        .unwrap_err()
        .reason
        .contains("--superseded-by"));
    d.superseded_by = Some(model(3));
    let osv = d.osv(&k, NOW).unwrap();
    assert_eq!(osv.database_specific.superseded_by, Some(model(3)));
    let mut d = draft();
    d.severity = Some("high".into());
    assert_eq!(d.osv(&k, NOW).unwrap_err().code, "advisory_osv");
    let mut d = draft();
    d.hf_repo = Some("../../etc".into());
    assert_eq!(d.osv(&k, NOW).unwrap_err().code, "advisory_osv");
    let mut d = draft();
    d.references = vec!["javascript:alert(1)".into()];
    assert_eq!(d.osv(&k, NOW).unwrap_err().code, "advisory_osv");
    assert!("nope"
        .parse::<Status>()
        .unwrap_err()
        .contains("poisoned-data"));
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(NOW + 3661), "2026-12-04T01:01:01Z");
    for t in ["2026-12-04T00:00:00Z", "2026-12-04T00:00:00.123Z"] {
        assert!(is_timestamp(t), "{t}");
    }
    for t in [
        "2026-12-04 00:00:00Z",
        "2026-13-04T00:00:00Z",
        "2026-12-04T00:00:00+01:00",
        "2026-12-04T00:00:00.Z",
        "",
    ] {
        assert!(!is_timestamp(t), "{t}");
    }
}

/// The fuzz target's seed (`fuzz/seeds/advisory_decode.bin`) is a valid
/// advisory; `MODELDA_WRITE_FUZZ_SEED=1` writes a new one.
#[test]
fn the_fuzz_seed_is_a_valid_advisory() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/advisory_decode.bin");
    if std::env::var_os("MODELDA_WRITE_FUZZ_SEED").is_some() {
        std::fs::write(&path, signed(&PrivateKey::generate(), &draft())).unwrap();
    }
    let blob = std::fs::read(&path).unwrap();
    let a = decode(&blob).unwrap();
    assert_eq!(a.status(), Some(Status::PoisonedData));
}
