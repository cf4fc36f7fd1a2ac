//! `modelda publish` and `modelda fetch` end to end: every layer, crashes and
//! resume, faults, lost and corrupt shards, parents, bad input.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use modelda_da::{
    ChainLimits, DaLayer, InclusionProof, LayerKind, Limits, LocalChain, LocalLayer, Locator,
    Namespace, Receipt,
};
use modelda_devnet::jwt::Permission;
use modelda_devnet::{Devnet, DevnetConfig, Faults};
use modelda_fixtures::sample::{write_model, SampleOptions};
use modelda_publisher::envelope::HEADER_LEN;
use modelda_publisher::fetch::{self, Selection};
use serde_json::Value;

use super::{b3sum, get_json, modelda, modelda_bin, modelda_ok, venv_python};

/// A mixed sample model (two safetensors shards, GGUF, JSON, tokenizer,
/// card, training manifest and data) of about `weights` bytes, and a key.
fn setup(weights: u64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write_model(
        &tmp.path().join("model"),
        &SampleOptions {
            weights_bytes: weights,
            ..Default::default()
        },
    )
    .unwrap();
    modelda_ok(tmp.path(), &["keygen", "--out", "key.pem"]);
    let root = tmp.path().to_path_buf();
    (tmp, root)
}

/// Runs `modelda ARGS` in `root`, requires failure, and requires stderr to
/// contain `needle`; returns stderr.
fn fails_with(root: &Path, args: &[&str], needle: &str) -> String {
    let r = modelda(root, args);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(
        !r.status.success() && err.contains(needle),
        "modelda {args:?} should fail with {needle:?}: {err}"
    );
    err
}

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Every regular file under `dir` (relative path -> bytes), signatures aside.
fn tree(dir: &Path) -> HashMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut HashMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if !rel.ends_with(".sig") {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    let mut out = HashMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    let mut ka: Vec<_> = ta.keys().collect();
    let mut kb: Vec<_> = tb.keys().collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb, "file lists differ");
    for (k, v) in &ta {
        assert!(tb[k] == *v, "{k} differs");
    }
}

/// Publishes `root/model` with `extra` flags; returns the JSON outcome.
fn publish(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "publish", "model", "--key", "key.pem"];
    args.extend_from_slice(extra);
    json(&modelda_ok(root, &args))
}

/// Fetches everything into `root/OUT` and checks it against `root/model`,
/// with `b3sum` and with `modelda verify`.
fn fetch_all_and_check(root: &Path, outcome: &Value, out: &str, da: &[&str]) -> Value {
    let id = outcome["model_id"].as_str().unwrap();
    let rec = outcome["record"].as_str().unwrap();
    let mut args = vec!["--json", "fetch", id, "--record", rec, "--out", out];
    args.extend_from_slice(da);
    let fetched = json(&modelda_ok(root, &args));
    assert_same_tree(&root.join("model"), &root.join(out));
    let v = modelda_ok(root, &["--json", "verify", out]);
    assert_eq!(json(&v)["ok"], true, "{v}");
    if let Some(b3) = b3sum() {
        let f = root.join(out).join("model-00001-of-00002.safetensors");
        let printed = Command::new(b3).arg(&f).output().unwrap();
        let printed = String::from_utf8(printed.stdout).unwrap();
        let want = blake3::hash(
            &std::fs::read(root.join("model/model-00001-of-00002.safetensors")).unwrap(),
        );
        assert!(printed.starts_with(&want.to_hex().to_string()), "{printed}");
    }
    fetched
}

/// Every blob of `ns` on a local chain: (height, BLAKE3 of the data).
fn chain_blobs(chain: &LocalChain, ns: Namespace) -> Vec<(u64, [u8; 32])> {
    let mut out = Vec::new();
    for h in 1..=chain.head().unwrap() {
        for b in chain.blobs(h, Some(ns)).unwrap() {
            out.push((h, *blake3::hash(&b.data).as_bytes()));
        }
    }
    out
}

pub(super) fn duplicates(blobs: &[(u64, [u8; 32])]) -> usize {
    let distinct: HashSet<_> = blobs.iter().map(|b| b.1).collect();
    blobs.len() - distinct.len()
}

async fn devnet(dir: &Path, faults: Faults, block_ms: u64) -> Devnet {
    Devnet::start(DevnetConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        avail_addr: Some("127.0.0.1:0".parse().unwrap()),
        block_time: Duration::from_millis(block_ms),
        faults,
        ..Default::default()
    })
    .await
    .expect("devnet starts")
}

/// DA flags for the devnet's Celestia API.
pub(super) fn celestia_flags(d: &Devnet) -> Vec<String> {
    vec![
        "--da".into(),
        "celestia".into(),
        "--celestia-url".into(),
        d.rpc_url(),
        "--celestia-token".into(),
        d.token(Permission::Admin),
    ]
}

fn eigenda_flags(d: &Devnet) -> Vec<String> {
    vec![
        "--da".into(),
        "eigenda".into(),
        "--eigenda-url".into(),
        d.eigenda_url(),
    ]
}

/// DA flags for the devnet's Avail light client and node.
fn avail_flags(d: &Devnet) -> Vec<String> {
    let url = d.avail_url().expect("the devnet serves Avail");
    vec![
        "--da".into(),
        "avail".into(),
        "--avail-url".into(),
        url.clone(),
        "--avail-node-url".into(),
        url,
        "--avail-app-id".into(),
        "1".into(),
    ]
}

/// Runs a blocking closure off the async test's worker.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[test]
fn publish_then_fetch_on_the_local_chain() {
    let (_tmp, root) = setup(6 << 20);
    let out = publish(&root, &["--leaf-size", "256KiB"]);
    assert!(out["blobs"].as_u64().unwrap() > 5);
    let overhead = out["overhead"].as_f64().unwrap();
    assert!((1.25..1.6).contains(&overhead), "{out}");
    assert_eq!(out["fee"], 0);
    let fetched = fetch_all_and_check(&root, &out, "out", &[]);
    // A fetch with every leaf intact reads no parity blob.
    let stats = &fetched["stats"];
    assert_eq!(stats["rebuilt_stripes"], 0);
    let model_bytes = out["model_bytes"].as_u64().unwrap();
    assert!(
        stats["bytes_read"].as_u64().unwrap() < model_bytes * 11 / 10,
        "{fetched}"
    );

    // Publishing again is a no-op that prints the same record.
    let again = publish(&root, &["--leaf-size", "256KiB"]);
    assert_eq!(again["record"], out["record"]);
    assert_eq!(again["posted_now"], 0);

    let id = out["model_id"].as_str().unwrap();
    let rec = out["record"].as_str().unwrap();
    // One tensor, as a safetensors file the reference package reads.
    let name = "model.shard1.layers.0.mlp.up_proj.weight";
    let t = json(&modelda_ok(
        &root,
        &[
            "--json",
            "fetch",
            id,
            "--record",
            rec,
            "--tensor",
            name,
            "--as-safetensors",
            "--out",
            "t",
        ],
    ));
    assert!(
        t["stats"]["bytes_read"].as_u64().unwrap() < model_bytes / 2,
        "{t}"
    );
    let st = root.join(format!("t/{name}.safetensors"));
    if let Some(py) = venv_python() {
        let check = Command::new(py)
            .arg("-c")
            .arg(format!(
                "from safetensors.numpy import load_file\nimport sys\nt = load_file(sys.argv[1])['{name}']\nprint(t.dtype, t.shape, t.nbytes)"
            ))
            .arg(&st)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let printed = String::from_utf8(check.stdout).unwrap();
        assert!(printed.starts_with("float16"), "{printed}");
    }
    // Raw bytes of a GGUF tensor and a single file.
    let gguf = root.join("model/sample-q8_0.gguf");
    let model_json = json(&modelda_ok(
        &root,
        &["--json", "commit", "model", "--manifest"],
    ));
    let files = model_json["manifest"]["files"].as_array().unwrap();
    let g = files
        .iter()
        .find(|f| f["path"] == "sample-q8_0.gguf")
        .unwrap();
    let tensor = &g["tensors"][1];
    modelda_ok(
        &root,
        &[
            "fetch",
            id,
            "--record",
            rec,
            "--tensor",
            tensor["name"].as_str().unwrap(),
            "--out",
            "g",
        ],
    );
    let bin = std::fs::read(root.join(format!(
        "g/{}.bin",
        tensor["name"].as_str().unwrap().replace(
            |c: char| !c.is_ascii_alphanumeric() && !"._-".contains(c),
            "_"
        )
    )))
    .unwrap();
    let all = std::fs::read(&gguf).unwrap();
    let (s, e) = (
        tensor["start"].as_u64().unwrap() as usize,
        tensor["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(bin, all[s..e]);
    modelda_ok(
        &root,
        &[
            "fetch",
            id,
            "--record",
            rec,
            "--file",
            "config.json",
            "--out",
            "c",
        ],
    );
    assert_eq!(
        std::fs::read(root.join("c/config.json")).unwrap(),
        std::fs::read(root.join("model/config.json")).unwrap()
    );
}

#[test]
fn dry_run_plans_without_posting() {
    let (_tmp, root) = setup(4 << 20);
    let v = json(&modelda_ok(
        &root,
        &[
            "--json",
            "publish",
            "model",
            "--dry-run",
            "--da",
            "celestia",
            "--gas-price",
            "0.004",
        ],
    ));
    for k in [
        "model_id",
        "blobs",
        "celestia_shares",
        "bytes",
        "fee",
        "estimated_seconds",
    ] {
        assert!(!v[k].is_null(), "{k} missing: {v}");
    }
    assert!(v["fee"]["utia"].as_u64().unwrap() > 0);
    assert!(v["blobs"].as_u64().unwrap() >= 4);
    let e = json(&modelda_ok(
        &root,
        &["--json", "publish", "model", "--dry-run", "--da", "eigenda"],
    ));
    assert!(e["fee"]["billed_bytes"].as_u64().unwrap() >= e["bytes"].as_u64().unwrap());
    assert!(!root.join(".modelda").exists(), "a dry run wrote state");
    assert!(
        !root.join("model/model.sig").exists(),
        "a dry run signed the model"
    );
}

#[test]
fn parity_off_and_a_paged_record() {
    let (_tmp, root) = setup(3 << 20);
    // Small blobs force a record of several pages.
    let out = publish(
        &root,
        &[
            "--parity",
            "0",
            "--leaf-size",
            "16KiB",
            "--max-blob-bytes",
            "40000",
        ],
    );
    let overhead = out["overhead"].as_f64().unwrap();
    assert!(overhead < 1.1, "{out}");
    let rec: Locator = out["record"].as_str().unwrap().parse().unwrap();
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let (h, ns, c) = rec.square_parts().unwrap();
    assert_eq!(ns, Namespace::RECORDS, "records go to the record namespace");
    let root_page = chain.get(h, ns, c).unwrap().unwrap();
    // Only record pages are in the record namespace.
    let pages = chain_blobs(&chain, Namespace::RECORDS);
    assert!(pages.len() >= 3, "{} pages", pages.len());
    for hh in 1..=chain.head().unwrap() {
        for b in chain.blobs(hh, Some(Namespace::RECORDS)).unwrap() {
            assert_eq!(b.data[5], 2, "a record page envelope (kind 2)");
        }
    }
    assert_eq!(
        root_page.data[HEADER_LEN], b'P',
        "the record should be paged"
    );
    drop(chain);
    fetch_all_and_check(&root, &out, "out", &[]);
}

#[test]
fn a_second_key_attests_a_published_model_paying_only_its_record() {
    let (_tmp, root) = setup(2 << 20);
    modelda_ok(&root, &["keygen", "--out", "b.pem"]);
    let a = publish(&root, &["--leaf-size", "64KiB"]);
    let b = json(&modelda_ok(
        &root,
        &[
            "--json",
            "publish",
            "model",
            "--key",
            "b.pem",
            "--resign",
            "--leaf-size",
            "64KiB",
        ],
    ));
    assert_eq!(a["model_id"], b["model_id"]);
    assert_ne!(a["record"], b["record"], "each key signs its own record");
    let shard_blobs = a["blobs"].as_u64().unwrap() - 1;
    assert_eq!(b["adopted_blobs"].as_u64().unwrap(), shard_blobs, "{b}");
    assert!(b["adopted_bytes"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(b["posted_now"], 1, "only the record is posted: {b}");
    // On the chain: A's blobs and one more record.
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let mut blobs = chain_blobs(&chain, Namespace::DEFAULT);
    let records = chain_blobs(&chain, Namespace::RECORDS);
    drop(chain);
    assert_eq!(records.len(), 2, "one record per key");
    blobs.extend(records);
    assert_eq!(blobs.len() as u64, a["blobs"].as_u64().unwrap() + 1);
    assert_eq!(duplicates(&blobs), 0);
    // B's record fetches the model, signed by B.
    let id = b["model_id"].as_str().unwrap();
    let rec = b["record"].as_str().unwrap();
    modelda_ok(
        &root,
        &[
            "fetch",
            id,
            "--record",
            rec,
            "--out",
            "by-b",
            "--key",
            "b.pem.pub",
        ],
    );
    assert_same_tree(&root.join("model"), &root.join("by-b"));
    // A's publish again: its own record, nothing posted.
    let again = publish(&root, &["--leaf-size", "64KiB", "--resign"]);
    assert_eq!(again["record"], a["record"]);
    assert_eq!(again["posted_now"], 0);
}

#[test]
fn kill_9_and_resume_posts_no_blob_twice() {
    let (_tmp, root) = setup(12 << 20);
    let publish_args = |ns: &'static str| {
        vec![
            "--json",
            "publish",
            "model",
            "--key",
            "key.pem",
            "--leaf-size",
            "64KiB",
            "--jobs",
            "2",
            "--max-blob-bytes",
            "200000",
            "--namespace",
            ns,
            // Records beside the data, so one namespace holds all of a run.
            "--record-namespace",
            ns,
        ]
    };
    let blobs_of = |ns: &str| {
        let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
        chain_blobs(&chain, ns.parse().unwrap())
    };
    // 1. Abort with blobs confirmed on the chain but not journaled; resume.
    const A: &str = "00000000000000000a0a";
    let out = Command::new(modelda_bin())
        .args(publish_args(A))
        .current_dir(&root)
        .env("MODELDA_FAULT_ABORT_BEFORE_JOURNAL", "3")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the fault did not fire");
    let before = blobs_of(A).len();
    assert!(before >= 3, "nothing reached the chain before the abort");
    let done = json(&modelda_ok(&root, &publish_args(A)));
    assert!(
        done["recovered"].as_u64().unwrap() >= 1,
        "the confirmed but unjournaled blobs were not found: {done}"
    );
    let blobs = blobs_of(A);
    assert_eq!(duplicates(&blobs), 0, "duplicate blobs on the chain");
    assert_eq!(
        blobs.len() as u64,
        done["blobs"].as_u64().unwrap(),
        "{done}"
    );

    // 2. kill -9 at a few points, then finish.
    const B: &str = "00000000000000000b0b";
    for delay in [60u64, 150, 40, 250] {
        let mut child = Command::new(modelda_bin())
            .args(publish_args(B))
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    let done = json(&modelda_ok(&root, &publish_args(B)));
    let blobs = blobs_of(B);
    assert_eq!(duplicates(&blobs), 0, "duplicate blobs on the chain");
    // Every blob in the namespace is one of this publication's.
    assert_eq!(
        blobs.len() as u64,
        done["blobs"].as_u64().unwrap(),
        "{done}"
    );
    // The same command again: the same record, nothing posted.
    let again = json(&modelda_ok(&root, &publish_args(B)));
    assert_eq!(again["record"], done["record"]);
    assert_eq!(again["posted_now"], 0);
    fetch_all_and_check(&root, &done, "out", &["--namespace", B]);
    // The record names both namespaces.
    assert!(done["record"].as_str().unwrap().contains(B));
}

/// Every blob of `ns` as the node itself lists them (`blob.GetAll` at every
/// height through the unmodified `celestia-rpc` client): (height, BLAKE3).
pub(super) async fn node_blobs(d: &Devnet, ns: Namespace) -> Vec<(u64, [u8; 32])> {
    node_blob_data(d, ns)
        .await
        .into_iter()
        .map(|(h, data)| (h, *blake3::hash(&data).as_bytes()))
        .collect()
}

/// Every blob of `ns` on the devnet, read with the unmodified
/// `celestia-rpc` client: (height, data).
pub(super) async fn node_blob_data(d: &Devnet, ns: Namespace) -> Vec<(u64, Vec<u8>)> {
    use celestia_rpc::{BlobClient, Client, HeaderClient};
    let client = Client::new(&d.rpc_url(), Some(&d.token(Permission::Read)), None, None)
        .await
        .unwrap();
    let head = client.header_network_head().await.unwrap().height();
    let cns = celestia_types::nmt::Namespace::new_v0(ns.id()).unwrap();
    let mut out = Vec::new();
    for h in 1..=head {
        for b in client
            .blob_get_all(h, &[cns])
            .await
            .unwrap()
            .unwrap_or_default()
        {
            out.push((h, b.data));
        }
    }
    out
}

/// A small xorshift generator for kill delays; the seed is printed so that
/// a failing run can be replayed with `MODELDA_TEST_SEED`.
struct Rng(u64);
impl Rng {
    fn seeded() -> Rng {
        Rng(super::test_seed())
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The devnet of the random-kill tests: 150 ms blocks, 5% of submissions
/// evicted unanswered and 5% of answers lost, and submissions lingering in
/// the mempool up to 3 blocks (so some in flight at a kill land after the
/// next run started); a mempool TTL and an Avail mortal era of 4 blocks.
pub(super) async fn crash_devnet(dir: &Path) -> Devnet {
    Devnet::start(DevnetConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        avail_addr: Some("127.0.0.1:0".parse().unwrap()),
        block_time: Duration::from_millis(150),
        mempool_ttl_blocks: 4,
        avail_mortality_blocks: 4,
        faults: Faults {
            evict_rate: 0.05,
            lose_answer_rate: 0.05,
            inclusion_delay_blocks: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .expect("devnet starts")
}

/// `modelda --json publish model` of many small blobs with little in
/// flight at a time, so the publish spans many blocks and a kill at a
/// random moment mostly finds submissions in flight; then `extra`.
fn crash_publish_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--json",
        "publish",
        "model",
        "--key",
        "key.pem",
        "--leaf-size",
        "64KiB",
        "--max-blob-bytes",
        "100000",
        "--max-in-flight-mib",
        "1",
        "--jobs",
        "2",
    ];
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

/// Runs `modelda ARGS` in `root` up to 20 times, each killed (SIGKILL)
/// after a random 100 ms to 2 s, until `kills` runs were killed or one
/// finished first; returns how many were killed.
pub(super) async fn kill_at_random_moments(root: &Path, args: &[String], kills: usize) -> usize {
    let mut rng = Rng::seeded();
    let mut killed = 0;
    for _ in 0..20 {
        if killed == kills {
            break;
        }
        let (a, r) = (args.to_vec(), root.to_path_buf());
        let delay = 100 + rng.below(1900);
        let finished = blocking(move || {
            let mut child = Command::new(modelda_bin())
                .args(&a)
                .current_dir(&r)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            let done = child.try_wait().unwrap().is_some_and(|s| s.success());
            let _ = child.kill();
            let _ = child.wait();
            done
        })
        .await;
        if finished {
            break;
        }
        killed += 1;
    }
    killed
}

/// `modelda ARGS` in `root`, off the async worker; requires success and
/// returns its JSON.
pub(super) async fn run_json(root: &Path, args: &[String]) -> Value {
    let (a, r) = (args.to_vec(), root.to_path_buf());
    blocking(move || {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        json(&modelda_ok(&r, &a))
    })
    .await
}

/// The scenario: kill -9 at random moments while submissions are in
/// flight over the devnet's Celestia API, with submissions evicted from the
/// mempool and answers lost on top, resume each time, and count the blobs
/// through the node's own API.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_over_celestia_posts_no_blob_twice() {
    let (_tmp, root) = setup(48 << 20);
    let dn = tempfile::tempdir().unwrap();
    let d = crash_devnet(dn.path()).await;
    const NS: &str = "00000000000000000c0c";
    let mut args = crash_publish_args(&["--namespace", NS, "--mempool-ttl-blocks", "4"]);
    args.extend(celestia_flags(&d));
    let killed = kill_at_random_moments(&root, &args, 12).await;
    assert!(
        killed >= 10,
        "only {killed} runs were killed before the publish finished"
    );
    let done = run_json(&root, &args).await;
    let mut blobs = node_blobs(&d, NS.parse().unwrap()).await;
    blobs.extend(node_blobs(&d, Namespace::RECORDS).await);
    assert_eq!(
        duplicates(&blobs),
        0,
        "duplicate blobs on the chain: {done}"
    );
    // Every blob the journal holds is on the chain, found by the node.
    let journal = std::fs::read_to_string(root.join(done["journal"].as_str().unwrap())).unwrap();
    let on_chain: HashSet<(u64, String)> = {
        use celestia_rpc::{BlobClient, Client, HeaderClient};
        let client = Client::new(&d.rpc_url(), Some(&d.token(Permission::Read)), None, None)
            .await
            .unwrap();
        let head = client.header_network_head().await.unwrap().height();
        let mut out = HashSet::new();
        for ns in [NS.parse::<Namespace>().unwrap(), Namespace::RECORDS] {
            let cns = celestia_types::nmt::Namespace::new_v0(ns.id()).unwrap();
            for h in 1..=head {
                for b in client
                    .blob_get_all(h, &[cns])
                    .await
                    .unwrap()
                    .unwrap_or_default()
                {
                    out.insert((h, hex::encode(b.commitment.hash())));
                }
            }
        }
        out
    };
    let mut missing = Vec::new();
    for line in journal.lines() {
        let v: Value = serde_json::from_str(&line[17..]).unwrap();
        if v["e"] == "done" {
            let loc = &v["receipt"]["locator"];
            let key = (
                loc["height"].as_u64().unwrap(),
                loc["commitment"].as_str().unwrap().to_string(),
            );
            if !on_chain.contains(&key) {
                missing.push(v.clone());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "journaled but not on the chain: {missing:?}"
    );
    assert_eq!(
        blobs.len() as u64,
        done["blobs"].as_u64().unwrap(),
        "{done}"
    );
    // Every later run prints the same record and posts nothing.
    for _ in 0..2 {
        let root2 = root.clone();
        let a = args.clone();
        let again = blocking(move || {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            json(&modelda_ok(&root2, &a))
        })
        .await;
        assert_eq!(again["record"], done["record"]);
        assert_eq!(again["posted_now"], 0);
    }
    let mut f: Vec<String> = vec!["--namespace".into(), NS.into()];
    f.extend(celestia_flags(&d));
    let root2 = root.clone();
    blocking(move || {
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        fetch_all_and_check(&root2, &done, "out", &f);
    })
    .await;
    d.stop().await;
}

/// Every submission of app `app_id` as the devnet's light client API
/// itself serves them (`/v2/blocks/{n}/data`, read here over plain HTTP,
/// not through modelda's client): (height, keccak leaf, BLAKE3).
async fn avail_submissions(d: &Devnet, app_id: u32) -> Vec<(u64, String, [u8; 32])> {
    use base64::Engine as _;
    let url = d.avail_url().unwrap();
    let status = get_json(&format!("{url}/v2/status")).await;
    assert_eq!(status["app_id"], app_id);
    let mut out = Vec::new();
    for h in 1..=status["blocks"]["latest"].as_u64().unwrap() {
        let v = get_json(&format!("{url}/v2/blocks/{h}/data?fields=data")).await;
        for t in v["data_transactions"].as_array().unwrap() {
            let data = base64::engine::general_purpose::STANDARD
                .decode(t["data"].as_str().unwrap())
                .unwrap();
            let leaf = modelda_da::avail::proof::leaf_of(&data).to_string();
            out.push((h, leaf, *blake3::hash(&data).as_bytes()));
        }
    }
    out
}

/// The Avail scenario: kill -9 at random moments while
/// submissions are in flight to the devnet's light client, with
/// submissions dropped unanswered and answers lost on top, resume each
/// time, and count the submissions through the light client's own API.
/// A submission without an answer is settled once its mortal era is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_over_avail_posts_no_blob_twice() {
    let (_tmp, root) = setup(24 << 20);
    let dn = tempfile::tempdir().unwrap();
    let d = crash_devnet(dn.path()).await;
    let mut args = crash_publish_args(&["--avail-mortality-blocks", "4"]);
    args.extend(avail_flags(&d));
    let killed = kill_at_random_moments(&root, &args, 10).await;
    assert!(
        killed >= 8,
        "only {killed} runs were killed before the publish finished"
    );
    let done = run_json(&root, &args).await;
    // Submissions still in flight at the last kill are included or dropped
    // within their era: wait it out (and finality) before counting.
    let status = format!("{}/v2/status", d.avail_url().unwrap());
    let latest = || async {
        get_json(&status).await["blocks"]["latest"]
            .as_u64()
            .unwrap()
    };
    let until = latest().await + 4 + 3 + 3;
    while latest().await < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{killed} kills, then: {done}");
    let subs = avail_submissions(&d, 1).await;
    let hashes: Vec<(u64, [u8; 32])> = subs.iter().map(|(h, _, b)| (*h, *b)).collect();
    assert_eq!(
        duplicates(&hashes),
        0,
        "duplicate Avail submissions: {done}"
    );
    assert_eq!(subs.len() as u64, done["blobs"].as_u64().unwrap(), "{done}");
    // Every blob the journal holds is where its locator says.
    let on_chain: HashSet<(u64, String)> = subs.iter().map(|(h, l, _)| (*h, l.clone())).collect();
    let journal = std::fs::read_to_string(root.join(done["journal"].as_str().unwrap())).unwrap();
    let mut journaled = 0;
    for line in journal.lines() {
        let v: Value = serde_json::from_str(&line[17..]).unwrap();
        if v["e"] == "done" {
            let loc: Locator = serde_json::from_value(v["receipt"]["locator"].clone()).unwrap();
            let Locator::Avail { height, leaf, .. } = loc else {
                panic!("not an Avail locator: {loc}");
            };
            assert!(
                on_chain.contains(&(height, leaf.to_string())),
                "journaled but not on the chain: {loc}"
            );
            journaled += 1;
        }
    }
    assert!(journaled > 0);
    // A later run prints the same record and posts nothing; the model
    // fetches whole.
    let again = run_json(&root, &args).await;
    assert_eq!(again["record"], done["record"]);
    assert_eq!(again["posted_now"], 0);
    let f = avail_flags(&d);
    let root2 = root.clone();
    blocking(move || {
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        fetch_all_and_check(&root2, &done, "out", &f);
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_and_fetch_over_the_devnet_with_20_percent_errors() {
    let (_tmp, root) = setup(5 << 20);
    let dn = tempfile::tempdir().unwrap();
    let d = devnet(
        dn.path(),
        Faults {
            error_rate: 0.2,
            ..Default::default()
        },
        100,
    )
    .await;
    for (name, flags) in [
        ("celestia", celestia_flags(&d)),
        ("eigenda", eigenda_flags(&d)),
        ("avail", avail_flags(&d)),
    ] {
        let root = root.clone();
        let (out, fetched) = blocking(move || {
            let mut args: Vec<String> = [
                "--json",
                "publish",
                "model",
                "--key",
                "key.pem",
                "--leaf-size",
                "256KiB",
            ]
            .map(String::from)
            .to_vec();
            args.push("--journal-dir".into());
            args.push(format!(".journal-{name}"));
            args.extend(flags.iter().cloned());
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = json(&modelda_ok(&root, &a));
            let f: Vec<&str> = flags.iter().map(String::as_str).collect();
            let fetched = fetch_all_and_check(&root, &out, &format!("out-{name}"), &f);
            (out, fetched)
        })
        .await;
        assert_eq!(
            out["record"].as_str().unwrap().split(':').next().unwrap(),
            name
        );
        if name == "celestia" {
            assert!(out["fee"].as_u64().unwrap() > 0, "{out}");
        }
        assert_eq!(fetched["stats"]["rebuilt_stripes"], 0);
    }
    // No duplicate blobs despite retried submissions.
    let mut blobs = chain_blobs(d.chain(), Namespace::DEFAULT);
    blobs.extend(chain_blobs(d.chain(), Namespace::RECORDS));
    assert_eq!(duplicates(&blobs), 0);
    let avail = chain_blobs(d.chain(), modelda_devnet::avail_api::app_namespace(1));
    assert!(!avail.is_empty());
    assert_eq!(duplicates(&avail), 0, "Avail submissions posted twice");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_stops_cleanly_and_the_publish_resumes() {
    let (_tmp, root) = setup(4 << 20);
    let dn = tempfile::tempdir().unwrap();
    let d = devnet(dn.path(), Faults::default(), 300).await;
    let mut args: Vec<String> = [
        "--json",
        "publish",
        "model",
        "--key",
        "key.pem",
        "--leaf-size",
        "64KiB",
        "--jobs",
        "1",
        "--max-blob-bytes",
        "300000",
    ]
    .map(String::from)
    .to_vec();
    args.extend(celestia_flags(&d));
    let r = root.clone();
    let a = args.clone();
    let first: Output = blocking(move || {
        let child = Command::new(modelda_bin())
            .args(&a)
            .current_dir(&r)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the first confirmed blob, then Ctrl-C.
        let journal = r.join(".modelda/journal");
        for _ in 0..300 {
            let confirmed = std::fs::read_dir(&journal).ok().is_some_and(|mut d| {
                d.any(|e| {
                    std::fs::read_to_string(e.unwrap().path()).is_ok_and(|t| t.contains("\"done\""))
                })
            });
            if confirmed {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let pid = child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        child.wait_with_output().unwrap()
    })
    .await;
    assert!(!first.status.success(), "the publish ignored Ctrl-C");
    let msg = String::from_utf8_lossy(&first.stdout);
    assert!(msg.contains("run the same command again"), "{msg}");
    let r = root.clone();
    let out = blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        json(&modelda_ok(&r, &a))
    })
    .await;
    assert!(out["resumed"].as_u64().unwrap() >= 1, "{out}");
    assert_eq!(duplicates(&chain_blobs(d.chain(), Namespace::DEFAULT)), 0);
    d.stop().await;
}

/// A layer that loses some blobs and alters some shards of others.
struct Faulty {
    inner: LocalLayer,
    /// Blobs that are gone.
    missing: HashSet<String>,
    /// (blob, offset of an envelope) whose payload is altered.
    corrupt: HashSet<(String, u32)>,
}

#[async_trait]
impl DaLayer for Faulty {
    fn kind(&self) -> LayerKind {
        self.inner.kind()
    }
    async fn limits(&self) -> modelda_da::Result<Limits> {
        self.inner.limits().await
    }
    async fn head(&self) -> modelda_da::Result<u64> {
        self.inner.head().await
    }
    fn settlement(&self) -> modelda_da::Settlement {
        self.inner.settlement()
    }
    fn as_follow(&self) -> Option<&dyn modelda_da::Follow> {
        Some(self)
    }
    async fn submit(&self, ns: Namespace, blobs: Vec<Vec<u8>>) -> modelda_da::Result<Vec<Receipt>> {
        self.inner.submit(ns, blobs).await
    }
    async fn get(&self, locator: &Locator) -> modelda_da::Result<Vec<u8>> {
        let key = locator.to_string();
        if self.missing.contains(&key) {
            return Err(modelda_da::Error::NotFound { locator: key });
        }
        let mut data = self.inner.get(locator).await?;
        for (b, off) in &self.corrupt {
            if *b == key {
                data[*off as usize + HEADER_LEN] ^= 0x55;
            }
        }
        Ok(data)
    }
    async fn prove(&self, l: &Locator) -> modelda_da::Result<InclusionProof> {
        self.inner.prove(l).await
    }
    async fn verify(&self, l: &Locator, d: &[u8], p: &InclusionProof) -> modelda_da::Result<()> {
        self.inner.verify(l, d, p).await
    }
}

#[async_trait]
impl modelda_da::Follow for Faulty {
    async fn wait_for_height(&self, h: u64) -> modelda_da::Result<()> {
        modelda_da::Follow::wait_for_height(&self.inner, h).await
    }
    async fn list(&self, ns: Namespace, h: u64) -> modelda_da::Result<Vec<(Locator, Vec<u8>)>> {
        modelda_da::Follow::list(&self.inner, ns, h).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_rebuilds_20_percent_missing_or_corrupt_shards() {
    let (_tmp, root) = setup(6 << 20);
    let r = root.clone();
    let out = blocking(move || {
        publish(
            &r,
            &[
                "--leaf-size",
                "128KiB",
                "--data-shards",
                "8",
                "--parity",
                "3",
                "--max-blob-bytes",
                "140000",
            ],
        )
    })
    .await;
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let layer = LocalLayer::new(chain.clone());
    let rec_loc: Locator = out["record"].as_str().unwrap().parse().unwrap();
    let rec = modelda_da::read::open_record(&layer, &rec_loc, None, None)
        .await
        .unwrap();
    // Break shard j of stripe s when (j + s) % 5 == 0: a fifth of the shards,
    // at most ceil(11 / 5) = 3 = m per stripe. Alternate missing and corrupt,
    // taking a whole blob away only when it holds nothing else.
    let mut per_blob: HashMap<u32, usize> = HashMap::new();
    for f in &rec.files {
        for r in &f.refs {
            *per_blob.entry(r.blob).or_default() += 1;
        }
    }
    let (mut missing, mut corrupt) = (HashSet::new(), HashSet::new());
    let (mut broken, mut total) = (0usize, 0usize);
    for f in &rec.files {
        for s in 0..f.stripes.count() {
            let start = f.stripe_starts[s as usize];
            for j in 0..f.stripes.shards_of(s) {
                total += 1;
                if !(j as u64 + s).is_multiple_of(5) {
                    continue;
                }
                broken += 1;
                let r = f.refs[start + j];
                let loc = rec.blobs[r.blob as usize].to_string();
                if per_blob[&r.blob] == 1 && broken % 2 == 0 {
                    missing.insert(loc);
                } else {
                    corrupt.insert((loc, r.offset));
                }
            }
        }
    }
    assert!(broken * 5 >= total, "{broken} of {total}");
    assert!(!missing.is_empty() && !corrupt.is_empty());
    let faulty: Arc<dyn DaLayer> = Arc::new(Faulty {
        inner: layer.clone(),
        missing,
        corrupt,
    });
    let dest = root.join("rebuilt");
    let got = fetch::fetch(
        faulty.clone(),
        Arc::new(rec.clone()),
        &Selection::All,
        &dest,
        &fetch::Quiet,
    )
    .await
    .unwrap();
    assert!(
        got.stats.rebuilt_stripes > 0 && got.stats.bad_shards > 0,
        "{:?}",
        got.stats
    );
    assert_same_tree(&root.join("model"), &dest);

    // One more lost shard than parity covers: a clear error, no file left.
    let f = rec.files.iter().find(|f| f.stripes.count() > 1).unwrap();
    let mut corrupt = HashSet::new();
    for j in 0..4 {
        let r = f.refs[j];
        corrupt.insert((rec.blobs[r.blob as usize].to_string(), r.offset));
    }
    let worse: Arc<dyn DaLayer> = Arc::new(Faulty {
        inner: layer,
        missing: HashSet::new(),
        corrupt,
    });
    let dest = root.join("worse");
    let err = fetch::fetch(
        worse,
        Arc::new(rec.clone()),
        &Selection::File(f.entry.path.clone()),
        &dest,
        &fetch::Quiet,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("are intact") && err.contains(&f.entry.path),
        "{err}"
    );
    assert!(
        !dest.join(&f.entry.path).exists(),
        "a partial file was left under its name"
    );
}

/// `/chunks` rebuilds a leaf the layer gives corrupt from its stripe's
/// parity (as `fetch` does), and counts the layer's lie in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_rebuild_a_corrupt_leaf_from_parity() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use modelda_indexer::{follow, FollowOptions, Index, Source};
    use tower::ServiceExt as _;
    let (_tmp, root) = setup(2 << 20);
    let r = root.clone();
    let out = blocking(move || {
        publish(
            &r,
            &[
                "--leaf-size",
                "64KiB",
                "--data-shards",
                "4",
                "--parity",
                "2",
            ],
        )
    })
    .await;
    let chain = LocalChain::open_reader(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let layer = LocalLayer::new(chain);
    let rec_loc: Locator = out["record"].as_str().unwrap().parse().unwrap();
    let rec = modelda_da::read::open_record(&layer, &rec_loc, None, None)
        .await
        .unwrap();
    let (fi, f) = rec
        .files
        .iter()
        .enumerate()
        .find(|(_, f)| f.stripes.count() > 1)
        .unwrap();
    let shard = f.refs[f.stripe_starts[0]];
    let faulty: Arc<dyn DaLayer> = Arc::new(Faulty {
        inner: layer.clone(),
        missing: HashSet::new(),
        corrupt: [(rec.blobs[shard.blob as usize].to_string(), shard.offset)].into(),
    });
    let index = Index::open(
        &root.join("index"),
        Some(&Source {
            layer: "local".into(),
            namespace: Some(Namespace::RECORDS.to_string()),
        }),
    )
    .unwrap();
    let head = faulty.head().await.unwrap();
    follow(
        &index,
        faulty.as_ref(),
        &FollowOptions {
            to_height: Some(head),
            ..FollowOptions::default()
        },
        &tokio_util::sync::CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    let api = modelda_api::Api::new(
        Arc::new(index),
        Some(faulty),
        modelda_api::Limits::default(),
    );
    let router = modelda_api::router(api);
    let get = |path: String| {
        let router = router.clone();
        async move {
            let r = router
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = r.status();
            (
                status,
                r.into_body().collect().await.unwrap().to_bytes().to_vec(),
            )
        }
    };
    let c = hex::encode(f.leaf_digest(0));
    let (status, body) = get(format!("/chunks/{c}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let on_disk = std::fs::read(root.join("model").join(&f.entry.path)).unwrap();
    assert!(
        body == on_disk[..body.len()] && body.len() == 64 << 10,
        "file {fi}: rebuilt bytes differ"
    );
    let (_, metrics) = get("/metrics".into()).await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("modelda_chunk_source_reads_total{source=\"layer\",outcome=\"lie\"} 1"),
        "{metrics}"
    );
}

#[test]
fn a_finetune_reuses_its_parents_leaves() {
    let (_tmp, root) = setup(8 << 20);
    let parent = publish(&root, &["--leaf-size", "128KiB"]);
    // The finetune changes a few bytes in one shard.
    let child = root.join("child");
    super::copy_dir(&root.join("model"), &child);
    let f = child.join("model-00002-of-00002.safetensors");
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let parent_id = parent["model_id"].as_str().unwrap();
    let rec = parent["record"].as_str().unwrap();
    let out = json(&modelda_ok(
        &root,
        &[
            "--json",
            "publish",
            "child",
            "--key",
            "key.pem",
            "--leaf-size",
            "128KiB",
            "--parent",
            &format!("{parent_id}:finetune"),
            "--reuse",
            rec,
        ],
    ));
    let reused = out["reused_bytes"].as_u64().unwrap();
    let model_bytes = out["model_bytes"].as_u64().unwrap();
    assert!(reused > model_bytes * 9 / 10, "{out}");
    assert!(
        out["bytes_posted"].as_u64().unwrap() < parent["bytes_posted"].as_u64().unwrap() / 3,
        "{out}"
    );
    let id = out["model_id"].as_str().unwrap();
    let crec = out["record"].as_str().unwrap();
    modelda_ok(
        &root,
        &["fetch", id, "--record", crec, "--out", "child-out"],
    );
    assert_same_tree(&child, &root.join("child-out"));
}

#[test]
fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let (_tmp, root) = setup(2 << 20);
    let out = publish(&root, &["--leaf-size", "64KiB"]);
    let id = out["model_id"].as_str().unwrap().to_string();
    let rec = out["record"].as_str().unwrap().to_string();

    // A file that changed after signing, with its old size and time.
    let f = root.join("model/model-00001-of-00002.safetensors");
    let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&f, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime - Duration::from_secs(3600))
        .unwrap();
    let err = fails_with(
        &root,
        &[
            "publish",
            "model",
            "--key",
            "key.pem",
            "--leaf-size",
            "64KiB",
            "--data-shards",
            "4",
        ],
        "changed since the model was committed",
    );
    assert!(err.contains("model-00001-of-00002.safetensors"), "{err}");
    // --resign commits the new bytes.
    modelda_ok(
        &root,
        &[
            "publish",
            "model",
            "--key",
            "key.pem",
            "--leaf-size",
            "64KiB",
            "--resign",
        ],
    );

    // Another key: refused before anything is signed or posted.
    modelda_ok(&root, &["keygen", "--out", "other.pem"]);
    let sig_before = std::fs::read(root.join("model/model.sig")).unwrap();
    fails_with(
        &root,
        &[
            "publish",
            "model",
            "--key",
            "other.pem",
            "--leaf-size",
            "64KiB",
        ],
        "signed by key",
    );
    assert_eq!(
        std::fs::read(root.join("model/model.sig")).unwrap(),
        sig_before
    );

    // A stopped publish resumed with another key.
    let args = [
        "--json",
        "publish",
        "model",
        "--key",
        "key.pem",
        "--leaf-size",
        "64KiB",
        "--data-shards",
        "5",
    ];
    let crashed = Command::new(modelda_bin())
        .args(args)
        .current_dir(&root)
        .env("MODELDA_FAULT_ABORT_BEFORE_JOURNAL", "1")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    // Another key takes over: it adopts what the first key confirmed,
    // settles what it had in flight, and posts nothing twice.
    let taken = json(&modelda_ok(
        &root,
        &[
            "--json",
            "publish",
            "model",
            "--key",
            "other.pem",
            "--leaf-size",
            "64KiB",
            "--data-shards",
            "5",
            "--resign",
        ],
    ));
    assert!(
        taken["adopted_blobs"].as_u64().unwrap() + taken["recovered"].as_u64().unwrap() >= 1,
        "{taken}"
    );
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    assert_eq!(duplicates(&chain_blobs(&chain, Namespace::DEFAULT)), 0);
    drop(chain);

    // Records: a data blob is not a record; a pinned key must match.
    let chain = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let first = chain.blobs(1, None).unwrap().remove(0);
    drop(chain);
    let data_loc = format!("local:1:{}:{}", Namespace::DEFAULT, first.commitment);
    fails_with(
        &root,
        &["fetch", &id, "--record", &data_loc],
        "not the root page",
    );
    fails_with(
        &root,
        &[
            "fetch",
            &id,
            "--record",
            &rec,
            "--key",
            "other.pem.pub",
            "--out",
            "x",
        ],
        "not by the given key",
    );
    assert!(!root.join("x").exists());
    let other_id = "00".repeat(32);
    fails_with(
        &root,
        &["fetch", &other_id, "--record", &rec, "--out", "y"],
        &format!("the record is for model {id}, not {other_id}"),
    );
    assert!(!root.join("y").exists());
}
