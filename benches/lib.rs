//! Benchmarks live in this crate's `[[bench]]` targets; run them with
//! `cargo bench -p modelda-benches --bench NAME`. This library holds what
//! they share.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `target/<profile>/bench-data`, where benchmarks keep their inputs.
pub fn bench_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("bench-data")
}

/// Peak resident memory of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The median of `v` (not empty).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Syncs and drops the page cache; false without root.
pub fn drop_caches() -> bool {
    std::process::Command::new("sync").status().is_ok()
        && std::fs::write("/proc/sys/vm/drop_caches", "1").is_ok()
}

/// Runs the release `modelda` binary in `root` with `args`; its JSON
/// output (`Null` when it printed none). Panics, saying what it printed,
/// when it fails.
pub fn modelda(root: &Path, args: &[&str]) -> serde_json::Value {
    let bin = bench_dir().parent().unwrap().join("modelda");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p modelda-cli` first",
        bin.display()
    );
    let out = std::process::Command::new(&bin)
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "modelda {args:?}: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Copies the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
