//! DA layers: one test body per operation, run against the local chain and,
//! over real HTTP on loopback, the devnet's Celestia and EigenDA APIs.

use std::time::Duration;

use modelda_da::avail::{AvailLayer, AvailOptions};
use modelda_da::celestia::{CelestiaLayer, CelestiaOptions};
use modelda_da::eigenda::{EigenDaLayer, EigenDaOptions};
use modelda_da::{
    ChainLimits, DaLayer, Error, Follow, InclusionProof, LayerKind, LocalChain, LocalLayer,
    Locator, Namespace, RetryPolicy,
};
use modelda_devnet::jwt::Permission;
use modelda_devnet::{Devnet, DevnetConfig, Faults};
use modelda_fixtures::sample::{write_model, SampleOptions};

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn devnet(dir: &std::path::Path, faults: Faults) -> Devnet {
    Devnet::start(DevnetConfig {
        data_dir: dir.to_path_buf(),
        rpc_addr: loopback(),
        eigenda_addr: loopback(),
        avail_addr: Some(loopback()),
        block_time: Duration::from_millis(100),
        faults,
        ..Default::default()
    })
    .await
    .expect("devnet starts")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 12,
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

async fn celestia(d: &Devnet, perm: Permission) -> CelestiaLayer {
    CelestiaLayer::connect(CelestiaOptions {
        url: d.rpc_url(),
        token: Some(d.token(perm)),
        retry: fast_retry(),
        timeout: Duration::from_secs(20),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn eigenda(d: &Devnet) -> EigenDaLayer {
    EigenDaLayer::new(EigenDaOptions {
        url: d.eigenda_url(),
        retry: fast_retry(),
        ..Default::default()
    })
    .unwrap()
}

/// The devnet's Avail light client and node (one address serves both).
fn avail(d: &Devnet) -> AvailLayer {
    let url = d.avail_url().expect("the devnet serves Avail");
    AvailLayer::new(AvailOptions {
        url: url.clone(),
        node_url: url,
        app_id: Some(1),
        retry: fast_retry(),
        poll: Duration::from_millis(50),
        finality_timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap()
}

/// The four backends: local (in-process), celestia, eigenda and avail
/// (devnet over HTTP).
async fn backends(tmp: &std::path::Path) -> (Devnet, Vec<Box<dyn DaLayer>>) {
    let d = devnet(&tmp.join("devnet"), Faults::default()).await;
    let local = LocalLayer::new(LocalChain::open(&tmp.join("local"), ChainLimits::APP_V5).unwrap());
    let c = celestia(&d, Permission::Write).await;
    let e = eigenda(&d);
    let a = avail(&d);
    (
        d,
        vec![Box::new(local), Box::new(c), Box::new(e), Box::new(a)],
    )
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; len];
    let mut h = blake3::Hasher::new();
    h.update(&[seed]);
    h.finalize_xof().fill(&mut v);
    v
}

/// A proof altered in one place: a sibling node of a row proof (or, when
/// no row proof has siblings, its start column), the EigenDA cert, or a
/// sibling (or the blob root) of an Avail data proof.
fn tamper(proof: &InclusionProof) -> InclusionProof {
    fn flip(s: &str, at: usize) -> String {
        let mut c: Vec<char> = s.chars().collect();
        c[at] = if c[at] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect()
    }
    let mut j = serde_json::to_value(proof).unwrap();
    if let Some(dp) = j.get_mut("data_proof") {
        let target = match dp["proof"].as_array_mut().filter(|p| !p.is_empty()) {
            Some(p) => &mut p[0],
            None => &mut dp["roots"]["blobRoot"],
        };
        let mut c: Vec<char> = target.as_str().unwrap().chars().collect();
        c[10] = if c[10] == '0' { '1' } else { '0' };
        *target = serde_json::Value::String(c.into_iter().collect());
    } else if let Some(cert) = j.get("cert").and_then(|c| c.as_str()).map(str::to_string) {
        j["cert"] = serde_json::Value::String(format!(
            "{}{}",
            &cert[..cert.len() - 1],
            if cert.ends_with('0') { '1' } else { '0' }
        ));
    } else {
        let proofs = j["proofs"].as_array_mut().unwrap();
        let with_node = proofs
            .iter_mut()
            .find_map(|p| p["nodes"].as_array_mut().filter(|n| !n.is_empty()));
        match with_node {
            Some(nodes) => {
                let s = flip(nodes[0].as_str().unwrap(), 40);
                nodes[0] = serde_json::Value::String(s);
            }
            None => {
                let start = proofs[0]["start"].as_i64().unwrap_or(0);
                proofs[0]["start"] = serde_json::json!(start + 1);
            }
        }
    }
    serde_json::from_value(j).expect("a tampered proof still parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_on_every_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, layers) = backends(tmp.path()).await;
    let ns = Namespace::DEFAULT;
    for layer in &layers {
        let kind = layer.kind();
        let limits = layer.limits().await.unwrap();
        assert!(limits.max_blob_bytes >= 1 << 20, "{kind}: {limits:?}");
        let blobs = vec![payload(1000, 1), payload(300_000, 2)];
        let receipts = layer.submit(ns, blobs.clone()).await.unwrap();
        assert_eq!(receipts.len(), 2);
        for (r, b) in receipts.iter().zip(&blobs) {
            assert_eq!(r.locator.kind(), kind);
            assert_eq!(r.size, b.len());
            // Locators survive their text and JSON forms.
            assert_eq!(r.locator.to_string().parse::<Locator>().unwrap(), r.locator);
            assert_eq!(&layer.get(&r.locator).await.unwrap(), b, "{kind}: get");
            let proof = layer.prove(&r.locator).await.unwrap();
            let proof: InclusionProof =
                serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
            layer.verify(&r.locator, b, &proof).await.unwrap();
            let mut bad = b.clone();
            bad[7] ^= 1;
            assert!(
                layer.verify(&r.locator, &bad, &proof).await.is_err(),
                "{kind}: tampered data verified"
            );
            let t = tamper(&proof);
            assert!(
                layer.verify(&r.locator, b, &t).await.is_err(),
                "{kind}: tampered proof verified"
            );
            if matches!(kind, LayerKind::Local | LayerKind::Celestia) {
                // Square proofs carry their rows' roots up to the data root;
                // a changed row root, or a row proof left out, is caught.
                let mut j = serde_json::to_value(&proof).unwrap();
                let rows = j.get_mut("rows").expect("square proofs carry their rows");
                assert!(rows["row_roots"].as_array().is_some_and(|r| !r.is_empty()));
                let root = rows["row_roots"][0].as_str().unwrap().to_string();
                let mut c: Vec<char> = root.chars().collect();
                c[40] = if c[40] == 'A' { 'B' } else { 'A' };
                rows["row_roots"][0] = serde_json::Value::String(c.into_iter().collect());
                let t: InclusionProof = serde_json::from_value(j).expect("still parses");
                let e = layer.verify(&r.locator, b, &t).await.unwrap_err();
                assert!(e.to_string().contains("row"), "{kind}: {e}");
            }
        }
        if matches!(kind, LayerKind::Local | LayerKind::Celestia) {
            let (height, _, _) = receipts[0].locator.square_parts().unwrap();
            assert!(layer.head().await.unwrap() >= height);
            let follow = layer.as_follow().expect("square layers can be followed");
            let listed = follow.list(ns, height).await.unwrap();
            assert_eq!(listed.len(), 2, "{kind}: list");
            assert_eq!(
                listed.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
                blobs
            );
            let other = Namespace::new_v0(b"other-ns").unwrap();
            assert!(follow.list(other, height).await.unwrap().is_empty());
        } else if kind == LayerKind::Avail {
            // Followed by app id: each submission's block lists it with the
            // locator its submission returned (index found in the node's
            // block, by the extrinsic's bytes).
            let follow = layer.as_follow().expect("Avail can be followed");
            for (r, b) in receipts.iter().zip(&blobs) {
                let Locator::Avail { height, .. } = r.locator else {
                    unreachable!()
                };
                follow.wait_for_height(height).await.unwrap();
                assert!(layer.head().await.unwrap() >= height);
                let listed = follow.list(ns, height).await.unwrap();
                assert!(
                    listed.iter().any(|(l, d)| *l == r.locator && d == b),
                    "avail: {} not listed at {height}: {:?}",
                    r.locator,
                    listed
                        .iter()
                        .map(|(l, _)| l.to_string())
                        .collect::<Vec<_>>()
                );
                // What is listed can be proven at the listed index.
                for (l, d) in &listed {
                    let p = layer.prove(l).await.unwrap();
                    layer.verify(l, d, &p).await.unwrap();
                }
            }
        } else {
            assert!(layer.as_follow().is_none(), "{kind} is not followed");
        }
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, layers) = backends(tmp.path()).await;
    for layer in &layers {
        let kind = layer.kind();
        let e = layer
            .submit(Namespace::DEFAULT, vec![vec![]])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::EmptyBlob), "{kind}: {e}");
        let too_big = layer.limits().await.unwrap().max_blob_bytes + 1;
        let e = layer
            .submit(Namespace::DEFAULT, vec![vec![1; too_big]])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::BlobTooLarge { .. }), "{kind}: {e}");
        let unknown = match kind {
            LayerKind::Eigenda => "eigenda:0x03ea00".parse::<Locator>().unwrap(),
            LayerKind::Avail => format!("avail:1:1:1:{}", "11".repeat(32)).parse().unwrap(),
            k => format!("{k}:1:{}:{}", Namespace::DEFAULT, "11".repeat(32))
                .parse()
                .unwrap(),
        };
        assert!(
            layer.get(&unknown).await.is_err(),
            "{kind}: unknown locator"
        );
    }
    assert!(
        Namespace::new_v0(&[0x42]).is_err(),
        "reserved namespaces are refused"
    );

    // A wrong token, and a read token used to write.
    let wrong = CelestiaLayer::connect(CelestiaOptions {
        url: d.rpc_url(),
        token: Some("not-a-jwt".into()),
        retry: RetryPolicy::NONE,
        ..Default::default()
    })
    .await
    .unwrap();
    let e = wrong.head().await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    let reader = celestia(&d, Permission::Read).await;
    reader.head().await.unwrap();
    let e = reader
        .submit(Namespace::DEFAULT, vec![vec![1; 10]])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmodified_celestia_client_works_against_the_devnet() {
    use celestia_rpc::{BlobClient, Client, HeaderClient, StateClient, TxConfig};
    use celestia_types::nmt::Namespace as CNs;
    use celestia_types::Blob;
    let tmp = tempfile::tempdir().unwrap();
    let d = devnet(tmp.path(), Faults::default()).await;
    let client = Client::new(&d.rpc_url(), Some(&d.token(Permission::Write)), None, None)
        .await
        .unwrap();
    let ns = CNs::new_v0(b"modelda-t").unwrap();
    let blob = Blob::new(ns, payload(5000, 9), None).unwrap();
    let height = client
        .blob_submit(std::slice::from_ref(&blob), TxConfig::default())
        .await
        .unwrap();
    let header = client.header_get_by_height(height).await.unwrap();
    let got = client.blob_get(height, ns, blob.commitment).await.unwrap();
    assert_eq!(got.data, blob.data);
    got.validate().unwrap();
    let proofs = client
        .blob_get_proof(height, ns, blob.commitment)
        .await
        .unwrap();
    let shares = blob.to_shares().unwrap();
    let w = header.dah.square_width() as u64;
    let row = (got.index.unwrap() / w) as u16;
    let mut off = 0;
    for (i, p) in proofs.iter().enumerate() {
        let n = (p.end_idx() - p.start_idx()) as usize;
        let root = header.dah.row_root(row + i as u16).unwrap();
        p.verify_complete_namespace(&root, &shares[off..off + n], ns.into())
            .unwrap();
        off += n;
    }
    assert_eq!(off, shares.len());
    // `share.GetRange`: runs of the blob's shares (original-square indexes),
    // proven up to the data root; celestia-types' `ShareProof` verifies them
    // against the header's DAH, at the range asked.
    {
        use celestia_rpc::ShareClient;
        let k = w / 2;
        let index = got.index.unwrap();
        let start = (index / w) * k + index % w;
        let dah_root = header.dah.hash();
        for (from, to) in [(0u64, 1u64), (2, 9), (0, shares.len() as u64)] {
            let r = client
                .share_get_range(height, start + from, start + to)
                .await
                .unwrap();
            r.proof
                .verify_range(dah_root, start + from..start + to)
                .unwrap();
            assert_eq!(r.shares.len() as u64, to - from);
            for (i, s) in r.proof.shares().iter().enumerate() {
                assert_eq!(s, shares[from as usize + i].data());
            }
            let mut lie = r.proof.clone();
            lie.data[0][100] ^= 1;
            assert!(lie.verify(dah_root).is_err());
        }
        // Past the square: an error, not a panic or a hang.
        assert!(client.share_get_range(height, 0, k * k + 1).await.is_err());
    }
    assert!(client
        .blob_included(height, ns, &proofs[0], blob.commitment)
        .await
        .unwrap());
    // celestia-node's Go API sends the whole `blob.Proof`: an array of NMT
    // proofs. The devnet takes both shapes, and refuses another blob's.
    {
        use jsonrpsee::core::client::ClientT;
        let go: bool = client
            .request(
                "blob.Included",
                jsonrpsee::rpc_params![height, ns, &proofs, blob.commitment],
            )
            .await
            .unwrap();
        assert!(go);
        let other = Blob::new(ns, payload(100, 1), None).unwrap();
        let wrong: bool = client
            .request(
                "blob.Included",
                jsonrpsee::rpc_params![height, ns, &proofs, other.commitment],
            )
            .await
            .unwrap();
        assert!(!wrong);
    }
    let head = client.header_network_head().await.unwrap();
    assert!(head.height() >= height);
    let next = client
        .header_wait_for_height(head.height() + 1)
        .await
        .unwrap();
    head.verify(&next).unwrap();
    assert!(client.state_balance().await.unwrap().amount() > 0);
    assert!(client
        .blob_get_all(height, &[CNs::new_v0(b"nothing").unwrap()])
        .await
        .unwrap()
        .is_none());
    // A reserved namespace is refused by the devnet.
    let reserved = Blob::new(CNs::new_v0(&[7]).unwrap(), vec![1, 2, 3], None).unwrap();
    assert!(client
        .blob_submit(&[reserved], TxConfig::default())
        .await
        .is_err());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_headers_and_poor_accounts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(DevnetConfig {
        data_dir: tmp.path().to_path_buf(),
        rpc_addr: loopback(),
        eigenda_addr: loopback(),
        block_time: Duration::from_millis(100),
        balance: 10_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = celestia(&d, Permission::Write).await;
    let b = payload(50_000, 5);
    let r = c.submit(Namespace::DEFAULT, vec![b.clone()]).await.unwrap();
    let loc = &r[0].locator;
    let proof = c.prove(loc).await.unwrap();
    assert!(c.included(loc, &proof).await.unwrap());
    let (h, _, _) = loc.square_parts().unwrap();
    let header = c.header(h).await.unwrap();
    modelda_da::verify_inclusion(loc, &b, &proof, &header).unwrap();
    // A header of another block, or one whose DAH was swapped, does not verify.
    let next = c.wait_for_height(h + 1).await.unwrap();
    assert!(modelda_da::verify_inclusion(loc, &b, &proof, &next).is_err());
    let mut forged = header.clone();
    forged.dah = next.dah.clone();
    assert!(modelda_da::verify_inclusion(loc, &b, &proof, &forged).is_err());
    // The account cannot pay for more: a clear error.
    let mut err = None;
    for i in 0..20 {
        match c
            .submit(Namespace::DEFAULT, vec![payload(100_000, i)])
            .await
        {
            Ok(_) => continue,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("the balance runs out");
    assert!(matches!(err, Error::InsufficientFunds { .. }), "{err}");
    assert!(c.balance().await.unwrap() < 10_000);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_survived_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = Faults {
        latency: Duration::from_millis(5),
        error_rate: 0.3,
        failover_rate: 0.2,
        drop_rate: 0.2,
        ..Default::default()
    };
    let d = devnet(tmp.path(), faults).await;
    let layers: Vec<Box<dyn DaLayer>> = vec![
        Box::new(celestia(&d, Permission::Write).await),
        Box::new(eigenda(&d)),
    ];
    for layer in &layers {
        for i in 0..4 {
            let b = payload(20_000, i);
            // A dropped connection during a Celestia submission leaves its
            // outcome unknown: the client says so instead of retrying (this
            // fault drops before the node sees the call, so sending again
            // here posts nothing twice).
            let r = loop {
                match layer.submit(Namespace::DEFAULT, vec![b.clone()]).await {
                    Err(e) if e.is_outcome_unknown() => continue,
                    r => break r.unwrap(),
                }
            };
            assert_eq!(
                layer.get(&r[0].locator).await.unwrap(),
                b,
                "{}",
                layer.kind()
            );
        }
    }
    d.stop().await;

    // A layer that always fails over exhausts its retries with a clear error.
    let tmp2 = tempfile::tempdir().unwrap();
    let d = devnet(
        tmp2.path(),
        Faults {
            failover_rate: 1.0,
            ..Default::default()
        },
    )
    .await;
    let e = EigenDaLayer::new(EigenDaOptions {
        url: d.eigenda_url(),
        retry: RetryPolicy {
            attempts: 2,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
        },
        ..Default::default()
    })
    .unwrap();
    let err = e
        .submit(Namespace::DEFAULT, vec![vec![1; 10]])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 2, .. }),
        "{err}"
    );
    d.stop().await;
    // A proxy slower than the client's timeout: retried, then a clear error.
    let tmp3 = tempfile::tempdir().unwrap();
    let d = devnet(
        tmp3.path(),
        Faults {
            latency: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let slow = EigenDaLayer::new(EigenDaOptions {
        url: d.eigenda_url(),
        timeout: Duration::from_millis(50),
        retry: RetryPolicy {
            attempts: 3,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
        },
        ..Default::default()
    })
    .unwrap();
    let err = slow
        .submit(Namespace::DEFAULT, vec![vec![1; 10]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { attempts: 3, .. }), "{err}");
    d.stop().await;
    let dead = EigenDaLayer::new(EigenDaOptions {
        url: "http://127.0.0.1:9".into(),
        retry: RetryPolicy::NONE,
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(
        dead.health().await.unwrap_err(),
        Error::Transport { .. }
    ));
}

/// How many times `blob` is listed in the default namespace at `heights`.
async fn copies(layer: &dyn Follow, heights: std::ops::RangeInclusive<u64>, blob: &[u8]) -> usize {
    let mut found = 0;
    for h in heights {
        found += layer
            .list(Namespace::DEFAULT, h)
            .await
            .unwrap()
            .iter()
            .filter(|(_, data)| data == blob)
            .count();
    }
    found
}

/// The devnet's mempool: a submission evicted without an answer never
/// lands; one whose answer is lost lands anyway; neither is retried by the
/// client, and a submission outlives the client that sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_and_evicted_submissions_are_unknown_outcomes() {
    for (evict, lose) in [(1.0, 0.0), (0.0, 1.0)] {
        let tmp = tempfile::tempdir().unwrap();
        let d = Devnet::start(DevnetConfig {
            data_dir: tmp.path().to_path_buf(),
            rpc_addr: loopback(),
            eigenda_addr: loopback(),
            avail_addr: Some(loopback()),
            block_time: Duration::from_millis(50),
            mempool_ttl_blocks: 3,
            avail_mortality_blocks: 3,
            faults: Faults {
                evict_rate: evict,
                lose_answer_rate: lose,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
        let c = celestia(&d, Permission::Write).await;
        assert_eq!(c.settlement(), modelda_da::Settlement::WithinBlocks(36));
        let a = AvailLayer::new(AvailOptions {
            mortality_blocks: 3,
            ..avail(&d).options().clone()
        })
        .unwrap();
        // The mortal era, and the finalized head's lag behind the best block.
        assert_eq!(a.settlement(), modelda_da::Settlement::WithinBlocks(3 + 5));
        for (layer, ttl) in [(&c as &dyn Follow, 3), (&a as &dyn Follow, 3 + 5)] {
            let kind = layer.kind();
            let b = payload(3000, 7);
            let head = layer.head().await.unwrap();
            let err = layer
                .submit(Namespace::DEFAULT, vec![b.clone()])
                .await
                .unwrap_err();
            assert!(err.is_outcome_unknown(), "{kind}: {err}");
            // Settled: past the head plus the TTL, the blob is there or never.
            let until = layer.head().await.unwrap() + ttl + 1;
            layer.wait_for_height(until).await.unwrap();
            let found = copies(layer, head + 1..=until, &b).await;
            assert_eq!(
                found,
                usize::from(lose > 0.0),
                "{kind}: evict {evict} lose {lose}"
            );
        }
        d.stop().await;
    }
    // A queued submission outlives its client: the node includes it after
    // the client gave up, and evicts what waits past the TTL.
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(DevnetConfig {
        data_dir: tmp.path().to_path_buf(),
        rpc_addr: loopback(),
        eigenda_addr: loopback(),
        block_time: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let impatient = CelestiaLayer::connect(CelestiaOptions {
        url: d.rpc_url(),
        token: Some(d.token(Permission::Write)),
        retry: RetryPolicy::NONE,
        timeout: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .unwrap();
    let b = payload(2000, 8);
    let c = celestia(&d, Permission::Read).await;
    let head = c.head().await.unwrap();
    let err = impatient
        .submit(Namespace::DEFAULT, vec![b.clone()])
        .await
        .unwrap_err();
    assert!(
        err.is_outcome_unknown(),
        "a timeout is an unknown outcome: {err}"
    );
    c.wait_for_height(head + 2).await.unwrap();
    let found = copies(&c, head + 1..=c.head().await.unwrap(), &b).await;
    assert_eq!(found, 1, "the submission landed after its client left");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let d = devnet(tmp.path(), Faults::default()).await;
    let token = d.token(Permission::Write);
    let c = celestia(&d, Permission::Write).await;
    let e = eigenda(&d);
    let r = c
        .submit(Namespace::DEFAULT, vec![payload(4000, 3)])
        .await
        .unwrap();
    let re = e
        .submit(Namespace::DEFAULT, vec![payload(4000, 4)])
        .await
        .unwrap();
    let head = c.head().await.unwrap();
    d.stop().await;

    let d = devnet(tmp.path(), Faults::default()).await;
    assert_eq!(
        d.token(Permission::Write),
        token,
        "tokens survive a restart"
    );
    let c = celestia(&d, Permission::Write).await;
    let e = eigenda(&d);
    assert!(c.head().await.unwrap() >= head);
    assert_eq!(c.get(&r[0].locator).await.unwrap(), payload(4000, 3));
    let p = c.prove(&r[0].locator).await.unwrap();
    c.verify(&r[0].locator, &payload(4000, 3), &p)
        .await
        .unwrap();
    assert_eq!(e.get(&re[0].locator).await.unwrap(), payload(4000, 4));
    d.stop().await;
}

/// `modelda blob head` and `blob list` in one process follow the embedded
/// chain while `modelda publish` writes it from another.
#[test]
fn a_reader_follows_the_local_chain_while_a_publish_writes_it() {
    use super::{modelda_bin, modelda_ok};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_model(
        &root.join("model"),
        &SampleOptions {
            weights_bytes: 64 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    modelda_ok(root, &["keygen", "--out", "key.pem"]);
    // Sign first, so the publish starts posting at once.
    modelda_ok(
        root,
        &["sign", "model", "--key", "key.pem", "--leaf-size", "64KiB"],
    );
    let mut child = std::process::Command::new(modelda_bin())
        .args([
            "--json",
            "publish",
            "model",
            "--key",
            "key.pem",
            "--leaf-size",
            "64KiB",
            "--max-blob-bytes",
            "100000",
            "--jobs",
            "1",
            "--max-in-flight-mib",
            "1",
        ])
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut heads = Vec::new();
    let mut listed_while_writing = 0;
    while child.try_wait().unwrap().is_none() {
        let out = super::modelda(root, &["--json", "blob", "head"]);
        if !out.status.success() {
            // Before the publish created the chain there is nothing to read.
            assert!(heads.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let head = v["head"].as_u64().unwrap();
        if head > 0 {
            let h = head.to_string();
            let l = modelda_ok(root, &["--json", "blob", "list", "--height", &h]);
            let l: serde_json::Value = serde_json::from_str(&l).unwrap();
            assert!(l["blobs"].is_array(), "{l}");
            if child.try_wait().unwrap().is_none() {
                listed_while_writing += 1;
            }
        }
        heads.push(head);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let published: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listed_while_writing >= 3,
        "only {listed_while_writing} reads overlapped the publish"
    );
    assert!(heads.windows(2).all(|w| w[0] <= w[1]), "{heads:?}");
    // Afterwards a reader sees every blob of the publication.
    let v: serde_json::Value =
        serde_json::from_str(&modelda_ok(root, &["--json", "blob", "head"])).unwrap();
    let head = v["head"].as_u64().unwrap();
    let writer = LocalChain::open(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    assert_eq!(writer.head().unwrap(), head);
    let mut blobs = 0;
    for h in 1..=head {
        for ns in [Namespace::DEFAULT, Namespace::RECORDS] {
            let (hs, nss) = (h.to_string(), ns.to_string());
            let l = modelda_ok(
                root,
                &[
                    "--json",
                    "blob",
                    "list",
                    "--height",
                    &hs,
                    "--namespace",
                    &nss,
                ],
            );
            let l: serde_json::Value = serde_json::from_str(&l).unwrap();
            let n = l["blobs"].as_array().unwrap().len();
            assert_eq!(
                n,
                writer.blobs(h, Some(ns)).unwrap().len(),
                "height {h} namespace {ns}"
            );
            blobs += n as u64;
        }
    }
    drop(writer);
    assert_eq!(blobs, published["blobs"].as_u64().unwrap());
    // EigenDA cannot be listed: a clear error.
    let out = super::modelda(root, &["blob", "list", "--height", "1", "--da", "eigenda"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no namespaces or heights to list"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
