//! The web explorer in a real browser: headless Debian Chromium driven by
//! playwright-core (`explorer/e2e/browser.mjs`) against `modelda node` over
//! three generations, an attestation and a model of 1,000 tensors; then
//! against `modelda serve` in the test mode that corrupts one chunk, where
//! verification in the page must fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use modelda_fixtures::sample::{write_safetensors, TensorSpec};
use serde_json::Value;

use super::api::{
    post_graphql, publish, spawn_node, spawn_server_with, stop, three_generations, wait_head,
    wait_indexed,
};
use super::{repo, require_tools};

/// Node.js, Chromium and the explorer's npm packages, or why not.
pub(super) fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let explorer = repo().join("explorer");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node = Command::new("node").arg("--version").output().ok();
    let missing = if node.is_none_or(|o| !o.status.success()) {
        Some("node (Node.js)")
    } else if !chromium.exists() {
        Some("chromium (Debian package chromium)")
    } else if !explorer.join("node_modules/playwright-core").exists() {
        Some("explorer/node_modules (npm ci in explorer/)")
    } else {
        None
    };
    if let Some(what) = missing {
        assert!(
            !require_tools(),
            "{what} is missing: run scripts/setup-explorer.sh"
        );
        eprintln!("skipping the browser test: {what} is missing (scripts/setup-explorer.sh)");
        return None;
    }
    Some((explorer, chromium))
}

/// A model of `n` small tensors in one safetensors file.
fn wide_model(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let tensors: Vec<TensorSpec> = (0..n)
        .map(|i| TensorSpec {
            name: format!("blocks.{}.ffn.w{}", i / 4, i % 4),
            dtype: "F16",
            shape: vec![64],
            elem: 2,
        })
        .collect();
    write_safetensors(&dir.join("model.safetensors"), &tensors, 7).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\n---\n# wide\nA thousand small tensors.\n",
    )
    .unwrap();
}

/// Runs the browser script; each line it prints goes to `on_line` as it
/// comes (the script asks for a publication mid-run so that the live feed
/// has something to show).
pub(super) fn run_browser(
    explorer: &Path,
    chromium: &Path,
    args: &[&str],
    mut on_line: impl FnMut(&str),
) {
    use std::io::BufRead as _;
    let mut child = Command::new("node")
        .arg("e2e/browser.mjs")
        .args(args)
        .env("CHROMIUM", chromium)
        .current_dir(explorer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut text = String::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        println!("{line}");
        on_line(&line);
        text.push_str(&line);
        text.push('\n');
    }
    let status = child.wait().unwrap();
    let errors = errors.join().unwrap_or_default();
    assert!(status.success(), "the browser test failed:\n{text}{errors}");
}

#[test]
fn explorer_pages_and_in_browser_verification_in_chromium() {
    let Some((explorer, chromium)) = browser_tools() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let g = three_generations(root, &[]);
    wide_model(&root.join("wide"), 1000);
    // It claims the base as its parent, sharing nothing with it (an
    // unproven claim), and a parent nobody published (a pending one).
    let unproven = format!("{}:finetune", g.base);
    let pending = format!("{}:merge", "ab".repeat(32));
    let wide_out = publish(
        root,
        "wide",
        "a.pem",
        &["--parent", &unproven, "--parent", &pending],
    );
    let wide = wide_out["model_id"].as_str().unwrap().to_string();
    let (node, addr) = spawn_node(root, &[]);
    wait_indexed(&addr, 5);
    let url = format!("http://{addr}");

    // What the browser is told to look for, asked of the API with curl.
    let q = serde_json::json!({
        "query": "query($id: ID!) { model(id: $id) { name signers { key } publications { signerKey cost { ownBlobs } }
                   file(path: \"model-00001-of-00002.safetensors\") { path leafSize
                     tensors(first: 1) { nodes { name start hash } } } } }",
        "variables": { "id": g.base },
    });
    let v = post_graphql(&addr, &q.to_string());
    let m = &v["data"]["model"];
    let name = m["name"].as_str().unwrap().to_string();
    let pubs = m["publications"].as_array().unwrap();
    let key_of = |own: bool| {
        pubs.iter()
            .find(|p| (p["cost"]["ownBlobs"].as_i64().unwrap() > 0) == own)
            .unwrap_or_else(|| panic!("no publication with own blobs {own}: {v}"))["signerKey"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (key_of(true), key_of(false));
    // The cost the API works out from the record is what the publisher
    // reported posting.
    let q = serde_json::json!({
        "query": "query($id: ID!) { model(id: $id) { publications { cost {
                    ownBlobs recordBlobs postedBytes payloadBytes overhead } } } }",
        "variables": { "id": wide },
    });
    let v = post_graphql(&addr, &q.to_string());
    let cost = &v["data"]["model"]["publications"][0]["cost"];
    let n = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        n(&cost["postedBytes"]),
        wide_out["bytes_posted"].as_u64().unwrap(),
        "{v} vs {wide_out}"
    );
    assert_eq!(
        n(&cost["payloadBytes"]),
        wide_out["model_bytes"].as_u64().unwrap()
    );
    assert_eq!(
        cost["ownBlobs"].as_u64().unwrap() + cost["recordBlobs"].as_u64().unwrap(),
        wide_out["blobs"].as_u64().unwrap(),
        "{v} vs {wide_out}"
    );
    assert!(
        (cost["overhead"].as_f64().unwrap() - wide_out["overhead"].as_f64().unwrap()).abs() < 1e-9
    );
    let file = &m["file"];
    let path = file["path"].as_str().unwrap().to_string();
    let t = &file["tensors"]["nodes"][0];
    let tensor = t["name"].as_str().unwrap().to_string();
    let tensor_hash = t["hash"].as_str().unwrap().to_string();
    let leaf = t["start"].as_str().unwrap().parse::<u64>().unwrap()
        / file["leafSize"].as_str().unwrap().parse::<u64>().unwrap();
    let shots = root.join("shots");
    let shots_s = shots.to_str().unwrap().to_string();
    run_browser(
        &explorer,
        &chromium,
        &[
            "--url",
            &url,
            "--out",
            &shots_s,
            "--mode",
            "full",
            "--base",
            &g.base,
            "--finetune",
            &g.finetune,
            "--quantized",
            &g.quantized,
            "--wide",
            &wide,
            "--a",
            &a,
            "--b",
            &b,
            "--base-name",
            &name,
            "--tensor-hash",
            &tensor_hash,
        ],
        |line| {
            if line == "waiting for a publication" {
                // Published while the home page listens: it must appear.
                let (_tiny_tmp, tiny) = super::tiny_model();
                super::copy_dir(&tiny, &root.join("live"));
                publish(root, "live", "b.pem", &[]);
            }
        },
    );
    let q = serde_json::json!({
        "query": "query($id: ID!, $p: String!, $l: BigInt!) { file(model: $id, path: $p) { chunk(leaf: $l) { commitment } } }",
        "variables": { "id": g.base, "p": path, "l": leaf.to_string() },
    });
    let v = post_graphql(&addr, &q.to_string());
    let commitment = v["data"]["file"]["chunk"]["commitment"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();

    // Advisories: the publisher's on the base, a third party's report on
    // the finetune; the banners, the advisory page, the report marked.
    let advise = |id: &str, key: &str, status: &str| -> Value {
        let args = super::advisory::advise_args(id, key, status, "browser test");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_str(&super::modelda_ok(root, &args)).unwrap()
    };
    super::modelda_ok(root, &["keygen", "--out", "m.pem"]);
    advise(&g.base, "a.pem", "poisoned-data");
    let report = advise(&g.base, "m.pem", "revoked");
    wait_head(root, &addr);
    run_browser(
        &explorer,
        &chromium,
        &[
            "--url",
            &url,
            "--out",
            &shots_s,
            "--mode",
            "advisories",
            "--base",
            &g.base,
            "--finetune",
            &g.finetune,
            // The wide model claims the base but shares nothing with it.
            "--quantized",
            &wide,
            "--status",
            "POISONED_DATA",
            "--report",
            report["id"].as_str().unwrap(),
        ],
        |_| {},
    );
    stop(node);

    // The same index, served by a server that lies about that one chunk.
    let (liar, addr) = spawn_server_with(
        root,
        "serve",
        &[],
        &[("MODELDA_FAULT_CORRUPT_CHUNK", commitment.as_str())],
    );
    run_browser(
        &explorer,
        &chromium,
        &[
            "--url",
            &format!("http://{addr}"),
            "--out",
            &shots_s,
            "--mode",
            "corrupt",
            "--base",
            &g.base,
            "--file",
            &path,
            "--tensor",
            &tensor,
        ],
        |_| {},
    );
    stop(liar);

    for page in [
        "home",
        "search",
        "model",
        "verify-pass",
        "lineage",
        "publisher",
        "rejections",
        "graphiql",
        "model-360-dark",
        "lineage-360-dark",
        "verify-fail",
        "advisory-banner",
        "advisory",
    ] {
        let png = std::fs::read(shots.join(format!("{page}.png")))
            .unwrap_or_else(|e| panic!("screenshot {page}: {e}"));
        assert!(
            png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {page} is not a picture"
        );
    }
    let figures: Value =
        serde_json::from_str(&std::fs::read_to_string(shots.join("figures.json")).unwrap())
            .unwrap();
    println!("explorer figures: {figures}");
    assert!(figures["js_css_gzip_bytes"].as_u64().unwrap() < 300 << 10);
    if let Some(dir) = std::env::var_os("MODELDA_EXPLORER_SHOTS") {
        super::copy_dir(&shots, Path::new(&dir));
    }
}
