//! Indexer benchmark: ingest from the local chain of N publications of L
//! leaves each (default 1,000 x 1,000), against two floors measured in the
//! same run on the same chain: listing every height (the read floor) and
//! listing plus opening and checking every record (the validation floor:
//! signatures, model ids, leaves against roots). Reports records/s,
//! leaves/s, the index size on disk per leaf, the resident memory at
//! quarters of the ingest (flat in the number of records) and the peak.
//!
//!   cargo bench -p modelda-benches --bench index -- [--records 1000] [--leaves 1000]
//!
//! The chain is generated once (synthetic records, properly signed) under
//! target/release/bench-data and reused; the measurement runs in a fresh
//! process so that its peak memory is the ingest's.

use std::path::Path;
use std::time::{Duration, Instant};

use modelda_benches::{bench_dir, peak_rss_kib};
use modelda_da::{ChainLimits, DaLayer, LocalChain, LocalLayer, Namespace};
use modelda_fixtures::records::{self, FileSpec};
use modelda_indexer::{follow, Event, FollowOptions, Index, Source, Stop};
use modelda_manifest::sign::PrivateKey;
use modelda_merkle::LeafSize;
use modelda_publisher::Geometry;

struct Args {
    records: u64,
    leaves: u64,
}

fn args() -> Args {
    let mut a = Args {
        records: 1000,
        leaves: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        match s.as_str() {
            "--records" => a.records = it.next().and_then(|v| v.parse().ok()).expect("--records N"),
            "--leaves" => a.leaves = it.next().and_then(|v| v.parse().ok()).expect("--leaves N"),
            _ => {} // cargo passes --bench
        }
    }
    a
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One record per height, each model of one file of `leaves` leaves (16 KiB)
/// and 8 tensors; every tenth a finetune of the one before (one tensor and
/// one leaf changed).
fn generate(dir: &Path, a: &Args) {
    let _ = std::fs::remove_dir_all(dir);
    let chain = LocalChain::open(dir, ChainLimits::APP_V5).unwrap();
    let key = PrivateKey::generate();
    let t = Instant::now();
    let mut prev: Option<modelda_manifest::CommittedModel> = None;
    for i in 0..a.records {
        let m = match &prev {
            Some(p) if i % 10 == 9 => records::derive(
                p,
                i,
                &[(0, 0, 1)],
                vec![modelda_manifest::LineageClaim {
                    parent: p.id,
                    relation: modelda_manifest::Relation::Finetune,
                }],
            ),
            _ => records::model(
                i,
                &[FileSpec {
                    path: "model.safetensors".into(),
                    leaves: a.leaves,
                    tensors: 8,
                }],
                LeafSize::MIN,
                vec![],
            ),
        };
        let root = records::root_page(&key, &m, Geometry::default(), 1 << 20);
        chain.append(&[(Namespace::RECORDS, &root)]).unwrap();
        prev = Some(m);
    }
    std::fs::write(dir.join("complete"), b"").unwrap();
    eprintln!("generated {} records in {:?}", a.records, t.elapsed());
}

fn main() {
    let a = args();
    let chain_dir = bench_dir().join(format!("index-chain-{}x{}", a.records, a.leaves));
    if std::env::var_os("MODELDA_BENCH_MEASURE").is_none() {
        if !chain_dir.join("complete").exists() {
            generate(&chain_dir, &a);
        }
        // Measure in a fresh process: its peak memory is the ingest's.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(std::env::args().skip(1))
            .env("MODELDA_BENCH_MEASURE", "1")
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(1));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let layer = LocalLayer::new(LocalChain::open_reader(&chain_dir, ChainLimits::APP_V5).unwrap());
    let head = rt.block_on(layer.head()).unwrap();
    let f = layer.as_follow().unwrap();
    let leaves = a.records * a.leaves;

    // The read floor: list every height.
    let t = Instant::now();
    let mut bytes = 0usize;
    for h in 1..=head {
        for (_, b) in rt.block_on(f.list(Namespace::RECORDS, h)).unwrap() {
            bytes += b.len();
        }
    }
    let list = t.elapsed();

    // The validation floor: list and open every record.
    let t = Instant::now();
    for h in 1..=head {
        for (loc, b) in rt.block_on(f.list(Namespace::RECORDS, h)).unwrap() {
            std::hint::black_box(
                rt.block_on(modelda_da::read::open_record_blob(
                    &layer, &loc, &b, None, None,
                ))
                .unwrap(),
            );
        }
    }
    let open = t.elapsed();

    // The ingest, from an empty index.
    let tmp = tempfile::tempdir_in(bench_dir()).unwrap();
    let index = Index::open(
        &tmp.path().join("index"),
        Some(&Source {
            layer: "local".into(),
            namespace: Some(Namespace::RECORDS.to_string()),
        }),
    )
    .unwrap();
    let mut samples = Vec::new();
    let quarter = (head / 4).max(1);
    let t = Instant::now();
    let stop = rt
        .block_on(follow(
            &index,
            &layer,
            &FollowOptions {
                to_height: Some(head),
                ..FollowOptions::default()
            },
            &tokio_util::sync::CancellationToken::new(),
            |e| {
                if let Event::Height(r) = e {
                    if r.height % quarter == 0 {
                        samples.push((r.height, rss_kib()));
                    }
                }
            },
        ))
        .unwrap();
    let ingest = t.elapsed();
    assert_eq!(stop, Stop::Reached);
    let counts = index.counts().unwrap();
    assert_eq!(counts.records, a.records, "every record indexed");
    assert_eq!(counts.rejections, 0);
    index.flush().unwrap();
    let disk = index.disk_bytes();
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "index benchmark: {} publications x {} leaves (16 KiB leaves, 16+4 stripes), {:.1} MiB of records, local chain",
        a.records,
        a.leaves,
        bytes as f64 / (1 << 20) as f64
    );
    println!("  list every height          {:>8.2} s", secs(list));
    println!(
        "  list + open every record   {:>8.2} s   {:>9.0} records/s {:>10.0} leaves/s",
        secs(open),
        a.records as f64 / secs(open),
        leaves as f64 / secs(open)
    );
    println!(
        "  ingest into the index      {:>8.2} s   {:>9.0} records/s {:>10.0} leaves/s (goal 50000)   {:.2}x open, {:.2}x list",
        secs(ingest),
        a.records as f64 / secs(ingest),
        leaves as f64 / secs(ingest),
        secs(ingest) / secs(open),
        secs(ingest) / secs(list)
    );
    println!(
        "  index on disk              {:>8.1} MiB   {:.1} bytes per leaf",
        disk as f64 / (1 << 20) as f64,
        disk as f64 / leaves as f64
    );
    let rss: Vec<String> = samples
        .iter()
        .map(|(h, kib)| format!("{h}: {:.1}", *kib as f64 / 1024.0))
        .collect();
    println!("  resident MiB at height     {}", rss.join(", "));
    println!(
        "  peak RSS                   {:>8.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
}
