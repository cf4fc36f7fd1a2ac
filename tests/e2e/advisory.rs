//! Advisories against tools nobody here wrote: every kind of document
//! modelda signs validates against the OSV project's own JSON schema
//! (`fixtures/osv/schema.json`) with the Python `jsonschema` package.

use std::process::Command;

use modelda_manifest::sign::PrivateKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, AdvisoryPredicate, Draft, Status};

use super::{repo, venv_python};

#[test]
fn advisories_are_valid_osv_documents() {
    let Some(py) = venv_python() else {
        return;
    };
    let key = PrivateKey::generate();
    let now = 1_796_342_400;
    let mut docs = Vec::new();
    for (i, status) in Status::ALL.into_iter().enumerate() {
        let d = Draft {
            model: Some(ModelId::from_bytes([i as u8; 32])),
            status: Some(status),
            superseded_by: (status == Status::Superseded).then(|| ModelId::from_bytes([9; 32])),
            summary: Some(format!("{status}: do not use")),
            details: (i % 2 == 0).then(|| "Found in **review**.\n\nSee the report.".to_string()),
            references: vec!["https://example.org/report".into()],
            severity: match i {
                0 => Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                1 => Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into()),
                _ => None,
            },
            hf_repo: (i % 2 == 1).then(|| "acme/model-1.5".to_string()),
        };
        let osv = d.osv(&key.public(), now).unwrap();
        let blob = advisory::encode(
            &key,
            AdvisoryPredicate {
                model_id: d.model.unwrap(),
                withdraws: None,
                public_key: String::new(),
                osv,
            },
        );
        let a = advisory::decode(&blob).unwrap();
        let w =
            advisory::decode(&advisory::encode(&key, advisory::withdrawal(&a, now + 5))).unwrap();
        docs.push(serde_json::to_value(&a.predicate.osv).unwrap());
        docs.push(serde_json::to_value(&w.predicate.osv).unwrap());
    }
    let tmp = tempfile::tempdir().unwrap();
    let docs_path = tmp.path().join("docs.json");
    std::fs::write(&docs_path, serde_json::to_vec(&docs).unwrap()).unwrap();
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
docs = json.load(open(sys.argv[2]))
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
bad = [(d["id"], e.message) for d in docs for e in v.iter_errors(d)]
print(json.dumps({"checked": len(docs), "bad": bad}))
"#;
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(repo().join("fixtures/osv/schema.json"))
        .arg(&docs_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["checked"], 10, "{r}");
    assert_eq!(r["bad"], serde_json::json!([]), "{r}");
}

/// `modelda advise` on the embedded chain: the dry run says the size and
/// fee and posts nothing; the posted blob decodes as the signed advisory;
/// bad input gets an error that says what to do.
#[test]
fn advise_posts_a_signed_advisory_and_says_what_it_costs() {
    use super::{modelda, modelda_ok};
    use modelda_fixtures::sample::{write_model, SampleOptions};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_model(
        &root.join("m"),
        &SampleOptions {
            weights_bytes: 64 << 10,
            shards: 1,
            gguf: false,
            seed: 3,
        },
    )
    .unwrap();
    modelda_ok(root, &["keygen", "--out", "a.pem"]);
    let p: serde_json::Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "publish", "m", "--key", "a.pem"],
    ))
    .unwrap();
    let id = p["model_id"].as_str().unwrap();
    let say = [
        "advise",
        id,
        "--key",
        "a.pem",
        "--status",
        "poisoned-data",
        "--summary",
        "trained on a poisoned split",
        "--reference",
        "https://example.org/r",
        "--hf-repo",
        "acme/m",
    ];
    let mut dry = vec!["--json"];
    dry.extend_from_slice(&say);
    dry.push("--dry-run");
    let d: serde_json::Value = serde_json::from_str(&modelda_ok(root, &dry)).unwrap();
    assert_eq!(d["dry_run"], true, "{d}");
    assert!(d["id"].as_str().unwrap().starts_with("x_MDA-"), "{d}");
    assert_eq!(
        d["osv"]["affected"][0]["package"]["purl"], "pkg:huggingface/acme/m",
        "{d}"
    );
    let head = |root: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&modelda_ok(root, &["--json", "blob", "head"])).unwrap()
    };
    let before = head(root);
    // On Celestia the dry run prices the blob with no node to ask.
    let mut c = dry.clone();
    c.extend_from_slice(&["--da", "celestia", "--celestia-url", "http://127.0.0.1:1"]);
    let dc: serde_json::Value = serde_json::from_str(&modelda_ok(root, &c)).unwrap();
    assert!(dc["fee"]["utia"].as_u64().unwrap() > 0, "{dc}");
    assert_eq!(head(root), before, "a dry run posts nothing");

    let mut post = vec!["--json"];
    post.extend_from_slice(&say);
    let r: serde_json::Value = serde_json::from_str(&modelda_ok(root, &post)).unwrap();
    let loc = r["locator"].as_str().unwrap();
    modelda_ok(root, &["blob", "get", loc, "--out", "adv.bin"]);
    let a = advisory::decode(&std::fs::read(root.join("adv.bin")).unwrap()).unwrap();
    assert_eq!(a.status(), Some(Status::PoisonedData));
    assert_eq!(a.model.to_hex(), id);
    assert_eq!(a.id(), r["id"].as_str().unwrap());
    let pub_pem = std::fs::read_to_string(root.join("a.pem.pub")).unwrap();
    assert_eq!(a.key.to_pem(), pub_pem);

    // Bad input, each with an error that says what to do.
    let fails = |args: &[&str], says: &str| {
        let o = modelda(root, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{args:?}: {err}");
    };
    std::fs::write(root.join("big.md"), vec![b'x'; 40 << 10]).unwrap();
    for (more, says) in [
        (&["--status", "superseded"][..], "--superseded-by"),
        (&["--status", "bad"], "poisoned-data"),
        (
            &["--status", "revoked", "--details", "big.md"],
            "--reference",
        ),
        (&["--status", "vulnerable", "--severity", "high"], "CVSS"),
    ] {
        let mut args = vec!["advise", id, "--key", "a.pem"];
        args.extend_from_slice(more);
        fails(&args, says);
    }
}
