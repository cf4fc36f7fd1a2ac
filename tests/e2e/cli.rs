//! The `modelda` command as a user runs it.

use std::path::Path;
use std::process::Command;

use super::{b3sum, modelda, modelda_ok, repo, tiny_model};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn commit_json_lists_files_with_roots_that_b3sum_agrees_with() {
    let (_tmp, dir) = tiny_model();
    let out = json(&modelda_ok(
        dir.parent().unwrap(),
        &["commit", "tiny", "--json"],
    ));
    let id = out["model_id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    let files = out["files"].as_array().unwrap();
    assert_eq!(files.len(), 9);
    for f in files {
        let path = dir.join(f["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(f["size"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(
            f["root"].as_str().unwrap(),
            blake3::hash(&bytes).to_hex().as_str()
        );
        if let Some(b3) = b3sum() {
            let o = Command::new(b3).arg(&path).output().unwrap();
            let printed = String::from_utf8(o.stdout).unwrap();
            assert_eq!(
                printed.split_whitespace().next().unwrap(),
                f["root"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn b3sum_agrees_on_boundary_lengths() {
    let Some(b3) = b3sum() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    std::fs::create_dir(&m).unwrap();
    for len in modelda_fixtures::boundary_lengths(16 << 10) {
        std::fs::write(
            m.join(format!("f{len}")),
            modelda_fixtures::input(len as usize),
        )
        .unwrap();
    }
    let out = json(&modelda_ok(
        tmp.path(),
        &["commit", "m", "--leaf-size", "16KiB", "--json"],
    ));
    let files = out["files"].as_array().unwrap();
    assert_eq!(files.len(), 14);
    for f in files {
        let o = Command::new(&b3)
            .arg(m.join(f["path"].as_str().unwrap()))
            .output()
            .unwrap();
        let printed = String::from_utf8(o.stdout).unwrap();
        assert_eq!(
            f["root"].as_str().unwrap(),
            printed.split_whitespace().next().unwrap(),
            "{}",
            f["path"]
        );
    }
}

#[test]
fn malformed_weights_fail_with_file_and_offset_and_write_nothing() {
    let dir = repo().join("fixtures/malformed");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if !(name.ends_with(".safetensors") || name.ends_with(".gguf")) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("m");
        std::fs::create_dir(&model).unwrap();
        std::fs::copy(&p, model.join(&name)).unwrap();
        std::fs::write(
            tmp.path().join("k.pem"),
            modelda_manifest::sign::PrivateKey::generate().to_pem(),
        )
        .unwrap();
        for args in [vec!["commit", "m"], vec!["sign", "m", "--key", "k.pem"]] {
            let out = modelda(tmp.path(), &args);
            assert!(!out.status.success(), "{name}: {args:?} succeeded");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&name) && err.contains("at byte"),
                "{name}: {err}"
            );
        }
        assert!(!model.join("model.sig").exists() && !model.join("model.claims.sig").exists());
        checked += 1;
    }
    assert!(checked >= 14);
}

#[test]
fn bad_directories_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("config.json"), "{}").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", m.join("escape")).unwrap();
    let err = String::from_utf8(modelda(tmp.path(), &["commit", "m"]).stderr).unwrap();
    assert!(
        err.contains("escape") && err.contains("leaves the model directory"),
        "{err}"
    );
    std::fs::remove_file(m.join("escape")).unwrap();

    std::os::unix::fs::symlink("nowhere", m.join("dangling")).unwrap();
    let err = String::from_utf8(modelda(tmp.path(), &["commit", "m"]).stderr).unwrap();
    assert!(err.contains("dangling"), "{err}");
    std::fs::remove_file(m.join("dangling")).unwrap();

    std::os::unix::fs::symlink("config.json", m.join("inside.json")).unwrap();
    modelda_ok(tmp.path(), &["commit", "m"]);
    std::fs::remove_file(m.join("inside.json")).unwrap();

    std::fs::write(m.join("README.md"), "---\nlicense: [unclosed\n---\n").unwrap();
    let err = String::from_utf8(modelda(tmp.path(), &["commit", "m"]).stderr).unwrap();
    assert!(
        err.contains("README.md") && err.contains("front matter"),
        "{err}"
    );
    std::fs::remove_file(m.join("README.md")).unwrap();

    std::fs::write(
        m.join("modelda-training.toml"),
        "[[dataset]]\nname = \"x\"\n",
    )
    .unwrap();
    let err = String::from_utf8(modelda(tmp.path(), &["commit", "m"]).stderr).unwrap();
    assert!(
        err.contains("modelda-training.toml") && err.contains("exactly one of"),
        "{err}"
    );
    std::fs::remove_file(m.join("modelda-training.toml")).unwrap();

    let out = modelda(tmp.path(), &["commit", "does-not-exist"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
    let out = modelda(tmp.path(), &["commit", "m", "--leaf-size", "3MiB"]);
    assert!(!out.status.success());
}

#[test]
fn sign_then_verify_and_name_what_differs() {
    let (tmp, dir) = tiny_model();
    let t = tmp.path();
    modelda_ok(t, &["keygen", "--out", "k.pem"]);
    assert!(
        !modelda(t, &["keygen", "--out", "k.pem"]).status.success(),
        "keygen must not overwrite"
    );
    let signed = json(&modelda_ok(
        t,
        &["sign", "tiny", "--key", "k.pem", "--json"],
    ));
    assert!(dir.join("model.sig").exists() && dir.join("model.claims.sig").exists());
    let v = json(&modelda_ok(
        t,
        &["verify", "tiny", "--key", "k.pem.pub", "--json"],
    ));
    assert_eq!(v["ok"], true);
    assert_eq!(v["model_id"], signed["model_id"]);
    assert_eq!(v["key_pinned"], true);

    // Another key is refused.
    modelda_ok(t, &["keygen", "--out", "other.pem"]);
    let out = modelda(t, &["verify", "tiny", "--key", "other.pem.pub"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not by the given key"));

    // A flipped byte inside a tensor names the tensor.
    let gguf = dir.join("tiny-q8.gguf");
    let mut bytes = std::fs::read(&gguf).unwrap();
    bytes[3000] ^= 1;
    std::fs::write(&gguf, &bytes).unwrap();
    let out = modelda(t, &["verify", "tiny"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tiny-q8.gguf") && err.contains("blk.0.ffn_gate_exps.weight"),
        "{err}"
    );
    bytes[3000] ^= 1;
    std::fs::write(&gguf, &bytes).unwrap();

    // An extra file and a missing file are named.
    std::fs::write(dir.join("extra.txt"), "x").unwrap();
    std::fs::rename(dir.join("config.json"), t.join("config.json")).unwrap();
    let v = json(&String::from_utf8(modelda(t, &["verify", "tiny", "--json"]).stdout).unwrap());
    assert_eq!(v["ok"], false);
    let kinds: Vec<String> = v["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["kind"].as_str().unwrap(),
                m["path"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        kinds.contains(&"unsigned-file:extra.txt".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"missing-file:config.json".to_string()),
        "{kinds:?}"
    );
}

#[test]
fn verify_names_the_leaf_of_a_large_file() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let m = t.join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("weights.bin"), modelda_fixtures::input(200_000)).unwrap();
    modelda_ok(t, &["keygen", "--out", "k.pem"]);
    modelda_ok(t, &["sign", "m", "--key", "k.pem", "--leaf-size", "16KiB"]);
    modelda_ok(t, &["verify", "m"]);
    let mut b = std::fs::read(m.join("weights.bin")).unwrap();
    b[5 * 16384 + 7] ^= 0x80;
    std::fs::write(m.join("weights.bin"), &b).unwrap();
    let err = String::from_utf8(modelda(t, &["verify", "m"]).stderr).unwrap();
    assert!(
        err.contains("weights.bin: leaf 5 (bytes 81920..98304) differs"),
        "{err}"
    );
}

fn prove_and_check(t: &Path, file: &str, target: &[&str]) {
    let mut args = vec![
        "prove",
        file,
        "--out",
        "p.proof",
        "--data-out",
        "p.bin",
        "--json",
    ];
    args.extend_from_slice(target);
    let p = json(&modelda_ok(t, &args));
    let root = p["root"].as_str().unwrap().to_string();
    let v = json(&modelda_ok(
        t,
        &[
            "verify-proof",
            "--proof",
            "p.proof",
            "--root",
            &root,
            "--data",
            "p.bin",
            "--out",
            "range.bin",
            "--json",
        ],
    ));
    assert_eq!(v["ok"], true);
    let full = std::fs::read(t.join(file)).unwrap();
    let r = p["range"].as_array().unwrap();
    let (a, b) = (
        r[0].as_u64().unwrap() as usize,
        r[1].as_u64().unwrap() as usize,
    );
    assert_eq!(std::fs::read(t.join("range.bin")).unwrap(), &full[a..b]);
    modelda_ok(
        t,
        &[
            "verify-proof",
            "--proof",
            "p.proof",
            "--root",
            &root,
            "--file",
            file,
        ],
    );

    // Tampered data, proof, root or range fail.
    let mut data = std::fs::read(t.join("p.bin")).unwrap();
    data[0] ^= 1;
    std::fs::write(t.join("bad.bin"), &data).unwrap();
    assert!(!modelda(
        t,
        &[
            "verify-proof",
            "--proof",
            "p.proof",
            "--root",
            &root,
            "--data",
            "bad.bin"
        ]
    )
    .status
    .success());
    let mut proof = std::fs::read(t.join("p.proof")).unwrap();
    let last = proof.len() - 1;
    proof[last] ^= 1;
    std::fs::write(t.join("bad.proof"), &proof).unwrap();
    let out = modelda(
        t,
        &[
            "verify-proof",
            "--proof",
            "bad.proof",
            "--root",
            &root,
            "--data",
            "p.bin",
        ],
    );
    // The last byte is a sibling, or (with no siblings) the sibling count.
    assert!(
        !out.status.success(),
        "a proof with its last byte flipped verified"
    );
    let other = blake3::hash(b"other").to_hex().to_string();
    assert!(!modelda(
        t,
        &[
            "verify-proof",
            "--proof",
            "p.proof",
            "--root",
            &other,
            "--data",
            "p.bin"
        ]
    )
    .status
    .success());
    std::fs::write(t.join("trunc.proof"), &proof[..20]).unwrap();
    let out = modelda(
        t,
        &[
            "verify-proof",
            "--proof",
            "trunc.proof",
            "--root",
            &root,
            "--data",
            "p.bin",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed proof"));
}

#[test]
fn prove_and_verify_leaves_ranges_and_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::write(t.join("w.bin"), modelda_fixtures::input(300_000)).unwrap();
    prove_and_check(t, "w.bin", &["--leaf", "3", "--leaf-size", "16KiB"]);
    prove_and_check(
        t,
        "w.bin",
        &["--range", "1000..250000", "--leaf-size", "32KiB"],
    );
    prove_and_check(t, "w.bin", &["--leaf", "0"]);
    std::fs::copy(
        repo().join("fixtures/models/tiny/tiny-q8.gguf"),
        t.join("q.gguf"),
    )
    .unwrap();
    prove_and_check(
        t,
        "q.gguf",
        &["--tensor", "output.weight", "--leaf-size", "16KiB"],
    );
    let out = modelda(t, &["prove", "q.gguf", "--tensor", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tensor named \"nope\""));
    let out = modelda(t, &["prove", "w.bin", "--leaf", "99"]);
    assert!(!out.status.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn devnet_and_blob_commands_work_end_to_end() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (rpc, eig, av) = (free_port(), free_port(), free_port());
    let rpc_addr = format!("127.0.0.1:{rpc}");
    let eig_addr = format!("127.0.0.1:{eig}");
    let avail_addr = format!("127.0.0.1:{av}");
    let mut child = Command::new(super::modelda_bin())
        .args([
            "devnet",
            "--data-dir",
            "dn",
            "--rpc-addr",
            &rpc_addr,
            "--eigenda-addr",
            &eig_addr,
            "--avail-addr",
            &avail_addr,
            "--block-time-ms",
            "100",
        ])
        .current_dir(t)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines.next().expect("devnet printed its banner").unwrap();
        if line.contains("Ctrl-C stops it") {
            break;
        }
    }
    let token = modelda_ok(
        t,
        &["devnet", "token", "--data-dir", "dn", "--perm", "write"],
    );
    std::fs::write(t.join("token"), token.trim()).unwrap();
    std::fs::write(t.join("b.bin"), modelda_fixtures::input(700_000)).unwrap();
    let rpc_url = format!("http://{rpc_addr}");
    let eig_url = format!("http://{eig_addr}");
    let avail_url = format!("http://{avail_addr}");
    for da in ["local", "celestia", "eigenda", "avail"] {
        let flags = [
            "--da",
            da,
            "--data-dir",
            "local-chain",
            "--celestia-url",
            &rpc_url,
            "--celestia-token-file",
            "token",
            "--eigenda-url",
            &eig_url,
            "--avail-url",
            &avail_url,
            "--avail-node-url",
            &avail_url,
        ];
        let mut args = vec!["blob", "submit", "b.bin", "--json"];
        args.extend(flags);
        let receipts = json(&modelda_ok(t, &args));
        // The locator in its text form, as every command prints it.
        let loc_text = receipts[0]["locator"]
            .as_str()
            .unwrap_or_else(|| panic!("{da}: {receipts}"))
            .to_string();
        let loc: modelda_da::Locator = loc_text.parse().unwrap();
        assert_eq!(loc.to_string(), loc_text);
        assert!(loc_text.starts_with(&format!("{da}:")), "{loc_text}");
        for cmd in [
            vec!["blob", "get", &loc_text, "--out", "got.bin"],
            vec!["blob", "prove", &loc_text, "--out", "proof.json"],
            vec![
                "blob",
                "verify",
                &loc_text,
                "--data",
                "b.bin",
                "--proof",
                "proof.json",
            ],
        ] {
            let mut a = cmd.clone();
            a.extend(flags);
            a.push("--json");
            let v = json(&modelda_ok(t, &a));
            assert_eq!(v["locator"].as_str(), Some(loc_text.as_str()), "{v}");
        }
        assert_eq!(
            std::fs::read(t.join("got.bin")).unwrap(),
            modelda_fixtures::input(700_000),
            "{da}"
        );
        if da != "eigenda" {
            // Its height lists it, with the same locator.
            let h = loc_text.split(':').nth(1).unwrap();
            let mut a = vec!["blob", "list", "--height", h, "--json"];
            a.extend(flags);
            let listed = modelda_ok(t, &a);
            assert!(listed.contains(&loc_text), "{da}: {listed}");
        }
        let mut a = vec![
            "blob",
            "verify",
            &loc_text,
            "--data",
            "token",
            "--proof",
            "proof.json",
        ];
        a.extend(flags);
        assert!(
            !modelda(t, &a).status.success(),
            "{da}: wrong data verified"
        );
    }
    // A wrong token is a clear error.
    std::fs::write(t.join("bad-token"), "nope").unwrap();
    let out = modelda(
        t,
        &[
            "blob",
            "head",
            "--da",
            "celestia",
            "--celestia-url",
            &rpc_url,
            "--celestia-token-file",
            "bad-token",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized (401)"));
    // SIGTERM stops it cleanly.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "devnet exit: {status:?}");
}

#[test]
fn a_reader_that_stops_early_ends_the_listing_quietly() {
    use std::io::BufRead as _;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // Enough blobs at one height that the listing (about 100 bytes a line)
    // cannot fit in a pipe's buffer: the command is still writing when the
    // reader goes away.
    let n = 2000;
    let files: Vec<String> = (0..n).map(|i| format!("b{i}")).collect();
    for f in &files {
        std::fs::write(t.join(f), f).unwrap();
    }
    let mut args = vec!["--json", "blob", "submit", "--data-dir", "chain"];
    args.extend(files.iter().map(String::as_str));
    let receipts = json(&modelda_ok(t, &args));
    let loc = receipts[0]["locator"].as_str().unwrap().to_string();
    let height = loc.split(':').nth(1).unwrap();

    // `modelda blob list | head -1`.
    let mut child = Command::new(super::modelda_bin())
        .args(["blob", "list", "--height", height, "--data-dir", "chain"])
        .current_dir(t)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("local:"), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.status.success(),
        "modelda blob list | head -1: {}\n{err}",
        out.status
    );
}
