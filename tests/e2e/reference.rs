//! Signatures checked by the reference verifier from PyPI (`model-signing`):
//! its command line for SHA-256 bundles, its Python API for BLAKE3 bundles
//! (the 1.1 command line re-hashes with SHA-256 only).

use std::process::Command;

use super::{modelda_ok, tiny_model, venv_python};

#[test]
fn model_signing_accepts_both_bundles() {
    let Some(py) = venv_python() else { return };
    let (tmp, dir) = tiny_model();
    let t = tmp.path();
    modelda_ok(t, &["keygen", "--out", "k.pem"]);

    // BLAKE3 bundle: the Python API reads the hash type from the bundle.
    modelda_ok(t, &["sign", "tiny", "--key", "k.pem"]);
    let script = "import sys, model_signing\n\
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=sys.argv[1]).verify(sys.argv[2], sys.argv[3])\n\
        print('verified')\n";
    let out = Command::new(&py)
        .args(["-c", script, "k.pem.pub", "tiny", "tiny/model.sig"])
        .current_dir(t)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "model_signing API rejected the blake3 bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SHA-256 bundle: the `model_signing verify key` command line.
    modelda_ok(
        t,
        &["sign", "tiny", "--key", "k.pem", "--oms-hash", "sha256"],
    );
    let cli = py.parent().unwrap().join("model_signing");
    let verify = |dir: &str| {
        Command::new(&cli)
            .args([
                "verify",
                "key",
                "--signature",
                &format!("{dir}/model.sig"),
                "--public_key",
                "k.pem.pub",
                dir,
            ])
            .current_dir(t)
            .output()
            .unwrap()
    };
    let out = verify("tiny");
    assert!(
        out.status.success(),
        "model_signing verify key failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    modelda_ok(t, &["verify", "tiny", "--key", "k.pem.pub"]);

    // And it rejects a tampered model.
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, "{\"tampered\": true}").unwrap();
    assert!(!verify("tiny").status.success());
}

#[test]
fn fixtures_are_what_the_reference_packages_write() {
    let Some(py) = venv_python() else { return };
    let script = super::repo().join("fixtures/python/check_models.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("MODELDA_VENV", py.parent().unwrap().parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
