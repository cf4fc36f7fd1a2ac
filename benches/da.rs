//! DA layer throughput: submit-and-get of 1 MiB blobs on the embedded local
//! chain, and the same through the devnet's Celestia JSON-RPC API and its
//! Avail light client API and node RPC over loopback HTTP in the same run,
//! so the HTTP, block-time, finality and proof costs show as a ratio; plus
//! proof build and verify time per blob.
//!
//! ```text
//! cargo bench -p modelda-benches --bench da -- [--blobs 64] [--block-ms 100]
//! ```

use std::time::{Duration, Instant};

use modelda_da::avail::{AvailLayer, AvailOptions};
use modelda_da::celestia::{CelestiaLayer, CelestiaOptions};
use modelda_da::{ChainLimits, DaLayer, LocalChain, LocalLayer, Namespace};
use modelda_devnet::jwt::Permission;
use modelda_devnet::{Devnet, DevnetConfig};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn blob(i: u64) -> Vec<u8> {
    let mut v = vec![0u8; 1 << 20];
    let mut h = blake3::Hasher::new();
    h.update(&i.to_le_bytes());
    h.finalize_xof().fill(&mut v);
    v
}

struct Run {
    submit: Duration,
    get: Duration,
    prove: Duration,
    verify: Duration,
}

/// Submits `n` blobs (`per_call` per submit, `parallel` calls in flight),
/// gets them back, then proves and verifies the first `sample` of them.
async fn run(
    layer: &(dyn DaLayer + Sync),
    n: u64,
    per_call: u64,
    parallel: usize,
    sample: usize,
) -> Run {
    let ns = Namespace::DEFAULT;
    let t = Instant::now();
    let mut receipts = Vec::new();
    let chunks: Vec<Vec<Vec<u8>>> = (0..n)
        .step_by(per_call as usize)
        .map(|s| (s..(s + per_call).min(n)).map(blob).collect())
        .collect();
    for group in chunks.chunks(parallel) {
        let futs = group.iter().map(|c| layer.submit(ns, c.clone()));
        for r in futures_join(futs).await {
            receipts.extend(r.expect("submit"));
        }
    }
    let submit = t.elapsed();
    let t = Instant::now();
    for r in &receipts {
        std::hint::black_box(layer.get(&r.locator).await.expect("get"));
    }
    let get = t.elapsed();
    let (mut prove, mut verify) = (Duration::ZERO, Duration::ZERO);
    for (i, r) in receipts.iter().take(sample).enumerate() {
        let t = Instant::now();
        let p = layer.prove(&r.locator).await.expect("prove");
        prove += t.elapsed();
        let t = Instant::now();
        layer
            .verify(&r.locator, &blob(i as u64), &p)
            .await
            .expect("verify");
        verify += t.elapsed();
    }
    Run {
        submit,
        get,
        prove: prove / sample as u32,
        verify: verify / sample as u32,
    }
}

async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let pinned: Vec<_> = futs.map(Box::pin).collect();
    // Drive them concurrently on this task.
    let mut pending: Vec<_> = pinned.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.expect("completed")));
    out
}

fn main() {
    let n = arg("--blobs", 64);
    let block_ms = arg("--block-ms", 100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let local = LocalLayer::new(LocalChain::open(&tmp.path().join("local"), ChainLimits::APP_V5).unwrap());
        let d = Devnet::start(DevnetConfig {
            data_dir: tmp.path().join("devnet"),
            rpc_addr: "127.0.0.1:0".parse().unwrap(),
            eigenda_addr: "127.0.0.1:0".parse().unwrap(),
            avail_addr: Some("127.0.0.1:0".parse().unwrap()),
            block_time: Duration::from_millis(block_ms),
            ..Default::default()
        })
        .await
        .unwrap();
        let celestia = CelestiaLayer::connect(CelestiaOptions {
            url: d.rpc_url(),
            token: Some(d.token(Permission::Write)),
            ..Default::default()
        })
        .await
        .unwrap();
        // One 1 MiB blob per submit on both; the devnet fits 7 per block, so
        // 7 submissions are in flight at once.
        let avail_url = d.avail_url().unwrap();
        let avail = AvailLayer::new(AvailOptions {
            url: avail_url.clone(),
            node_url: avail_url,
            poll: Duration::from_millis(20),
            ..Default::default()
        })
        .unwrap();
        let l = run(&local, n, 1, 1, 8).await;
        let c = run(&celestia, n, 1, 7, 8).await;
        // Avail: one submit_data per blob, as many in flight.
        let a = run(&avail, n, 1, 7, 8).await;
        let mb = (n << 20) as f64 / 1e6;
        println!("DA benchmark: {n} blobs of 1 MiB, devnet block time {block_ms} ms");
        println!(
            "  local chain        submit {:>7.1} MB/s   get {:>7.1} MB/s   prove {:>6.1} ms   verify {:>6.1} ms per blob",
            mb / l.submit.as_secs_f64(),
            mb / l.get.as_secs_f64(),
            l.prove.as_secs_f64() * 1e3,
            l.verify.as_secs_f64() * 1e3
        );
        println!(
            "  devnet Celestia    submit {:>7.1} MB/s   get {:>7.1} MB/s   prove {:>6.1} ms   verify {:>6.1} ms per blob",
            mb / c.submit.as_secs_f64(),
            mb / c.get.as_secs_f64(),
            c.prove.as_secs_f64() * 1e3,
            c.verify.as_secs_f64() * 1e3
        );
        println!(
            "  devnet Avail       submit {:>7.1} MB/s   get {:>7.1} MB/s   prove {:>6.1} ms   verify {:>6.1} ms per blob",
            mb / a.submit.as_secs_f64(),
            mb / a.get.as_secs_f64(),
            a.prove.as_secs_f64() * 1e3,
            a.verify.as_secs_f64() * 1e3
        );
        println!(
            "  ratio Celestia/local submit {:.3}x  get {:.3}x",
            l.submit.as_secs_f64() / c.submit.as_secs_f64(),
            l.get.as_secs_f64() / c.get.as_secs_f64()
        );
        println!(
            "  ratio Avail/local    submit {:.3}x  get {:.3}x",
            l.submit.as_secs_f64() / a.submit.as_secs_f64(),
            l.get.as_secs_f64() / a.get.as_secs_f64()
        );
        d.stop().await;
    });
}
