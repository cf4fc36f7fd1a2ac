//! Archive benchmark (issue 20):
//!
//! 1. **Throughput.** Archiving a model (every leaf read from the layer,
//!    checked, written once by content; each data blob's kit with its
//!    share proof) against `modelda fetch` of the same model from the same
//!    layer (every leaf read, checked, written to files), as a ratio of
//!    bytes per second, medians of `--runs` interleaved runs.
//! 2. **Storage.** Three generations on one chain: a base, an attestation
//!    of it (the same bytes signed by another key) and a finetune that
//!    changes one tensor. Bytes the archive holds (leaves, kits, record
//!    blobs, data roots) against the unique model bytes (the distinct
//!    leaves), and against the bytes of the three publications.
//! 3. **`/chunks` from the archive.** p50/p99 of `GET /chunks/{c}` served
//!    from the archive (leaf cache off) by `--clients` clients, against
//!    the same reads from the layer (no archive) and `GET /health`, in the
//!    same run.
//!
//!   cargo build --release -p modelda-cli
//!   cargo bench -p modelda-benches --bench archive -- [--mib 64] [--runs 3] [--seconds 5] [--clients 4]
//!
//! The models are published with the `modelda` binary to the embedded
//! chain under target/release/bench-data/archive-<mib>mib.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modelda_api::{Api, Archiver, Limits};
use modelda_archive::{Archive, ArchiveSpec};
use modelda_benches::{bench_dir, copy_dir, median, modelda};
use modelda_da::{ChainLimits, DaLayer, LocalChain, LocalLayer};
use modelda_fixtures::sample::{write_model, SampleOptions};
use modelda_indexer::{follow, FollowOptions, Index};
use serde_json::{json, Value};

struct Args {
    mib: u64,
    runs: usize,
    seconds: u64,
    clients: usize,
}

fn args() -> Args {
    let mut a = Args {
        mib: 64,
        runs: 3,
        seconds: 5,
        clients: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok());
        match s.as_str() {
            "--mib" => a.mib = num().expect("--mib N"),
            "--runs" => a.runs = num().expect("--runs N") as usize,
            "--seconds" => a.seconds = num().expect("--seconds N"),
            "--clients" => a.clients = num().expect("--clients N") as usize,
            _ => {}
        }
    }
    a
}

fn publish(root: &Path, dir: &str, key: &str, extra: &[&str]) -> Value {
    let mut a = vec!["--json", "publish", dir, "--key", key];
    a.extend_from_slice(extra);
    modelda(root, &a)
}

/// Bytes of every file under `dir`.
fn du(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.map(|e| {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            du(&e.path())
        } else {
            e.metadata().unwrap().len()
        }
    })
    .sum()
}

/// An index of the chain at `root` up to its head.
async fn index_of(
    root: &Path,
    layer: &Arc<dyn DaLayer>,
    name: &str,
    to: Option<u64>,
) -> Arc<Index> {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let index = Index::open(&dir, None).unwrap();
    let head = match to {
        Some(h) => h,
        None => layer.head().await.unwrap(),
    };
    follow(
        &index,
        layer.as_ref(),
        &FollowOptions {
            to_height: Some(head),
            ..FollowOptions::default()
        },
        &tokio_util::sync::CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    Arc::new(index)
}

/// Archives everything `index` holds into a new directory `dir`; the
/// time it took.
async fn archive_all(index: &Arc<Index>, layer: &Arc<dyn DaLayer>, dir: &Path) -> Duration {
    let _ = std::fs::remove_dir_all(dir);
    let spec = ArchiveSpec::parse(dir.join("store").to_str().unwrap(), None).unwrap();
    let archive = Archive::open(spec).unwrap();
    let api = Api::new(index.clone(), Some(layer.clone()), Limits::default()).with_archive(archive);
    std::fs::create_dir_all(dir).unwrap();
    let archiver = Archiver::new(&api, dir).unwrap().unwrap();
    let t = Instant::now();
    archiver.round().await.unwrap();
    let took = t.elapsed();
    let p = archiver.progress();
    assert_eq!((p.leaves_lost, p.proofs_lost), (0, 0), "{p:?}");
    took
}

fn pct(v: &[Duration], p: usize) -> Duration {
    v[(v.len() * p / 100).min(v.len() - 1)]
}

/// Latencies of `clients` clients asking `urls` round-robin for `secs`.
async fn load(
    client: &reqwest::Client,
    urls: &[String],
    clients: usize,
    secs: u64,
) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let urls = Arc::new(urls.to_vec());
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, urls) = (client.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client.get(&urls[i % urls.len()]).send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.unwrap();
                lat.push(t.elapsed());
                i += clients;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

async fn serve(api: Api) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, modelda_api::router(api))
            .await
            .unwrap();
    });
    addr
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let a = args();
    let root: PathBuf = bench_dir().join(format!("archive-{}mib", a.mib));
    let ids = root.join("ids.json");
    if !ids.exists() {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        write_model(
            &root.join("base"),
            &SampleOptions {
                weights_bytes: a.mib << 20,
                gguf: false,
                seed: 1,
                ..Default::default()
            },
        )
        .unwrap();
        modelda(&root, &["keygen", "--out", "a.pem"]);
        modelda(&root, &["keygen", "--out", "b.pem"]);
        let out = publish(&root, "base", "a.pem", &[]);
        // The record is the last blob posted: its height ends the base.
        let record: modelda_da::Locator = out["record"].as_str().unwrap().parse().unwrap();
        let (height, _, _) = record.square_parts().unwrap();
        std::fs::write(
            &ids,
            json!([out["model_id"], height, out["record"]]).to_string(),
        )
        .unwrap();
    }
    let ids: Value = serde_json::from_slice(&std::fs::read(&ids).unwrap()).unwrap();
    let base = ids[0].as_str().unwrap().to_string();
    let record = ids[2].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let open = || -> Arc<dyn DaLayer> {
        let chain =
            LocalChain::open_reader(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
        Arc::new(LocalLayer::new(chain))
    };
    let model_bytes = du(&root.join("base"))
        - ["model.sig", "model.claims.sig"]
            .iter()
            .map(|f| std::fs::metadata(root.join("base").join(f)).map_or(0, |m| m.len()))
            .sum::<u64>();
    println!(
        "archive benchmark: {} MiB sample model, default leaves, embedded chain, {} runs, median",
        a.mib, a.runs
    );

    // 1. Throughput: the base alone, archived and fetched, interleaved.
    let base_head = ids[1].as_u64().unwrap();
    // The node prepares each height's proofs as it indexes (for its own
    // inclusion proofs, archive or not); the archiver then takes each
    // blob's proof from them. Timed apart.
    let layer = open();
    let t = Instant::now();
    rt.block_on(async {
        for h in 1..=base_head {
            layer.prepare_proofs(h).await.unwrap();
        }
    });
    let prepared = t.elapsed();
    let (mut archive_t, mut fetch_t) = (Vec::new(), Vec::new());
    for run in 0..a.runs {
        let index = rt.block_on(index_of(&root, &layer, "index-base", Some(base_head)));
        archive_t.push(rt.block_on(archive_all(&index, &layer, &root.join("arch-run"))));
        drop(index);
        let out = root.join("fetched");
        let _ = std::fs::remove_dir_all(&out);
        let t = Instant::now();
        modelda(
            &root,
            &[
                "--json", "fetch", &base, "--record", &record, "--out", "fetched",
            ],
        );
        fetch_t.push(t.elapsed());
        eprintln!(
            "run {run}: archive {:.2} s, fetch {:.2} s",
            archive_t[run].as_secs_f64(),
            fetch_t[run].as_secs_f64()
        );
    }
    println!(
        "preparing the proofs of heights 1..={base_head} (what `modelda node` does in the background as it indexes): {:.2} s",
        prepared.as_secs_f64()
    );
    let mbs = |d: Duration| model_bytes as f64 / d.as_secs_f64() / 1e6;
    let (at, ft) = (median(archive_t), median(fetch_t));
    println!(
        "throughput: archive {:.1} MB/s ({:.2} s), fetch {:.1} MB/s ({:.2} s): archive/fetch = {:.2}x (goal >= 0.8x)",
        mbs(at),
        at.as_secs_f64(),
        mbs(ft),
        ft.as_secs_f64(),
        ft.as_secs_f64() / at.as_secs_f64()
    );

    // 2. Storage: an attestation and a finetune added.
    let gens = root.join("gens.json");
    if !gens.exists() {
        publish(&root, "base", "b.pem", &["--resign"]);
        let ft = root.join("ft");
        let _ = std::fs::remove_dir_all(&ft);
        copy_dir(&root.join("base"), &ft);
        for f in ["model.sig", "model.claims.sig"] {
            let _ = std::fs::remove_file(ft.join(f));
        }
        // One tensor changed: a byte in the middle of the second shard.
        let shard = std::fs::read_dir(&ft)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .unwrap();
        let mut b = std::fs::read(&shard).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 1;
        std::fs::write(&shard, b).unwrap();
        let id = publish(
            &root,
            "ft",
            "a.pem",
            &["--parent", &format!("{base}:finetune")],
        )["model_id"]
            .clone();
        std::fs::write(&gens, json!([id]).to_string()).unwrap();
    }
    let index = rt.block_on(index_of(&root, &layer, "index-all", None));
    rt.block_on(async {
        let head = layer.head().await.unwrap();
        for h in base_head + 1..=head {
            layer.prepare_proofs(h).await.unwrap();
        }
    });
    let arch = root.join("arch-all");
    let took = rt.block_on(archive_all(&index, &layer, &arch));
    let store = arch.join("store");
    let leaves = du(&store.join("leaves"));
    let kits = du(&store.join("kits"));
    let blobs = du(&store.join("blobs"));
    let roots = du(&store.join("roots"));
    let stored = leaves + kits + blobs + roots;
    println!(
        "storage (base + attestation + finetune, archived in {:.2} s): leaves {leaves} B (the unique model bytes), kits {kits} B, record blobs {blobs} B, data roots {roots} B",
        took.as_secs_f64()
    );
    println!(
        "storage: {stored} B stored / {leaves} B unique = {:.4}x (goal <= 1.02x); / {} B published (3 x {model_bytes}) = {:.3}x",
        stored as f64 / leaves as f64,
        3 * model_bytes,
        stored as f64 / (3 * model_bytes) as f64
    );

    // 3. /chunks from the archive, from the layer, and /health.
    rt.block_on(async {
        let spec = ArchiveSpec::parse(store.to_str().unwrap(), None).unwrap();
        let archive = Archive::open(spec).unwrap();
        let mut keys = Vec::new();
        archive.leaves(|k| keys.push(k)).await.unwrap();
        keys.sort_by_key(|k| k.to_string());
        let no_cache = Limits {
            leaf_cache_bytes: 0,
            blob_cache_bytes: 0,
            ..Limits::default()
        };
        let from_archive = serve(
            Api::new(index.clone(), Some(layer.clone()), no_cache.clone()).with_archive(archive),
        )
        .await;
        let from_layer = serve(Api::new(index.clone(), Some(layer.clone()), no_cache)).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(a.clients)
            .build()
            .unwrap();
        let urls = |addr| -> Vec<String> {
            keys.iter()
                .map(|k| format!("http://{addr}/chunks/{k}"))
                .collect()
        };
        let health = load(
            &client,
            &[format!("http://{from_archive}/health")],
            a.clients,
            a.seconds,
        )
        .await;
        let arch = load(&client, &urls(from_archive), a.clients, a.seconds).await;
        let lay = load(&client, &urls(from_layer), a.clients, a.seconds).await;
        let mean_len = keys.iter().map(|k| k.len()).sum::<u64>() / keys.len().max(1) as u64;
        println!(
            "/chunks ({} leaves, {mean_len} B mean, {} clients, leaf and blob caches off):",
            keys.len(),
            a.clients
        );
        for (name, v) in [("archive", &arch), ("layer", &lay), ("/health", &health)] {
            println!(
                "  {name:8} {:>7} requests  p50 {:>8.2} ms  p99 {:>8.2} ms",
                v.len(),
                ms(pct(v, 50)),
                ms(pct(v, 99))
            );
        }
        println!(
            "  archive/layer: p50 {:.2}x, p99 {:.2}x",
            ms(pct(&arch, 50)) / ms(pct(&lay, 50)),
            ms(pct(&arch, 99)) / ms(pct(&lay, 99))
        );
    });
}
