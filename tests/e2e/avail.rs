//! The devnet's Avail APIs over real HTTP on loopback: the light client's
//! API v2 (submit, block status, header, data, status) and the node's
//! `kate_queryDataProof`, whose proof verifies against the data root of a
//! header fetched from the node, and fails for every lie.

use std::time::{Duration, Instant};

use base64::Engine as _;
use modelda_da::avail::proof::{self, DataProof, ProofError, H256};
use modelda_devnet::avail_api::MAX_APP_DATA;
use modelda_devnet::{Devnet, DevnetConfig};
use serde_json::{json, Value};

use super::get_json;

/// A devnet in `dir` serving Avail on loopback, 100 ms blocks.
fn config(dir: &std::path::Path) -> DevnetConfig {
    DevnetConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        avail_addr: Some("127.0.0.1:0".parse().unwrap()),
        block_time: Duration::from_millis(100),
        ..Default::default()
    }
}

async fn devnet(dir: &std::path::Path) -> (Devnet, String) {
    let d = Devnet::start(config(dir)).await.expect("devnet starts");
    let url = d.avail_url().expect("the Avail API is served");
    (d, url)
}

async fn rpc(c: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    c.post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn submit(c: &reqwest::Client, url: &str, data: &[u8]) -> reqwest::Response {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    c.post(format!("{url}/v2/submit"))
        .json(&json!({ "data": b64 }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_speaks_the_avail_light_client_api_and_kate_data_proofs() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, url) = devnet(tmp.path()).await;
    let c = reqwest::Client::new();

    let status = get_json(&format!("{url}/v2/status")).await;
    assert_eq!(status["app_id"], 1);
    assert_eq!(status["modes"], json!(["light", "app"]));

    // Two submissions; the second is proven.
    let a = submit(&c, &url, b"first blob").await;
    assert_eq!(a.status(), 200);
    let data = b"the blob that is proven".to_vec();
    let r = submit(&c, &url, &data).await;
    assert_eq!(r.status(), 200);
    let sub: Value = r.json().await.unwrap();
    let n = sub["block_number"].as_u64().unwrap();
    let index = sub["index"].as_u64().unwrap();
    assert!(index >= 1, "index 0 is the timestamp inherent: {sub}");
    assert!(sub["block_hash"].as_str().unwrap().starts_with("0x"));

    // 404 until final, then finished.
    let t = Instant::now();
    loop {
        let r = c.get(format!("{url}/v2/blocks/{n}")).send().await.unwrap();
        if r.status() == 200 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["status"], "finished", "{v}");
            break;
        }
        assert_eq!(r.status(), 404);
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "block {n} never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head: Value = c
        .get(format!("{url}/v2/blocks/{}", n + 1000))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(Value::String)
        .unwrap();
    assert_eq!(head, "Not Found");

    // The app's data, and the header's data root.
    let got = get_json(&format!("{url}/v2/blocks/{n}/data?fields=data")).await;
    let txs = got["data_transactions"].as_array().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    assert!(txs.iter().any(|t| t["data"] == b64), "{got}");
    let header = get_json(&format!("{url}/v2/blocks/{n}/header")).await;
    let lc_root: H256 = header["extension"]["data_root"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(header["hash"], sub["block_hash"]);

    // The node: hash, header, proof.
    let hash = rpc(&c, &url, "chain_getBlockHash", json!([n])).await["result"].clone();
    assert_eq!(hash, sub["block_hash"]);
    let node_header = rpc(&c, &url, "chain_getHeader", json!([hash])).await;
    let root: H256 = node_header["result"]["extension"]["V3"]["commitment"]["dataRoot"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(root, lc_root);
    assert_eq!(node_header["result"]["number"], format!("0x{n:x}"));
    let p = rpc(&c, &url, "kate_queryDataProof", json!([index, hash])).await;
    let dp: DataProof = serde_json::from_value(p["result"]["dataProof"].clone())
        .unwrap_or_else(|e| panic!("{e}: {p}"));
    assert_eq!(dp.leaf, proof::leaf_of(&data));
    assert_eq!(proof::verify(&dp, &data, &root), Ok(()));
    assert_eq!(
        proof::verify(&dp, b"other bytes", &root),
        Err(ProofError::WrongLeaf)
    );
    let mut forged = dp.clone();
    forged.roots.blob_root.0[0] ^= 1;
    assert!(proof::verify(&forged, &data, &root).is_err());
    let mut other = root;
    other.0[0] ^= 1;
    assert!(matches!(
        proof::verify(&dp, &data, &other),
        Err(ProofError::WrongHeader { .. })
    ));

    // What the real APIs refuse, refused the same way.
    let e = rpc(
        &c,
        &url,
        "kate_queryDataProof",
        json!([index, format!("0x{}", "11".repeat(32))]),
    )
    .await;
    assert_eq!(e["error"]["code"], 1, "{e}");
    let e = rpc(&c, &url, "kate_queryDataProof", json!([999, hash])).await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Cannot fetch tx data"),
        "{e}"
    );
    let e = rpc(&c, &url, "kate_blockLength", json!([hash])).await;
    assert_eq!(e["result"]["chunkSize"], 32, "{e}");
    let r = c
        .post(format!("{url}/v2/submit"))
        .json(&json!({"raw": "AA=="}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .starts_with("Request body deserialize error"));
    assert_eq!(submit(&c, &url, b"").await.status(), 500);
    assert_eq!(
        submit(&c, &url, &vec![7u8; MAX_APP_DATA + 1])
            .await
            .status(),
        500
    );
    // The extrinsic the light client serves is the node's, at the index
    // the submission returned: what a follower matches.
    let got = get_json(&format!("{url}/v2/blocks/{n}/data")).await;
    let ours = got["data_transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["data"] == b64)
        .expect("no fields: data and extrinsic, as the light client's code");
    let ext = base64::engine::general_purpose::STANDARD
        .decode(ours["extrinsic"].as_str().unwrap())
        .unwrap();
    assert!(ext.ends_with(&data));
    let block = rpc(&c, &url, "chain_getBlock", json!([sub["block_hash"]])).await;
    let exts = block["result"]["block"]["extrinsics"].as_array().unwrap();
    let index = sub["index"].as_u64().unwrap() as usize;
    assert_eq!(exts[index], format!("0x{}", hex::encode(&ext)));
    assert_eq!(
        block["result"]["block"]["header"]["extension"]["V3"]["commitment"]["dataRoot"],
        header["extension"]["data_root"]
    );
    let only = get_json(&format!("{url}/v2/blocks/{n}/data?fields=extrinsic")).await;
    assert!(only["data_transactions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("data").is_none() && t.get("extrinsic").is_some()));
    let r = c
        .get(format!("{url}/v2/blocks/{n}/data?fields=raw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avail_errors_are_typed_and_say_what_to_do() {
    use modelda_da::avail::{AvailLayer, AvailOptions};
    use modelda_da::{DaLayer, Error, Locator, Namespace, RetryPolicy};
    let tmp = tempfile::tempdir().unwrap();
    // A light client serving app id 42, which the chain never registered.
    let d = Devnet::start(DevnetConfig {
        avail_app_id: 42,
        ..config(tmp.path())
    })
    .await
    .unwrap();
    let url = d.avail_url().unwrap();
    let layer = |app_id: Option<u32>| {
        AvailLayer::new(AvailOptions {
            url: url.clone(),
            node_url: url.clone(),
            app_id,
            retry: RetryPolicy::NONE,
            poll: Duration::from_millis(20),
            finality_timeout: Duration::from_millis(300),
            ..Default::default()
        })
        .unwrap()
    };
    let e = layer(None)
        .submit(Namespace::DEFAULT, vec![vec![1; 10]])
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::AvailSubmitRefused { app_id: 42, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("createApplicationKey"), "{e}");
    let e = layer(Some(1))
        .submit(Namespace::DEFAULT, vec![vec![1; 10]])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::AvailAppMismatch {
                served: 42,
                wanted: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--avail-app-id 42"), "{e}");
    let e = layer(None)
        .submit(Namespace::DEFAULT, vec![vec![1; MAX_APP_DATA + 1]])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BlobTooLarge { .. }), "{e}");
    // A block far ahead is not finished within the wait.
    let far: Locator = format!("avail:1000000:42:1:{}", "ab".repeat(32))
        .parse()
        .unwrap();
    let e = layer(None).get(&far).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFinal {
                height: 1000000,
                ..
            }
        ),
        "{e}"
    );
    // A light client without an app id (here: nothing listens) is clear too.
    let none = AvailLayer::new(AvailOptions {
        url: "http://127.0.0.1:9".into(),
        node_url: "http://127.0.0.1:9".into(),
        retry: RetryPolicy::NONE,
        ..Default::default()
    })
    .unwrap();
    let e = none.head().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e}");
    d.stop().await;
}

/// A hostile light client answering a block's data with more than the
/// client reads: refused with an error, not held in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_from_a_hostile_light_client_is_refused() {
    use axum::routing::get;
    use modelda_da::avail::{AvailLayer, AvailOptions, MAX_ANSWER_BYTES};
    use modelda_da::{DaLayer, Error, Locator, RetryPolicy};
    let huge = std::sync::Arc::new(vec![b' '; MAX_ANSWER_BYTES + 1]);
    let app = axum::Router::new()
        .route(
            "/v2/status",
            get(|| async { axum::Json(json!({"app_id": 1, "blocks": {"latest": 5}})) }),
        )
        .route(
            "/v2/blocks/{n}",
            get(|| async { axum::Json(json!({"status": "finished", "confidence": 99.9})) }),
        )
        .route(
            "/v2/blocks/{n}/data",
            get(move || {
                let huge = huge.clone();
                async move { (*huge).clone() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let layer = AvailLayer::new(AvailOptions {
        url: url.clone(),
        node_url: url,
        retry: RetryPolicy::NONE,
        ..Default::default()
    })
    .unwrap();
    let loc: Locator = format!("avail:3:1:1:{}", "ab".repeat(32)).parse().unwrap();
    let e = layer.get(&loc).await.unwrap_err();
    assert!(matches!(e, Error::Remote { .. }), "{e}");
    assert!(e.to_string().contains("larger than"), "{e}");
}

/// `modelda index` follows the devnet's Avail light client with faults on:
/// a model published with `--da avail` is indexed with the record locator
/// its publish printed, junk that anyone may post to the app id is refused
/// with a code, and two replicas agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_follows_avail() {
    use super::modelda_ok;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let d = Devnet::start(DevnetConfig {
        faults: modelda_devnet::Faults {
            error_rate: 0.1,
            ..Default::default()
        },
        ..config(&root.join("devnet"))
    })
    .await
    .expect("devnet starts");
    let url = d.avail_url().unwrap();
    modelda_fixtures::sample::write_model(
        &root.join("model"),
        &modelda_fixtures::sample::SampleOptions {
            weights_bytes: 2 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    let flags: Vec<String> = [
        "--da",
        "avail",
        "--avail-url",
        &url,
        "--avail-node-url",
        &url,
    ]
    .map(String::from)
    .to_vec();
    let run = |args: Vec<String>| {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            modelda_ok(&root, &a)
        })
    };
    let mut args: Vec<String> = ["keygen", "--out", "key.pem"].map(String::from).to_vec();
    run(args).await.unwrap();
    args = ["--json", "publish", "model", "--key", "key.pem"]
        .map(String::from)
        .to_vec();
    args.extend(flags.iter().cloned());
    let published: Value = serde_json::from_str(run(args).await.unwrap().trim()).unwrap();
    let record = published["record"].as_str().unwrap().to_string();
    let model_id = published["model_id"].as_str().unwrap().to_string();
    // Junk, posted by anyone to the same app id.
    let c = reqwest::Client::new();
    let junk = loop {
        let r = submit(&c, &url, b"junk that is not an envelope").await;
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap();
        }
    };
    let height: u64 = record.split(':').nth(1).unwrap().parse().unwrap();
    let to = height.max(junk["block_number"].as_u64().unwrap()) + 1;
    let follow = |dir: &str| {
        let mut a: Vec<String> = ["--json", "index", "--index-dir", dir]
            .map(String::from)
            .to_vec();
        a.extend(flags.iter().cloned());
        a.extend(["--to-height".into(), to.to_string()]);
        run(a)
    };
    let out = follow("a").await.unwrap();
    assert!(out.contains(&record), "{out}");
    follow("b").await.unwrap();
    let digest = |dir: &str| {
        run(["--json", "index", "digest", "--index-dir", dir]
            .map(String::from)
            .to_vec())
    };
    let da = digest("a").await.unwrap();
    assert_eq!(da, digest("b").await.unwrap(), "two replicas over Avail");
    let status: Value = serde_json::from_str(
        run(["--json", "index", "status", "--index-dir", "a"]
            .map(String::from)
            .to_vec())
        .await
        .unwrap()
        .trim(),
    )
    .unwrap();
    assert_eq!(status["source"]["layer"], "avail", "{status}");
    assert_eq!(status["counts"]["records"], 1, "{status}");
    assert_eq!(status["counts"]["rejections"], 1, "{status}");
    let shown = run(["--json", "index", "show", &model_id, "--index-dir", "a"]
        .map(String::from)
        .to_vec())
    .await
    .unwrap();
    assert!(shown.contains(&record), "{shown}");
    d.stop().await;
}

/// The runtime's limits come from the node: a devnet with a 32 x 64 matrix
/// and 100 ms blocks bounds the blob, and `publish --dry-run` plans with
/// that matrix and block time; the same model then publishes and fetches.
/// With the node unreachable, the plan says it used Avail's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_estimates_come_from_the_node() {
    use modelda_da::avail::{AvailLayer, AvailOptions};
    use modelda_da::DaLayer;

    use super::modelda_ok;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let d = Devnet::start(DevnetConfig {
        avail_matrix: (32, 64),
        ..config(&root.join("devnet"))
    })
    .await
    .expect("devnet starts");
    let url = d.avail_url().unwrap();
    // Some blocks, so that a block time can be measured.
    let layer = AvailLayer::new(AvailOptions {
        url: url.clone(),
        node_url: url.clone(),
        poll: Duration::from_millis(50),
        ..Default::default()
    })
    .unwrap();
    while layer.head().await.unwrap() < 12 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = layer.runtime().await.unwrap();
    assert_eq!((r.rows, r.cols, r.chunk_bytes), (32, 64, 32));
    assert!(r.matrix_from_node && r.block_time_from_node, "{r:?}");
    assert_eq!(r.block_ms, 100);
    let max = layer.limits().await.unwrap().max_blob_bytes;
    assert_eq!(max, r.max_blob_bytes());
    assert!(max < 32 * 64 * 31 && max > 60_000, "{max}");
    // The largest blob is taken; one byte more is refused before it is sent,
    // and the light client refuses it too.
    let c = reqwest::Client::new();
    assert_eq!(submit(&c, &url, &vec![1u8; max]).await.status(), 200);
    assert_eq!(submit(&c, &url, &vec![1u8; max + 40]).await.status(), 500);
    let e = layer
        .submit(modelda_da::Namespace::DEFAULT, vec![vec![2u8; max + 1]])
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&max.to_string()), "{e}");

    modelda_fixtures::sample::write_model(
        &root.join("model"),
        &modelda_fixtures::sample::SampleOptions {
            weights_bytes: 1 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    let flags = [
        "--da",
        "avail",
        "--avail-url",
        &url,
        "--avail-node-url",
        &url,
    ];
    let run = |extra: &[&str]| {
        let mut a: Vec<String> = ["--json", "publish", "model"].map(String::from).to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let out = modelda_ok(&root, &a);
            serde_json::from_str::<Value>(out.trim()).unwrap()
        })
    };
    let mut dry = vec!["--dry-run"];
    dry.extend(flags);
    let plan = run(&dry).await.unwrap();
    assert_eq!(plan["avail_runtime"]["rows"], 32, "{plan}");
    assert_eq!(plan["avail_runtime"]["block_ms"], 100, "{plan}");
    assert_eq!(plan["max_blob_bytes"], max, "{plan}");
    let basis = plan["time_basis"].as_str().unwrap();
    assert!(
        basis.contains("32x64") && basis.contains("read from the node"),
        "{basis}"
    );
    assert!(plan["fee"]["nano_avail"].as_u64().unwrap() > 0, "{plan}");
    // Published with the leaf size that fits these blobs, and fetched.
    modelda_ok(&root, &["keygen", "--out", "key.pem"]);
    let mut publish = vec!["--key", "key.pem"];
    publish.extend(flags);
    let out = run(&publish).await.unwrap();
    let id = out["model_id"].as_str().unwrap().to_string();
    let rec = out["record"].as_str().unwrap().to_string();
    let mut fetch = vec!["--json", "fetch", &id, "--record", &rec, "--out", "out"];
    fetch.extend(flags);
    let r2 = root.clone();
    let fetch: Vec<String> = fetch.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = fetch.iter().map(String::as_str).collect();
        modelda_ok(&r2, &a);
        let v = modelda_ok(&r2, &["--json", "verify", "out"]);
        assert!(v.contains("\"ok\":true"), "{v}");
    })
    .await
    .unwrap();
    d.stop().await;
    // The node is gone: the plan says so and uses Avail's defaults.
    let plan = run(&dry).await.unwrap();
    assert_eq!(plan["avail_runtime"]["matrix_from_node"], false, "{plan}");
    assert!(plan["time_basis"]
        .as_str()
        .unwrap()
        .contains("could not be read"));
}
