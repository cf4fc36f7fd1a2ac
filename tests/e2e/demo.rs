//! The README demo's API steps (`scripts/demo-api.sh`: `modelda node`, a
//! GraphQL query, a tensor's inclusion proof verified against the chain,
//! the explorer's page) with both cores busy with another CPU-bound
//! process, as on a fresh machine that is doing something else: nothing a
//! user runs may depend on the machine being fast or idle.

use std::process::{Child, Command, Stdio};

use modelda_fixtures::sample::{write_model, SampleOptions};

use super::{modelda_bin, modelda_ok, repo};

/// Processes that spin until dropped.
struct Burners(Vec<Child>);

impl Burners {
    fn start(n: usize) -> Burners {
        Burners(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("start a CPU burner")
                })
                .collect(),
        )
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn the_demos_api_steps_pass_with_both_cores_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    // The demo's model: 64 MiB of weights, published to the embedded chain.
    write_model(
        &work.join("model"),
        &SampleOptions {
            weights_bytes: 64 << 20,
            ..SampleOptions::default()
        },
    )
    .unwrap();
    modelda_ok(work, &["keygen", "--out", "publisher.pem", "--force"]);
    let out = modelda_ok(
        work,
        &["--json", "publish", "model", "--key", "publisher.pem"],
    );
    let id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let burners = Burners::start(cores);
    let started = std::time::Instant::now();
    let out = Command::new("bash")
        .arg(repo().join("scripts/demo-api.sh"))
        .arg(modelda_bin())
        .arg(&id)
        .current_dir(work)
        .output()
        .unwrap();
    drop(burners);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!(
        "the demo's API steps took {:.1} s with {cores} cores busy",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "the demo's API steps failed under load:\n{stdout}\n{stderr}\nnode: {}",
        std::fs::read_to_string(work.join("node.err")).unwrap_or_default()
    );
    assert!(stdout.contains("proof of 3072000 bytes"), "{stdout}");
    assert!(stdout.contains("the web explorer is served"), "{stdout}");
    assert!(work.join("proof.json").exists());
}
