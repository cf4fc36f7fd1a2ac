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
