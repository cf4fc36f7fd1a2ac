//! `commit` throughput against BLAKE3's own multithreaded hash of the same
//! file (`Hasher::update_mmap_rayon`, what `b3sum` does), in the same run, and
//! peak memory while committing a large sparse file.
//!
//! ```text
//! cargo bench -p modelda-benches --bench commit                 # 1 GiB file, 64 GiB sparse file
//! cargo bench -p modelda-benches --bench commit -- --size-mib 256 --sparse-gib 8 --runs 3
//! ```
//!
//! Results are ratios (modelda throughput / b3sum-style throughput) from
//! interleaved runs, so a noisy shared machine affects both sides alike.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use modelda_benches::{bench_dir, drop_caches, median, peak_rss_kib};
use modelda_manifest::{commit_file, FoundFile, NoProgress};
use modelda_merkle::LeafSize;

struct Args {
    size_mib: u64,
    sparse_gib: u64,
    runs: usize,
    leaf: LeafSize,
    child_sparse: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        size_mib: 1024,
        sparse_gib: 64,
        runs: 5,
        leaf: LeafSize::DEFAULT,
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
            "--sparse-gib" => {
                a.sparse_gib = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--sparse-gib N")
            }
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--leaf-size" => {
                a.leaf = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--leaf-size SIZE")
            }
            "--child-sparse" => a.child_sparse = it.next().map(PathBuf::from),
            _ => {} // cargo passes --bench
        }
    }
    a
}

fn found(path: &Path) -> FoundFile {
    FoundFile {
        rel: path.file_name().unwrap().to_string_lossy().into_owned(),
        path: path.to_path_buf(),
        size: std::fs::metadata(path).unwrap().len(),
        via_symlink: false,
    }
}

/// Times of one interleaved round: baseline, leaves only, leaves + tensors.
struct Rounds {
    base: Vec<Duration>,
    leaves: Vec<Duration>,
    tensors: Vec<Duration>,
}

/// Runs interleaved rounds of the three sides.
fn measure(
    a: &Args,
    file: &Path,
    f: &FoundFile,
    expected: modelda_merkle::FileRoot,
    cold: bool,
) -> (Rounds, usize) {
    let (mut base, mut leaves, mut tensors) = (Vec::new(), Vec::new(), Vec::new());
    let mut n_tensors = 0;
    for _ in 0..a.runs {
        if cold {
            drop_caches();
        }
        let t = Instant::now();
        let mut h = blake3::Hasher::new();
        h.update_mmap_rayon(file).unwrap();
        std::hint::black_box(h.finalize());
        base.push(t.elapsed());

        if cold {
            drop_caches();
        }
        let t = Instant::now();
        let c = commit_file(f, a.leaf, false, &NoProgress).unwrap();
        leaves.push(t.elapsed());
        assert_eq!(c.entry.root, expected);

        if cold {
            drop_caches();
        }
        let t = Instant::now();
        let c = commit_file(f, a.leaf, true, &NoProgress).unwrap();
        tensors.push(t.elapsed());
        assert_eq!(c.entry.root, expected);
        n_tensors = c.entry.tensors.len();
    }
    (
        Rounds {
            base,
            leaves,
            tensors,
        },
        n_tensors,
    )
}

/// Median of per-round ratios baseline/ours: each round's two sides ran back
/// to back, so they share the machine's momentary load.
fn ratio(base: &[Duration], ours: &[Duration]) -> f64 {
    let mut r: Vec<f64> = base
        .iter()
        .zip(ours)
        .map(|(b, o)| b.as_secs_f64() / o.as_secs_f64())
        .collect();
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

fn report(r: &Rounds, gbs: &dyn Fn(Duration) -> f64) {
    let (b, l, t) = (
        median(r.base.clone()),
        median(r.leaves.clone()),
        median(r.tensors.clone()),
    );
    println!(
        "  b3sum-style update_mmap_rayon    {:>7.2} GB/s  (baseline)",
        gbs(b)
    );
    println!(
        "  modelda root + leaf CVs          {:>7.2} GB/s  ratio {:.3}x  (goal >= 0.95x)",
        gbs(l),
        ratio(&r.base, &r.leaves)
    );
    println!(
        "  modelda + tensor index & hashes  {:>7.2} GB/s  ratio {:.3}x  (goal >= 0.80x)",
        gbs(t),
        ratio(&r.base, &r.tensors)
    );
}

fn main() {
    let a = args();
    if let Some(p) = &a.child_sparse {
        // Child process: commit the sparse file and report peak RSS only.
        let t = Instant::now();
        let c = commit_file(&found(p), a.leaf, true, &NoProgress).expect("commit sparse file");
        println!(
            "{} {} {}",
            peak_rss_kib(),
            t.elapsed().as_secs_f64(),
            c.commitment.leaves().len()
        );
        return;
    }
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = a.size_mib << 20;
    let file = dir.join(format!("bench-{}mib.safetensors", a.size_mib));
    if !file.exists() {
        eprintln!("writing {} ...", file.display());
        let tensors = modelda_fixtures::sample::layer_tensors("model.", bytes);
        modelda_fixtures::sample::write_safetensors(&file, &tensors, 1).unwrap();
    }
    let len = std::fs::metadata(&file).unwrap().len();
    let f = found(&file);
    // Warm the page cache so every side reads from memory.
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(&file).unwrap();
    let expected = modelda_merkle::FileRoot::from(h.finalize());

    let (warm, n_tensors) = measure(&a, &file, &f, expected, false);
    let gbs = |d: Duration| len as f64 / d.as_secs_f64() / 1e9;
    println!(
        "commit benchmark: {} MiB safetensors file ({n_tensors} tensors), leaf {}, {} runs, median",
        a.size_mib, a.leaf, a.runs
    );
    println!("warm page cache (CPU-bound):");
    report(&warm, &gbs);
    if drop_caches() {
        let (cold, _) = measure(&a, &file, &f, expected, true);
        println!("cold page cache (dropped before every run; disk-bound):");
        report(&cold, &gbs);
    } else {
        println!("cold page cache: skipped (writing /proc/sys/vm/drop_caches needs root)");
    }

    if a.sparse_gib > 0 {
        let sparse = dir.join(format!("sparse-{}gib.bin", a.sparse_gib));
        let fh = std::fs::File::create(&sparse).unwrap();
        fh.set_len(a.sparse_gib << 30).unwrap();
        drop(fh);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--child-sparse",
                sparse.to_str().unwrap(),
                "--leaf-size",
                &a.leaf.bytes().to_string(),
            ])
            .output()
            .expect("run child");
        let _ = std::fs::remove_file(&sparse);
        let text = String::from_utf8_lossy(&out.stdout);
        let parts: Vec<&str> = text.split_whitespace().collect();
        assert!(
            out.status.success() && parts.len() == 3,
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rss_mib = parts[0].parse::<f64>().unwrap() / 1024.0;
        let secs: f64 = parts[1].parse().unwrap();
        println!(
            "  sparse {} GiB file: peak RSS {:.1} MiB (goal < 256 MiB), {:.2} GB/s, {} leaves",
            a.sparse_gib,
            rss_mib,
            (a.sparse_gib << 30) as f64 / secs / 1e9,
            parts[2]
        );
    }
}
