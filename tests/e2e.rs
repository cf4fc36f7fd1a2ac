//! Test modules and shared helpers.

mod advisory;
mod api;
mod archive;
mod avail;
mod cli;
mod da;
mod demo;
mod explorer;
mod golden;
mod index;
mod publish;
mod reference;
mod tensor_index;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `modelda` binary of the same profile as this test binary.
pub fn modelda_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..");
    let bin = dir.join("modelda");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --release --workspace --all-targets` (the README's test command does)",
        bin.display()
    );
    // The crash tests need the publisher's fault hooks, which only a build
    // with the test crate's features has.
    static CHECKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let hooks = *CHECKED.get_or_init(|| {
        let v = Command::new(&bin)
            .arg("--version")
            .output()
            .expect("run modelda --version");
        String::from_utf8_lossy(&v.stdout).contains("fault hooks on")
    });
    assert!(
        hooks,
        "{} was built without the fault hooks the crash tests need (a `cargo build -p modelda-cli` replaces it): rebuild it with `cargo build --release --workspace --all-targets`",
        bin.display()
    );
    bin
}

/// The seed of a randomized test: `MODELDA_TEST_SEED`, or the clock. It is
/// printed, so a failing run can be replayed.
pub fn test_seed() -> u64 {
    let seed = std::env::var("MODELDA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("seeded with MODELDA_TEST_SEED={seed}");
    seed
}

/// Sends SIGTERM to `child` (a follower or a server, which stop cleanly on
/// it) and waits for it.
pub fn terminate(child: std::process::Child) -> Output {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    child.wait_with_output().unwrap()
}

/// Runs `modelda ARGS` in `cwd`.
pub fn modelda(cwd: &Path, args: &[&str]) -> Output {
    Command::new(modelda_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run modelda")
}

/// Runs and requires success; returns stdout.
pub fn modelda_ok(cwd: &Path, args: &[&str]) -> String {
    let out = modelda(cwd, args);
    assert!(
        out.status.success(),
        "modelda {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `GET url`, requiring a JSON answer.
pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of the tiny fixture model in a temp dir.
pub fn tiny_model() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    copy_dir(&repo().join("fixtures/models/tiny"), &dir);
    (tmp, dir)
}

/// Whether a tool must be present (CI sets `MODELDA_REQUIRE_TOOLS=1`): then a
/// missing tool fails the test instead of skipping it.
pub fn require_tools() -> bool {
    std::env::var("MODELDA_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The Python venv with the reference packages, when present.
pub fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("MODELDA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv"));
    let py = venv.join("bin/python");
    if py.exists() {
        Some(py)
    } else {
        assert!(
            !require_tools(),
            "the Python venv {} is missing: run scripts/setup-python.sh",
            venv.display()
        );
        eprintln!(
            "skipping: no Python venv at {} (run scripts/setup-python.sh)",
            venv.display()
        );
        None
    }
}

/// `b3sum`, when installed.
pub fn b3sum() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("b3sum"))
            .find(|p| p.exists())
    });
    if found.is_none() {
        assert!(
            !require_tools(),
            "b3sum is missing: run scripts/setup-debian.sh"
        );
        eprintln!("skipping: b3sum is not installed");
    }
    found
}
