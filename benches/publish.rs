//! Publish and fetch throughput on the embedded local chain, against
//! `commit` of the same model in the same run; Reed-Solomon encode
//! throughput against BLAKE3 of the same bytes; peak memory while
//! publishing large sparse files.
//!
//! ```text
//! cargo bench -p modelda-benches --bench publish                  # 4 GiB model, 16 and 4 GiB sparse files
//! cargo bench -p modelda-benches --bench publish -- --size-mib 512 --runs 2 --sparse-gib 2
//! ```
//!
//! Every side runs interleaved with its baseline, so a noisy shared machine
//! affects both alike; the ratios are what to compare across machines.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use modelda_benches::{bench_dir, drop_caches, median, peak_rss_kib};
use modelda_da::{
    ChainLimits, DaLayer, InclusionProof, LayerKind, Limits, LocalChain, LocalLayer, Locator,
    Namespace, Receipt,
};
use modelda_manifest::sign::PrivateKey;
use modelda_manifest::{commit_dir, CommitOptions, NoProgress};
use modelda_merkle::LeafSize;
use modelda_publisher::fetch::{self, Selection};
use modelda_publisher::publish::{self, PublishOptions, SignedModel};
use modelda_publisher::StripeCoder;

struct Args {
    size_mib: u64,
    runs: usize,
    sparse_gib: Vec<u64>,
    child_sparse: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        size_mib: 4096,
        runs: 3,
        sparse_gib: vec![16, 4],
        child_sparse: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        match s.as_str() {
            "--size-mib" => {
                a.size_mib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--size-mib N")
            }
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--sparse-gib" => {
                a.sparse_gib = it
                    .next()
                    .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
                    .expect("--sparse-gib N[,N...]")
            }
            "--child-sparse" => a.child_sparse = it.next().map(PathBuf::from),
            _ => {} // cargo passes --bench
        }
    }
    a
}

fn commit_opts() -> CommitOptions {
    CommitOptions {
        leaf_size: LeafSize::DEFAULT,
        training: None,
        lineage: vec![],
        skip_tensors: false,
    }
}

/// Publishes `model` to a fresh local chain under `work`; returns the time
/// and the record.
async fn publish_once(model: &SignedModel, key: &PrivateKey, work: &Path) -> (Duration, Locator) {
    let _ = std::fs::remove_dir_all(work);
    let chain = LocalChain::open(&work.join("chain"), ChainLimits::APP_V5).unwrap();
    let layer: Arc<dyn DaLayer> = Arc::new(LocalLayer::new(chain));
    let opts = PublishOptions {
        journal_dir: work.join("journal"),
        ..Default::default()
    };
    let t = Instant::now();
    let out = publish::publish(
        layer,
        model,
        key,
        &opts,
        &publish::Quiet,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("publish");
    (t.elapsed(), out.record)
}

/// Loses the blobs in its set, so that fetches rebuild stripes from parity.
struct Lossy(LocalLayer, Arc<std::collections::HashSet<Locator>>);

#[async_trait]
impl DaLayer for Lossy {
    fn kind(&self) -> LayerKind {
        self.0.kind()
    }
    async fn limits(&self) -> modelda_da::Result<Limits> {
        self.0.limits().await
    }
    async fn head(&self) -> modelda_da::Result<u64> {
        self.0.head().await
    }
    fn settlement(&self) -> modelda_da::Settlement {
        self.0.settlement()
    }
    fn as_follow(&self) -> Option<&dyn modelda_da::Follow> {
        Some(self)
    }
    async fn submit(&self, ns: Namespace, b: Vec<Vec<u8>>) -> modelda_da::Result<Vec<Receipt>> {
        self.0.submit(ns, b).await
    }
    async fn get(&self, l: &Locator) -> modelda_da::Result<Vec<u8>> {
        if self.1.contains(l) {
            return Err(modelda_da::Error::NotFound {
                locator: l.to_string(),
            });
        }
        self.0.get(l).await
    }
    async fn prove(&self, l: &Locator) -> modelda_da::Result<InclusionProof> {
        self.0.prove(l).await
    }
    async fn verify(&self, l: &Locator, d: &[u8], p: &InclusionProof) -> modelda_da::Result<()> {
        self.0.verify(l, d, p).await
    }
}

#[async_trait]
impl modelda_da::Follow for Lossy {
    async fn wait_for_height(&self, h: u64) -> modelda_da::Result<()> {
        modelda_da::Follow::wait_for_height(&self.0, h).await
    }
    async fn list(&self, ns: Namespace, h: u64) -> modelda_da::Result<Vec<(Locator, Vec<u8>)>> {
        modelda_da::Follow::list(&self.0, ns, h).await
    }
}

/// Writes `bytes` to `path` in 8 MiB writes, then removes it.
fn write_floor(path: &Path, bytes: u64) {
    use std::io::Write;
    let chunk = vec![0x5au8; 8 << 20];
    let mut f = std::fs::File::create(path).unwrap();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    drop(f);
    std::fs::remove_file(path).unwrap();
}

fn rs_encode(size_mib: u64, runs: usize) {
    let coder = StripeCoder::new(16, 4).unwrap();
    let leaf = 1usize << 20;
    let data: Vec<u8> = (0..16 * leaf)
        .map(|i| ((i * 2_654_435_761usize) >> 13) as u8)
        .collect();
    let leaves: Vec<&[u8]> = data.chunks(leaf).collect();
    let stripes = (size_mib / 16).clamp(8, 256);
    let (mut rs, mut b3) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        for _ in 0..stripes {
            std::hint::black_box(coder.encode(&leaves).unwrap());
        }
        rs.push(t.elapsed());
        let t = Instant::now();
        for _ in 0..stripes {
            std::hint::black_box(blake3::hash(&data));
        }
        b3.push(t.elapsed());
    }
    let bytes = (stripes * 16 * leaf as u64) as f64;
    let (rs, b3) = (median(rs), median(b3));
    println!(
        "Reed-Solomon 16+4 encode, one core: {:.2} GB/s of data ({:.2}x BLAKE3 on one core, {:.2} GB/s)",
        bytes / rs.as_secs_f64() / 1e9,
        b3.as_secs_f64() / rs.as_secs_f64(),
        bytes / b3.as_secs_f64() / 1e9
    );
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = PrivateKey::generate();

    if let Some(dir) = &a.child_sparse {
        // Child process: publish the sparse model, report peak RSS.
        let t = Instant::now();
        let model = SignedModel::prepare(dir, &key, &commit_opts(), true, |_| true, &NoProgress)
            .expect("sign sparse model");
        let work = dir.with_extension("work");
        let (_, _) = rt.block_on(publish_once(&model, &key, &work));
        let _ = std::fs::remove_dir_all(&work);
        println!("{} {}", peak_rss_kib(), t.elapsed().as_secs_f64());
        return;
    }

    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let model_dir = dir.join(format!("publish-model-{}mib", a.size_mib));
    if !model_dir.exists() {
        eprintln!("writing {} ...", model_dir.display());
        modelda_fixtures::sample::write_model(
            &model_dir,
            &modelda_fixtures::sample::SampleOptions {
                weights_bytes: a.size_mib << 20,
                shards: 4,
                ..Default::default()
            },
        )
        .unwrap();
    }
    let work = dir.join("publish-work");
    let signed = SignedModel::prepare(
        &model_dir,
        &key,
        &commit_opts(),
        true,
        |_| true,
        &NoProgress,
    )
    .expect("sign");
    let bytes = signed.manifest.total_size() as f64;
    let gbs = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    println!(
        "publish benchmark: {} MiB model ({} files), 16+4 stripes, 1 MiB leaves, local chain (app v5 blobs), {} runs, median",
        a.size_mib,
        signed.manifest.files.len(),
        a.runs
    );

    // Bytes a publish stores: every blob of the plan.
    let coded_bytes = modelda_publisher::Plan::new(
        &signed.manifest,
        modelda_publisher::Geometry::default(),
        ChainLimits::APP_V5.limits().max_blob_bytes,
        &Vec::new(),
        0,
    )
    .unwrap()
    .bytes();
    for cold in [false, true] {
        if cold && !drop_caches() {
            println!("cold page cache: skipped (writing /proc/sys/vm/drop_caches needs root)");
            continue;
        }
        let (mut commit, mut post, mut full, mut disk) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..a.runs {
            // The disk's floor: writing as many bytes as the publish stores
            // (model plus parity and envelopes), page cache and writeback
            // as usual.
            let t = Instant::now();
            write_floor(&dir.join("publish-floor.bin"), coded_bytes);
            disk.push(t.elapsed());
            if cold {
                drop_caches();
            }
            let t = Instant::now();
            std::hint::black_box(commit_dir(&model_dir, &commit_opts(), &NoProgress).unwrap());
            commit.push(t.elapsed());
            if cold {
                drop_caches();
            }
            // Posting a signed directory: read, check every leaf, code, post.
            post.push(rt.block_on(publish_once(&signed, &key, &work)).0);
            if cold {
                drop_caches();
            }
            // From scratch: commit, sign, then post.
            let t = Instant::now();
            let m = SignedModel::prepare(
                &model_dir,
                &key,
                &commit_opts(),
                true,
                |_| true,
                &NoProgress,
            )
            .unwrap();
            rt.block_on(publish_once(&m, &key, &work));
            full.push(t.elapsed());
        }
        let (c, p, f, d) = (median(commit), median(post), median(full), median(disk));
        println!(
            "{}:",
            if cold {
                "cold page cache (dropped before every run)"
            } else {
                "warm page cache"
            }
        );
        println!("  commit alone              {:>6.2} GB/s", gbs(c));
        println!(
            "  write the coded bytes     {:>6.2} GB/s   {:.2}x commit (the disk's floor for any publish)",
            gbs(d),
            c.as_secs_f64() / d.as_secs_f64()
        );
        println!(
            "  publish a signed dir      {:>6.2} GB/s   {:.2}x commit (goal 0.5x), {:.2}x the floor",
            gbs(p),
            c.as_secs_f64() / p.as_secs_f64(),
            d.as_secs_f64() / p.as_secs_f64()
        );
        println!(
            "  commit + sign + publish   {:>6.2} GB/s   {:.2}x commit",
            gbs(f),
            c.as_secs_f64() / f.as_secs_f64()
        );
    }

    // Fetch and verify everything back, against commit of the same bytes.
    let (_, rec_loc) = rt.block_on(publish_once(&signed, &key, &work));
    let chain = LocalChain::open(&work.join("chain"), ChainLimits::APP_V5).unwrap();
    let local = LocalLayer::new(chain);
    let rec = Arc::new(
        rt.block_on(modelda_da::read::open_record(&local, &rec_loc, None, None))
            .unwrap(),
    );
    // The lossy layer loses the blob of the first leaf of every full stripe.
    let lost: Arc<std::collections::HashSet<Locator>> = Arc::new(
        rec.files
            .iter()
            .flat_map(|f| {
                (0..f.stripes.count())
                    .filter(|&s| f.stripes.leaves_of(s).count() == 16)
                    .map(|s| rec.blobs[f.refs[f.stripe_starts[s as usize]].blob as usize].clone())
            })
            .collect(),
    );
    let out = dir.join("publish-fetched");
    let (mut commit, mut fetched, mut rebuilt) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..a.runs {
        let t = Instant::now();
        std::hint::black_box(commit_dir(&model_dir, &commit_opts(), &NoProgress).unwrap());
        commit.push(t.elapsed());
        let _ = std::fs::remove_dir_all(&out);
        let t = Instant::now();
        let layer: Arc<dyn DaLayer> = Arc::new(local.clone());
        rt.block_on(fetch::fetch(
            layer,
            rec.clone(),
            &Selection::All,
            &out,
            &fetch::Quiet,
        ))
        .unwrap();
        fetched.push(t.elapsed());
        let _ = std::fs::remove_dir_all(&out);
        let t = Instant::now();
        let lossy: Arc<dyn DaLayer> = Arc::new(Lossy(local.clone(), lost.clone()));
        let r = rt
            .block_on(fetch::fetch(
                lossy,
                rec.clone(),
                &Selection::All,
                &out,
                &fetch::Quiet,
            ))
            .unwrap();
        assert!(r.stats.rebuilt_stripes > 0);
        rebuilt.push(t.elapsed());
    }
    let (c, f, r) = (median(commit), median(fetched), median(rebuilt));
    println!("fetch and verify (warm page cache):");
    println!("  commit alone                  {:>6.2} GB/s", gbs(c));
    println!(
        "  fetch, every leaf intact      {:>6.2} GB/s   {:.2}x commit",
        gbs(f),
        c.as_secs_f64() / f.as_secs_f64()
    );
    println!(
        "  fetch, a leaf per stripe lost {:>6.2} GB/s   {:.2}x commit",
        gbs(r),
        c.as_secs_f64() / r.as_secs_f64()
    );
    drop(local);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&work);

    rs_encode(a.size_mib, a.runs.max(3));

    for gib in &a.sparse_gib {
        let sdir = dir.join(format!("sparse-model-{gib}gib"));
        let _ = std::fs::remove_dir_all(&sdir);
        std::fs::create_dir_all(&sdir).unwrap();
        let fh = std::fs::File::create(sdir.join("weights.bin")).unwrap();
        fh.set_len(gib << 30).unwrap();
        drop(fh);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--child-sparse", sdir.to_str().unwrap()])
            .output()
            .expect("run child");
        let _ = std::fs::remove_dir_all(&sdir);
        let text = String::from_utf8_lossy(&out.stdout);
        let parts: Vec<&str> = text.split_whitespace().collect();
        assert!(
            out.status.success() && parts.len() == 2,
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rss_mib = parts[0].parse::<f64>().unwrap() / 1024.0;
        let secs: f64 = parts[1].parse().unwrap();
        println!(
            "sparse {gib} GiB file, commit + sign + publish: peak RSS {rss_mib:.1} MiB (goal < 512 MiB), {:.2} GB/s",
            (gib << 30) as f64 / secs / 1e9
        );
    }
}
