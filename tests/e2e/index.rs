//! `modelda index` end to end: following the local chain while another
//! process publishes to it, kill -9 at random moments during ingest (the
//! digest must equal an uninterrupted run's), replicas, and following the
//! devnet's Celestia API over HTTP with its fault injection on.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use modelda_da::{ChainLimits, LocalChain, Namespace};
use modelda_devnet::jwt::Permission;
use modelda_devnet::{Devnet, DevnetConfig, Faults};
use modelda_fixtures::records::{self, FileSpec};
use modelda_fixtures::sample::{write_model, SampleOptions};
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::{LineageClaim, Relation};
use modelda_merkle::LeafSize;
use modelda_publisher::Geometry;
use modelda_wire::advisory::{self, AdvisoryPredicate, Draft, Status};
use serde_json::Value;

use super::{modelda, modelda_bin, modelda_ok};

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A signed advisory blob about `model` by `key`.
fn advisory_blob(
    key: &PrivateKey,
    model: modelda_manifest::ModelId,
    status: Status,
    summary: String,
) -> Vec<u8> {
    let d = Draft {
        model: Some(model),
        status: Some(status),
        summary: Some(summary),
        ..Draft::default()
    };
    let osv = d.osv(&key.public(), 1_796_342_400).unwrap();
    advisory::encode(
        key,
        AdvisoryPredicate {
            model_id: model,
            withdraws: None,
            public_key: String::new(),
            osv,
        },
    )
}

/// Appends `n` synthetic publications (every fifth a finetune of the one
/// before, every seventh height also a garbage blob) to the chain in `dir`,
/// one height each, with advisories: every sixth height one about its
/// model, replaced six heights later, every eighteenth withdrawn at the
/// next height, and every tenth one about the next height's model
/// (pending for a height). Returns the head.
fn synthetic_chain(chain: &LocalChain, n: u64, leaves: u64) -> u64 {
    let key = PrivateKey::generate();
    let mut prev: Option<modelda_manifest::CommittedModel> = None;
    let mut advised: std::collections::HashMap<u64, (modelda_manifest::ModelId, Vec<u8>)> =
        std::collections::HashMap::new();
    let plain = |i: u64| {
        records::model(
            1000 + i,
            &[FileSpec {
                path: "model.safetensors".into(),
                leaves,
                tensors: 4,
            }],
            LeafSize::MIN,
            vec![],
        )
    };
    for i in 0..n {
        let m = match (&prev, i % 5) {
            (Some(p), 4) => records::derive(
                p,
                i,
                &[(0, 0, 1)],
                vec![LineageClaim {
                    parent: p.id,
                    relation: Relation::Finetune,
                }],
            ),
            _ => plain(i),
        };
        let root = records::root_page(&key, &m, Geometry { data: 8, parity: 2 }, 1 << 20);
        let mut extra: Vec<Vec<u8>> = Vec::new();
        if i % 6 == 1 {
            let a = advisory_blob(&key, m.id, Status::Vulnerable, format!("height {i}"));
            advised.insert(i, (m.id, a.clone()));
            extra.push(a);
        }
        if i % 6 == 1 && i >= 7 {
            if let Some((id, _)) = advised.get(&(i - 6)) {
                extra.push(advisory_blob(
                    &key,
                    *id,
                    Status::PoisonedData,
                    format!("replaces height {}", i - 6),
                ));
            }
        }
        if i % 18 == 2 {
            if let Some((_, a)) = advised.get(&(i - 1)) {
                let a = advisory::decode(a).unwrap();
                extra.push(advisory::encode(
                    &key,
                    advisory::withdrawal(&a, 1_796_342_460),
                ));
            }
        }
        if i % 10 == 0 {
            extra.push(advisory_blob(
                &key,
                plain(i + 1).id,
                Status::Revoked,
                "before its record".into(),
            ));
        }
        let mut blobs: Vec<(Namespace, &[u8])> = vec![(Namespace::RECORDS, &root)];
        if i % 7 == 3 {
            blobs.push((Namespace::RECORDS, b"garbage in the record namespace"));
        }
        blobs.extend(extra.iter().map(|b| (Namespace::RECORDS, b.as_slice())));
        chain.append(&blobs).unwrap();
        prev = Some(m);
    }
    chain.head().unwrap()
}

fn digest(root: &Path, dir: &str) -> Value {
    json(&modelda_ok(
        root,
        &["--json", "index", "digest", "--index-dir", dir],
    ))
}

/// Starts `modelda --json index ARGS`; its JSON lines go to
/// `root/follower.log`.
fn spawn_index(root: &Path, args: &[&str]) -> Child {
    let log = std::fs::File::create(root.join("follower.log")).unwrap();
    Command::new(modelda_bin())
        .args(["--json", "index"])
        .args(args)
        .current_dir(root)
        .env_remove("RUST_LOG")
        .stdout(log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_at_random_moments_during_ingest_gives_the_uninterrupted_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let head = synthetic_chain(&chain, 400, 256);
    drop(chain);
    let to = head.to_string();

    // The uninterrupted run.
    let t = Instant::now();
    modelda_ok(root, &["index", "--index-dir", "ref", "--to-height", &to]);
    let full = t.elapsed();
    let want = digest(root, "ref");
    assert_eq!(want["checkpoint"], head);

    // Killed at random moments within that time, then resumed, until a run
    // finishes on its own.
    let mut rng = records::Rng::new(super::test_seed());
    let (mut kills, mut runs, mut partial) = (0, 0, 0);
    let window = full.as_millis().max(50) as u64;
    loop {
        runs += 1;
        assert!(runs < 200, "the indexer never finished");
        let mut child = spawn_index(root, &["--index-dir", "victim", "--to-height", &to]);
        let delay = Duration::from_millis(5 + rng.next_u64() % window);
        let deadline = Instant::now() + delay;
        let mut finished = None;
        while Instant::now() < deadline {
            if let Some(s) = child.try_wait().unwrap() {
                finished = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        match finished {
            Some(s) => {
                assert!(s.success(), "{:?}", child.wait_with_output());
                if kills >= 10 {
                    break;
                }
                // Finished too soon: start over to count more kills.
                std::fs::remove_dir_all(root.join("victim")).unwrap();
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                // Where did it stop? (A kill before the index was created
                // leaves nothing to read.)
                let r = modelda(
                    root,
                    &["--json", "index", "status", "--index-dir", "victim"],
                );
                if r.status.success() {
                    let v = json(&String::from_utf8(r.stdout).unwrap());
                    let c = v["counts"]["checkpoint"].as_u64().unwrap_or(0);
                    if c > 0 && c < head {
                        partial += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{kills} kills in {runs} runs, {partial} of them mid-ingest; an uninterrupted ingest took {full:?}"
    );
    assert!(kills >= 10);
    assert!(partial >= 3, "too few kills landed mid-ingest: {partial}");
    assert_eq!(
        digest(root, "victim"),
        want,
        "killed and resumed vs uninterrupted"
    );

    // Restarting on the same directory writes nothing new.
    modelda_ok(
        root,
        &["index", "--index-dir", "victim", "--to-height", &to],
    );
    assert_eq!(digest(root, "victim"), want);
    // A rebuild from the layer gives the same digest.
    modelda_ok(root, &["index", "rebuild", "--index-dir", "victim"]);
    assert_eq!(digest(root, "victim"), want);
    let status = json(&modelda_ok(
        root,
        &["--json", "index", "status", "--index-dir", "victim"],
    ));
    assert_eq!(status["counts"]["records"], 400, "{status}");
    assert_eq!(
        status["counts"]["rejections_by_code"]["envelope_malformed"], 57,
        "{status}"
    );
    // Advisories: 67 on every sixth height, 66 replacing them, 40 about
    // the next height's model; 23 withdrawals.
    assert_eq!(status["counts"]["advisories"], 67 + 66 + 40, "{status}");
    assert_eq!(status["counts"]["withdrawals"], 23, "{status}");
}

#[test]
fn index_follows_the_local_chain_while_a_publish_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_model(
        &root.join("model"),
        &SampleOptions {
            weights_bytes: 4 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    modelda_ok(root, &["keygen", "--out", "key.pem"]);
    // The follower starts first, before there is a chain: it waits for one.
    let follower = spawn_index(root, &[]);
    let out = json(&modelda_ok(
        root,
        &[
            "--json",
            "publish",
            "model",
            "--key",
            "key.pem",
            "--leaf-size",
            "64KiB",
        ],
    ));
    let id = out["model_id"].as_str().unwrap();
    let record = out["record"].as_str().unwrap();
    // The follower, in its own process, indexes it.
    let t = Instant::now();
    let mut follower = Some(follower);
    let shown = loop {
        let r = modelda(root, &["--json", "index", "show", id]);
        if r.status.success() {
            break json(&String::from_utf8(r.stdout).unwrap());
        }
        if t.elapsed() > Duration::from_secs(120) {
            let mut f = follower.take().unwrap();
            let _ = f.kill();
            let out = f.wait_with_output().unwrap();
            panic!(
                "not indexed after 120 s: show said {}; the follower said {} {}",
                String::from_utf8_lossy(&r.stdout),
                std::fs::read_to_string(root.join("follower.log")).unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let follower = follower.take().unwrap();
    assert_eq!(shown["model_id"], id);
    assert_eq!(shown["publications"][0]["record"], record);
    assert_eq!(shown["signers"].as_array().unwrap().len(), 1);
    let files = shown["manifest"]["files"].as_array().unwrap().len();
    assert!(files >= 5, "{shown}");
    // Text form.
    let text = modelda_ok(root, &["index", "show", id]);
    assert!(text.contains("published   1 time(s)"), "{text}");
    // SIGTERM stops it cleanly.
    let out = super::terminate(follower);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Reading an index that is not there says what to do.
    let r = modelda(root, &["index", "digest", "--index-dir", "nowhere"]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("run `modelda index` first"));
    // A model that is not indexed says so.
    let r = modelda(root, &["index", "show", &"ab".repeat(32)]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not in the index"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_follows_the_devnet_celestia_api_with_faults_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let devnet = Devnet::start(DevnetConfig {
        data_dir: root.join("devnet"),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        block_time: Duration::from_millis(200),
        faults: Faults {
            error_rate: 0.15,
            drop_rate: 0.05,
            latency: Duration::from_millis(2),
            ..Faults::default()
        },
        ..Default::default()
    })
    .await
    .expect("devnet starts");
    let head = synthetic_chain(devnet.chain(), 30, 64);
    let flags = [
        "--da".to_string(),
        "celestia".into(),
        "--celestia-url".into(),
        devnet.rpc_url(),
        "--celestia-token".into(),
        devnet.token(Permission::Read),
    ];
    let run = |dir: &str| {
        let mut args: Vec<String> = vec![
            "--json".into(),
            "index".into(),
            "--index-dir".into(),
            dir.into(),
        ];
        args.extend(flags.iter().cloned());
        args.extend(["--to-height".into(), head.to_string()]);
        let root = root.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                modelda_ok(&root, &args)
            })
            .await
            .unwrap()
        }
    };
    let a = run("a").await;
    let retries = a.lines().filter(|l| l.contains("\"retry\"")).count();
    eprintln!("{retries} retries under faults");
    let b = run("b").await;
    let da = digest(&root, "a");
    assert_eq!(da, digest(&root, "b"), "two replicas over a faulty API");
    assert_eq!(da["checkpoint"], head);
    let status = json(&modelda_ok(
        &root,
        &["--json", "index", "status", "--index-dir", "a"],
    ));
    assert_eq!(status["counts"]["records"], 30, "{status}");
    assert_eq!(status["source"]["layer"], "celestia");
    assert!(b.contains("\"stopped\""));

    // EigenDA has no namespace to follow: records are registered by cert,
    // with the same checks.
    let key = PrivateKey::generate();
    let m = records::model(
        77,
        &[FileSpec {
            path: "w.safetensors".into(),
            leaves: 8,
            tensors: 2,
        }],
        LeafSize::MIN,
        vec![],
    );
    std::fs::write(
        root.join("root.bin"),
        records::root_page(&key, &m, Geometry::default(), 1 << 20),
    )
    .unwrap();
    std::fs::write(root.join("junk.bin"), b"junk that is not an envelope").unwrap();
    let eigenda = [
        "--da".to_string(),
        "eigenda".into(),
        "--eigenda-url".into(),
        devnet.eigenda_url(),
    ];
    let cli = |args: Vec<String>| {
        let root = root.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                modelda(&root, &args)
            })
            .await
            .unwrap()
        }
    };
    let submit = |file: &str| {
        let mut a: Vec<String> = vec!["--json".into(), "blob".into(), "submit".into(), file.into()];
        a.extend(eigenda.iter().cloned());
        a
    };
    let register = |loc: &str| {
        let mut a: Vec<String> = vec![
            "--json".into(),
            "index".into(),
            "register".into(),
            loc.into(),
            "--index-dir".into(),
            "e".into(),
        ];
        a.extend(eigenda.iter().cloned());
        a
    };
    let posted = cli(submit("root.bin")).await;
    assert!(
        posted.status.success(),
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );
    let locator_of = |out: &[u8]| {
        let v = json(std::str::from_utf8(out).unwrap());
        let text = v[0]["locator"].as_str().unwrap_or_else(|| panic!("{v}"));
        // The text form, which parses back to itself.
        assert_eq!(
            text.parse::<modelda_da::Locator>().unwrap().to_string(),
            text
        );
        text.to_string()
    };
    let loc = locator_of(&posted.stdout);
    assert!(loc.starts_with("eigenda:"), "{loc}");
    for _ in 0..2 {
        let r = cli(register(&loc)).await;
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let v = json(&String::from_utf8(r.stdout).unwrap());
        assert_eq!(v["model_id"], m.id.to_hex(), "{v}");
    }
    let junk = cli(submit("junk.bin")).await;
    let junk_loc = locator_of(&junk.stdout);
    let r = cli(register(&junk_loc)).await;
    assert!(!r.status.success());
    let said = String::from_utf8_lossy(&r.stdout);
    assert!(said.contains("\"code\":\"envelope_malformed\""), "{said}");
    let status = json(&modelda_ok(
        &root,
        &["--json", "index", "status", "--index-dir", "e"],
    ));
    assert_eq!(status["counts"]["records"], 1, "{status}");
    assert_eq!(status["counts"]["rejections"], 1, "{status}");
    devnet.stop().await;
}
