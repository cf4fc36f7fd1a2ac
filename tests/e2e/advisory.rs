//! Advisories: every kind of document modelda signs validates against the
//! OSV project's own JSON schema (`fixtures/osv/schema.json`) with the
//! Python `jsonschema` package; `modelda advise` posts once, even killed;
//! `modelda node` serves status, reports and lineage reach, and the feed;
//! `fetch` and `verify` enforce them.

use std::path::Path;
use std::process::Command;

use modelda_da::Namespace;
use modelda_devnet::Devnet;
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, AdvisoryPredicate, Draft, Status};
use serde_json::{json, Value};

use super::api::{post_graphql, spawn_node, subscribe_while, three_generations, wait_head};
use super::{modelda, modelda_ok, repo, venv_python};

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
    assert_eq!(validate_osv(&py, &serde_json::to_vec(&docs).unwrap()), 10);
}

/// `modelda advise` on the embedded chain: the dry run says the size and
/// fee and posts nothing; the posted blob decodes as the signed advisory;
/// bad input gets an error that says what to do.
#[test]
fn advise_posts_a_signed_advisory_and_says_what_it_costs() {
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

/// Validates `docs` (a JSON array of OSV documents) against OSV's schema
/// with Python's `jsonschema`; returns how many were checked.
fn validate_osv(py: &Path, docs: &[u8]) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let docs_path = tmp.path().join("feed.json");
    std::fs::write(&docs_path, docs).unwrap();
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
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["bad"], json!([]), "{r}");
    r["checked"].as_u64().unwrap()
}

fn curl_get(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "-f", "-m", "60", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {url} failed");
    out.stdout
}

const MODEL_Q: &str = r#"query($id: ID!) { model(id: $id) {
  status { status denies standing advisory { id summary } }
  advisories { id status standing stands signerKey withdrawn }
  affectedThrough { path standing advisory { id status } }
} }"#;

fn model_q(addr: &str, id: &str) -> Value {
    let body = json!({"query": MODEL_Q, "variables": {"id": id}}).to_string();
    let v = post_graphql(addr, &body);
    assert!(v.get("errors").is_none(), "{v}");
    v["data"]["model"].clone()
}

/// Three generations on the embedded chain (base by A, attested by B; a
/// finetune sharing the base's tensors; a quantized child sharing
/// nothing), advisories by the publisher, the attester and a third party,
/// served by `modelda node`, enforced by `fetch` and `verify`, withdrawn.
#[test]
fn advisories_are_indexed_served_and_enforced_through_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let g = three_generations(root, &[]);
    // `three_generations`' quantized model shares its small files (config,
    // tokenizer) with the base, which is evidence; this one is its GGUF
    // file alone, sharing nothing.
    std::fs::create_dir(root.join("qx")).unwrap();
    std::fs::copy(
        root.join("q/sample-q8_0.gguf"),
        root.join("qx/sample-q8_0.gguf"),
    )
    .unwrap();
    let parent = format!("{}:quantized", g.finetune);
    let qx = super::api::publish(root, "qx", "a.pem", &["--parent", &parent])["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    modelda_ok(root, &["keygen", "--out", "m.pem"]);
    let advise = |id: &str, key: &str, status: &str, summary: &str| -> Value {
        let args = advise_args(id, key, status, summary);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_str(&modelda_ok(root, &args)).unwrap()
    };
    // The publisher: the base's training data was poisoned.
    let poisoned = advise(&g.base, "a.pem", "poisoned-data", "poisoned split");
    // The attester and a third party: reports only.
    advise(&g.base, "b.pem", "revoked", "the attester revokes");
    let mallory = advise(&g.finetune, "m.pem", "revoked", "mine now");
    // The same command again posts nothing new.
    let again = advise(&g.base, "a.pem", "poisoned-data", "poisoned split");
    assert_eq!(again["already_posted"], true, "{again}");
    assert_eq!(again["id"], poisoned["id"]);

    let (node, addr) = spawn_node(root, &[]);
    let _node = Terminate(Some(node));
    wait_head(root, &addr);

    let base = model_q(&addr, &g.base);
    assert_eq!(base["status"]["status"], "POISONED_DATA", "{base}");
    assert_eq!(base["status"]["standing"], "PUBLISHER", "{base}");
    assert_eq!(base["status"]["denies"], true);
    assert_eq!(base["status"]["advisory"]["id"], poisoned["id"]);
    let standings: Vec<&str> = base["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["standing"].as_str().unwrap())
        .collect();
    assert_eq!(standings, ["PUBLISHER", "THIRD_PARTY"], "{base}");
    let ft = model_q(&addr, &g.finetune);
    assert!(
        ft["status"].is_null(),
        "a third party decides nothing: {ft}"
    );
    assert_eq!(ft["advisories"][0]["standing"], "THIRD_PARTY");
    assert_eq!(
        ft["affectedThrough"][0]["path"],
        json!([g.finetune, g.base])
    );
    let q = model_q(&addr, &g.quantized);
    assert_eq!(
        q["affectedThrough"][0]["path"],
        json!([g.quantized, g.finetune, g.base]),
        "shared leaves (its config and tokenizer) are evidence: {q}"
    );
    let q = model_q(&addr, &qx);
    assert_eq!(
        q["affectedThrough"],
        json!([]),
        "no shared tensors or leaves, no reach: {q}"
    );

    // `index show` reads the node's index beside it.
    let shown: Value = serde_json::from_str(&modelda_ok(
        root,
        &[
            "--json",
            "index",
            "show",
            &g.base,
            "--index-dir",
            "node-index",
        ],
    ))
    .unwrap();
    assert_eq!(shown["status"]["status"], "poisoned-data", "{shown}");
    assert_eq!(shown["advisories"][1]["standing"], "third_party", "{shown}");
    let shown: Value = serde_json::from_str(&modelda_ok(
        root,
        &[
            "--json",
            "index",
            "show",
            &g.finetune,
            "--index-dir",
            "node-index",
        ],
    ))
    .unwrap();
    assert_eq!(
        shown["affected_through"][0]["path"],
        json!([g.finetune, g.base]),
        "{shown}"
    );

    // The feed: the believed advisory only, valid OSV.
    let feed = curl_get(&format!("http://{addr}/advisories/osv.json"));
    let docs: Value = serde_json::from_slice(&feed).unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    assert_eq!(docs[0]["id"], poisoned["id"]);
    if let Some(py) = venv_python() {
        assert_eq!(validate_osv(&py, &feed), 1);
    }

    // The subscription, with Python's gql over graphql-transport-ws: a
    // report posted while it listens arrives, marked.
    if let Some(py) = venv_python() {
        let event = subscribe_while(&py, root, &addr, "advisories", || {
            advise(&g.quantized, "m.pem", "vulnerable", "a report");
        });
        assert_eq!(event["modelId"], g.quantized, "{event}");
        assert_eq!(event["status"], "VULNERABLE");
        assert_eq!(event["standing"], "THIRD_PARTY");
        wait_head(root, &addr);
    }

    // fetch: refused before anything is written, through lineage.
    let index = format!("http://{addr}");
    let o = modelda(
        root,
        &[
            "fetch",
            &g.finetune,
            "--index",
            &index,
            "--deny-advisories",
            "--out",
            "ft-out",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("--deny-advisories") && err.contains("lineage"),
        "{err}"
    );
    assert!(!root.join("ft-out").exists(), "nothing is written");
    // Without --deny-advisories: fetched, the advisory said on stderr and
    // in --json.
    let o = modelda(
        root,
        &[
            "--json",
            "fetch",
            &g.finetune,
            "--index",
            &index,
            "--out",
            "ft-out",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let found = v["advisories"].as_array().unwrap();
    assert!(
        found
            .iter()
            .any(|a| a["standing"] == "publisher_of_ancestor"
                && a["status"] == "poisoned-data"
                && a["denies"] == true),
        "{v}"
    );
    assert!(
        found
            .iter()
            .any(|a| a["standing"] == "third_party" && a["believed"] == false),
        "{v}"
    );
    // The child that shares nothing is not refused.
    modelda_ok(
        root,
        &[
            "fetch",
            &qx,
            "--index",
            &index,
            "--deny-advisories",
            "--out",
            "q-out",
        ],
    );
    // verify: a local directory, the same rule; trusting Mallory's key
    // makes his revocation refuse.
    let o = modelda(
        root,
        &["verify", "base", "--index", &index, "--deny-advisories"],
    );
    assert!(!o.status.success());
    let trust = [
        "verify",
        "ft-out",
        "--index",
        &index,
        "--deny-advisories",
        "--trust-advisories-from",
        "m.pem.pub",
    ];
    let o = modelda(root, &trust);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains(mallory["id"].as_str().unwrap()),
        "{err}"
    );

    // Withdrawals: by another key, refused before posting; by the
    // publisher, from its journal.
    let id = poisoned["id"].as_str().unwrap();
    let o = modelda(
        root,
        &[
            "advise",
            "--withdraw",
            id,
            "--key",
            "b.pem",
            "--index",
            &index,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("only the key that signed"),
        "{err}"
    );
    let w: Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "advise", "--withdraw", id, "--key", "a.pem"],
    ))
    .unwrap();
    assert_eq!(w["withdraws"], id, "{w}");
    wait_head(root, &addr);
    let base = model_q(&addr, &g.base);
    assert!(base["status"].is_null(), "{base}");
    assert!(base["advisories"][0]["withdrawn"].is_string(), "{base}");
    modelda_ok(
        root,
        &[
            "fetch",
            &g.finetune,
            "--index",
            &index,
            "--deny-advisories",
            "--out",
            "ft-2",
        ],
    );
    // The feed keeps the withdrawn advisory, marked withdrawn.
    let feed = curl_get(&format!("http://{addr}/advisories/osv.json"));
    let docs: Value = serde_json::from_slice(&feed).unwrap();
    assert!(docs[0]["withdrawn"].is_string(), "{docs}");
    if let Some(py) = venv_python() {
        assert_eq!(validate_osv(&py, &feed), 1);
    }
}

/// `modelda --json advise MODEL --key KEY --status STATUS --summary TEXT`.
pub(super) fn advise_args(model: &str, key: &str, status: &str, summary: &str) -> Vec<String> {
    [
        "--json",
        "advise",
        model,
        "--key",
        key,
        "--status",
        status,
        "--summary",
        summary,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// Terminates a child process when dropped.
struct Terminate(Option<std::process::Child>);

impl Drop for Terminate {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            super::terminate(c);
        }
    }
}

/// kill -9 at random moments while advisories are in flight over the
/// devnet's Celestia API (answers lost, submissions evicted or delayed):
/// six advisories, each killed up to three times (in flight, or while a
/// rerun waits out the mempool TTL and looks for it) and then run to the
/// end; each is on the chain once, counted with the unmodified
/// `celestia-rpc` client, and a rerun posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_advising_posts_each_advisory_once() {
    use super::publish::{blocking, celestia_flags, node_blob_data, run_json};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let dn = tempfile::tempdir().unwrap();
    // Blocks of 700 ms, submissions included up to 3 blocks late, 10% of
    // answers lost and 5% of submissions evicted: an advise lasts at least
    // a block, so a kill in its first 400 ms mostly finds it in flight.
    let d = Devnet::start(modelda_devnet::DevnetConfig {
        data_dir: dn.path().to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        block_time: std::time::Duration::from_millis(700),
        mempool_ttl_blocks: 4,
        faults: modelda_devnet::Faults {
            evict_rate: 0.05,
            lose_answer_rate: 0.10,
            inclusion_delay_blocks: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .expect("devnet starts");
    modelda_ok(&root, &["keygen", "--out", "key.pem"]);
    let model = ModelId::from_bytes([7; 32]).to_hex();
    let mut seed = super::test_seed() | 1;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut killed, mut ids) = (0, Vec::new());
    for i in 0..6 {
        let mut args = advise_args(&model, "key.pem", "vulnerable", &format!("advisory {i}"));
        args.extend(["--mempool-ttl-blocks".to_string(), "4".to_string()]);
        args.extend(celestia_flags(&d));
        // The first kill in its first 400 ms; later ones up to 5 s in
        // (through the settling wait and the second submission).
        for k in 0..=next(3) {
            let delay = if k == 0 {
                20 + next(380)
            } else {
                20 + next(5000)
            };
            let (a, r) = (args.clone(), root.clone());
            let finished = blocking(move || {
                let mut child = std::process::Command::new(super::modelda_bin())
                    .args(&a)
                    .current_dir(&r)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(delay));
                match child.try_wait().unwrap() {
                    Some(status) => status.success(),
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        false
                    }
                }
            })
            .await;
            if finished {
                break;
            }
            killed += 1;
        }
        let done = run_json(&root, &args).await;
        ids.push(done["id"].as_str().unwrap().to_string());
    }
    let mut on_chain: Vec<String> = node_blob_data(&d, Namespace::RECORDS)
        .await
        .into_iter()
        .filter_map(|(_, b)| advisory::decode(&b).ok().map(|a| a.id().to_string()))
        .collect();
    eprintln!("{killed} runs killed or failed; advisories on the chain: {on_chain:?}");
    // A run can end before its first kill when a block closes just after
    // it submits; over six advisories, most are killed at least once.
    assert!(killed >= 3, "only {killed} runs were killed");
    on_chain.sort();
    ids.sort();
    assert_eq!(on_chain, ids, "each advisory once, none lost");
    // Once more: nothing new.
    let mut args = advise_args(&model, "key.pem", "vulnerable", "advisory 0");
    args.extend(celestia_flags(&d));
    let again = run_json(&root, &args).await;
    assert_eq!(again["already_posted"], true, "{again}");
    assert_eq!(node_blob_data(&d, Namespace::RECORDS).await.len(), 6);
}
