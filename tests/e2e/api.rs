//! The API: routes in process (tower `oneshot`) over three published
//! generations (base, finetune, quantized) and an attestation on the
//! embedded chain; inclusion proofs checked by a verifier against its own
//! node, with one lie per part; the limits; and `modelda node` from
//! outside, with Python's `gql` (queries and a subscription), on the
//! embedded chain and over the devnet's Celestia API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use modelda_api::{Api, Limits};
use modelda_da::{ChainLimits, DaLayer, LocalChain, LocalLayer, Namespace};
use modelda_fixtures::sample::{write_model, SampleOptions};
use modelda_indexer::{follow, FollowOptions, Index, Source, Stop};
use modelda_wire::inclusion::InclusionDocument;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use super::{modelda, modelda_bin, modelda_ok, venv_python};

/// Ids of the published models.
pub(super) struct Generations {
    pub base: String,
    pub finetune: String,
    pub quantized: String,
}

pub(super) fn publish(root: &Path, dir: &str, key: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--json",
        "publish",
        dir,
        "--key",
        key,
        "--leaf-size",
        "64KiB",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&modelda_ok(root, &args)).unwrap()
}

/// Base (key A), an attestation of it (key B), a finetune that changes one
/// byte of one tensor, and a quantized model with nothing in common, on
/// the chain `extra` selects.
pub(super) fn three_generations(root: &Path, extra: &[&str]) -> Generations {
    write_model(
        &root.join("base"),
        &SampleOptions {
            weights_bytes: 1 << 20,
            gguf: false,
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    modelda_ok(root, &["keygen", "--out", "a.pem"]);
    modelda_ok(root, &["keygen", "--out", "b.pem"]);
    let base = publish(root, "base", "a.pem", extra)["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut attest = vec!["--resign"];
    attest.extend_from_slice(extra);
    publish(root, "base", "b.pem", &attest);
    super::copy_dir(&root.join("base"), &root.join("ft"));
    for f in ["model.sig", "model.claims.sig"] {
        let _ = std::fs::remove_file(root.join("ft").join(f));
    }
    let shard = root.join("ft/model-00002-of-00002.safetensors");
    let mut b = std::fs::read(&shard).unwrap();
    *b.last_mut().unwrap() ^= 0xff;
    std::fs::write(&shard, b).unwrap();
    let parent = format!("{base}:finetune");
    let mut ft_args = vec!["--parent", parent.as_str()];
    ft_args.extend_from_slice(extra);
    let finetune = publish(root, "ft", "a.pem", &ft_args)["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    write_model(
        &root.join("q"),
        &SampleOptions {
            weights_bytes: 256 << 10,
            shards: 1,
            gguf: true,
            seed: 9,
        },
    )
    .unwrap();
    let parent = format!("{finetune}:quantized");
    let mut q_args = vec!["--parent", parent.as_str()];
    q_args.extend_from_slice(extra);
    let quantized = publish(root, "q", "a.pem", &q_args)["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    Generations {
        base,
        finetune,
        quantized,
    }
}

/// An index of the local chain under `root`, up to its head, and the API
/// over it.
async fn api_over(root: &Path, limits: Limits) -> (Router, Api, Arc<LocalLayer>) {
    let chain = LocalChain::open_reader(&root.join(".modelda/local"), ChainLimits::APP_V5).unwrap();
    let layer = Arc::new(LocalLayer::new(chain));
    let index = Index::open(
        &root.join("api-index"),
        Some(&Source {
            layer: "local".into(),
            namespace: Some(Namespace::RECORDS.to_string()),
        }),
    )
    .unwrap();
    let head = layer.head().await.unwrap();
    let stop = follow(
        &index,
        layer.as_ref(),
        &FollowOptions {
            to_height: Some(head),
            ..FollowOptions::default()
        },
        &tokio_util::sync::CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(stop, Stop::Reached);
    let dyn_layer: Arc<dyn DaLayer> = layer.clone();
    let api = Api::new(Arc::new(index), Some(dyn_layer), limits);
    (modelda_api::router(api.clone()), api, layer)
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let r = router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, body, headers)
}

async fn gql(router: &Router, query: &str, variables: Value) -> Value {
    let body = json!({"query": query, "variables": variables}).to_string();
    let (status, body, _) = call(
        router,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        status == StatusCode::OK || v.get("errors").is_some(),
        "{status}: {v}"
    );
    v
}

fn data(v: &Value) -> &Value {
    assert!(v.get("errors").is_none(), "{v}");
    &v["data"]
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_routes_over_three_generations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let g = tokio::task::block_in_place(|| three_generations(root, &[]));
    let (router, api, _layer) = api_over(root, Limits::default()).await;

    // _meta
    let v = gql(
        &router,
        "{ _meta { height layer publications rejections } }",
        json!({}),
    )
    .await;
    let meta = &data(&v)["_meta"];
    assert_eq!(meta["layer"], "local");
    assert_eq!(meta["publications"], "4", "{meta}");

    // The base: two signers, two publications; files with b3sum roots.
    let v = gql(
        &router,
        "query($id: ID!) { model(id: $id) { id name card { license } signers { key }
           publications { id layer signer { key publicKey } model { id } }
           files { path size root leaves format tensorCount }
           children { edges { node { childId relation proven } } } } }",
        json!({"id": g.base}),
    )
    .await;
    let m = &data(&v)["model"];
    assert_eq!(m["id"], g.base);
    assert_eq!(m["name"], "base");
    assert_eq!(m["signers"].as_array().unwrap().len(), 2);
    assert_eq!(m["publications"].as_array().unwrap().len(), 2);
    assert_eq!(m["publications"][0]["model"]["id"], g.base);
    let files = m["files"].as_array().unwrap();
    let shard = files
        .iter()
        .find(|f| f["path"] == "model-00002-of-00002.safetensors")
        .unwrap();
    let on_disk = std::fs::read(root.join("base/model-00002-of-00002.safetensors")).unwrap();
    assert_eq!(shard["root"], blake3::hash(&on_disk).to_hex().as_str());
    assert_eq!(shard["size"], on_disk.len().to_string());
    let children = m["children"]["edges"].as_array().unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0]["node"]["relation"], "FINETUNE");
    assert_eq!(children[0]["node"]["proven"], true);

    // Lineage with evidence: quantized -> finetune -> base.
    let v = gql(
        &router,
        "query($id: ID!) { lineage(id: $id, direction: ANCESTORS, depth: 3) {
           childId parentId relation status proven
           evidence { childTensors identicalTensors identicalBytes childLeaves sharedLeaves
                      newTensors newTensorCount supported identicalTensorShare } } }",
        json!({"id": g.quantized}),
    )
    .await;
    let edges = data(&v)["lineage"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{edges:?}");
    assert_eq!(edges[0]["relation"], "QUANTIZED");
    assert_eq!(edges[0]["status"], "RESOLVED");
    assert_eq!(
        edges[0]["evidence"]["identicalTensors"], "0",
        "no tensor in common: {edges:?}"
    );
    assert_eq!(edges[1]["childId"], g.finetune);
    assert_eq!(edges[1]["parentId"], g.base);
    let ev = &edges[1]["evidence"];
    let (n, same) = (
        ev["childTensors"].as_str().unwrap().parse::<u64>().unwrap(),
        ev["identicalTensors"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap(),
    );
    assert_eq!(same, n - 1, "exactly one tensor changed: {ev}");
    assert_eq!(ev["newTensorCount"], "1");
    assert!(ev["newTensors"][0]
        .as_str()
        .unwrap()
        .starts_with("model-00002-of-00002.safetensors:"));

    // Filters and paging with opaque cursors.
    let v = gql(
        &router,
        "{ models(relation: FINETUNE) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(data(&v)["models"]["edges"][0]["node"]["id"], g.finetune);
    let v = gql(
        &router,
        "{ models(name: \"Q\") { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(data(&v)["models"]["edges"][0]["node"]["id"], g.quantized);
    let b_hint = m["publications"][1]["signer"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let v = gql(
        &router,
        "query($k: String!) { models(publisher: $k) { edges { node { id } } } }",
        json!({"k": b_hint}),
    )
    .await;
    let only = data(&v)["models"]["edges"].as_array().unwrap();
    assert_eq!(only.len(), 1, "key B attested only the base");
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = gql(
            &router,
            "query($a: String) { models(first: 1, after: $a) { edges { cursor node { id } }
               pageInfo { hasNextPage endCursor } } }",
            json!({"a": after}),
        )
        .await;
        let p = &data(&v)["models"];
        seen.push(p["edges"][0]["node"]["id"].as_str().unwrap().to_string());
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    seen.sort();
    let mut want = vec![g.base.clone(), g.finetune.clone(), g.quantized.clone()];
    want.sort();
    assert_eq!(seen, want);
    let v = gql(
        &router,
        "{ rejections(after: \"bm90LWEtY3Vyc29y\") { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "BAD_INPUT", "a cursor of another list: {v}");

    // Tensors, the models that share one, and chunks.
    let v = gql(
        &router,
        "query($id: ID!) { tensor(model: $id, name: \"model.shard0.layers.0.self_attn.q_proj.weight\") { name dtype shape hash file start end } }",
        json!({"id": g.base}),
    )
    .await;
    let t = data(&v)["tensor"].clone();
    assert_eq!(t["name"], "model.shard0.layers.0.self_attn.q_proj.weight");
    let v = gql(
        &router,
        "query($h: String!) { modelsWithTensor(hash: $h) { edges { node { modelId } } } }",
        json!({"h": t["hash"]}),
    )
    .await;
    let holders: Vec<&str> = data(&v)["modelsWithTensor"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["modelId"].as_str().unwrap())
        .collect();
    assert!(holders.contains(&g.base.as_str()) && holders.contains(&g.finetune.as_str()));
    let root_hex = shard["root"].as_str().unwrap();
    let v = gql(
        &router,
        "query($c: String!) { chunk(commitment: $c, leaf: \"1\") { commitment url places { locator leaf publication } } }",
        json!({"c": root_hex}),
    )
    .await;
    let chunk = data(&v)["chunk"].clone();
    let (status, bytes, headers) = call(
        &router,
        Request::get(chunk["url"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, on_disk[64 << 10..128 << 10], "leaf 1 of the shard");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(
        etag,
        format!("\"{}\"", chunk["commitment"].as_str().unwrap())
    );
    let (status, _, _) = call(
        &router,
        Request::get(chunk["url"].as_str().unwrap())
            .header("if-none-match", &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, part, headers) = call(
        &router,
        Request::get(chunk["url"].as_str().unwrap())
            .header("range", "bytes=10-19")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, on_disk[(64 << 10) + 10..(64 << 10) + 20]);
    assert_eq!(headers["content-range"], "bytes 10-19/65536");
    let (status, body, _) = call(
        &router,
        Request::get(format!("/chunks/{}", "ab".repeat(32)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("NOT_FOUND"));
    let (status, _, _) = call(
        &router,
        Request::get("/chunks/zz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Errors have codes and do not leak internals.
    let v = gql(&router, "{ model(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(code(&v), "BAD_INPUT");
    let v = gql(&router, "{ model(id: \"12\") { id } ", json!({})).await;
    assert_eq!(code(&v), "BAD_QUERY");
    let v = gql(&router, "{ nothing }", json!({})).await;
    assert_eq!(code(&v), "BAD_QUERY");
    let v = gql(
        &router,
        "query($id: ID!) { inclusionProof(model: $id, file: \"config.json\") { start } }",
        json!({"id": g.base}),
    )
    .await;
    assert_eq!(code(&v), "BAD_INPUT", "{v}");

    // Health and metrics.
    let (status, body, _) = call(
        &router,
        Request::get("/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));
    let (_, body, headers) = call(
        &router,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    let text = String::from_utf8(body).unwrap();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        text.contains("modelda_index_publications_total 4"),
        "{text}"
    );
    assert!(
        text.contains("modelda_api_requests_total{operation=\"lineage\"}"),
        "{text}"
    );
    assert!(text
        .contains("modelda_api_request_duration_seconds_bucket{operation=\"chunk\",le=\"+Inf\"}"));
    assert!(text.contains(&format!(
        "modelda_index_height {}",
        api.index().checkpoint().unwrap()
    )));
    // GraphiQL, which loads everything from this origin.
    let (status, body, headers) = call(
        &router,
        Request::get("/graphql").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("graphiql"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let refs = same_origin_references(&page);
    assert!(refs.len() >= 5, "{refs:?}");
    for r in refs {
        let (status, body, _) = call(&router, Request::get(r).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert!(!body.is_empty(), "{r}");
    }
}

/// The `src` and `href` URLs of an HTML page, which must all be paths on
/// the same origin (or the empty `data:,` icon, which is left out).
fn same_origin_references(page: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in [" src=\"", " href=\""] {
        for (at, _) in page.match_indices(attr) {
            let url = page[at + attr.len()..].split('"').next().unwrap();
            if url.starts_with("data:") {
                continue;
            }
            assert!(
                url.starts_with('/') && !url.starts_with("//"),
                "{url} is not on this origin"
            );
            out.push(url);
        }
    }
    out
}

/// The inclusion document of `target` (a GraphQL argument list).
async fn proof(router: &Router, model: &str, file: &str, target: &str) -> InclusionDocument {
    let q = format!(
        "query($id: ID!, $f: String!) {{ inclusionProof(model: $id, file: $f, {target}) {{ start end leaves blobs {{ locator height dataRoot }} document }} }}"
    );
    let v = gql(router, &q, json!({"id": model, "f": file})).await;
    serde_json::from_value(data(&v)["inclusionProof"]["document"].clone()).unwrap()
}

fn flip_b64(s: &str, at: usize) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c[at] = if c[at] == 'A' { 'B' } else { 'A' };
    c.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proofs_verify_and_every_lie_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let g = tokio::task::block_in_place(|| three_generations(root, &[]));
    let (router, _api, layer) = api_over(root, Limits::default()).await;
    let file = "model-00002-of-00002.safetensors";
    let on_disk = std::fs::read(root.join("base").join(file)).unwrap();

    // A leaf, a range across leaves, and a tensor all verify, against the
    // verifier's own chain, and carry the bytes.
    let doc = proof(&router, &g.base, file, "leaf: \"2\"").await;
    let ok = modelda_da::read::verify_inclusion(&doc, layer.as_ref(), None, None)
        .await
        .unwrap();
    assert_eq!(ok.data, on_disk[2 << 16..3 << 16]);
    let doc = proof(
        &router,
        &g.base,
        file,
        "range: { start: \"100000\", end: \"300000\" }",
    )
    .await;
    assert!(doc.leaves.len() >= 3);
    let ok = modelda_da::read::verify_inclusion(
        &doc,
        layer.as_ref(),
        None,
        Some(&on_disk[100_000..300_000]),
    )
    .await
    .unwrap();
    assert_eq!(ok.bytes, 100_000..300_000);
    assert!(
        modelda_da::read::verify_inclusion(
            &doc,
            layer.as_ref(),
            None,
            Some(&on_disk[100_001..300_001])
        )
        .await
        .is_err(),
        "other bytes given with --data"
    );
    let doc = proof(
        &router,
        &g.base,
        file,
        "tensor: \"model.shard1.layers.0.self_attn.q_proj.weight\"",
    )
    .await;
    let ok = modelda_da::read::verify_inclusion(&doc, layer.as_ref(), None, None)
        .await
        .unwrap();
    assert_eq!(
        ok.tensor.as_deref(),
        Some("model.shard1.layers.0.self_attn.q_proj.weight")
    );
    // A pinned key: A's passes, B's is refused.
    let pem_a = modelda_manifest::sign::PrivateKey::from_pem(
        Path::new("a.pem"),
        &std::fs::read_to_string(root.join("a.pem")).unwrap(),
    )
    .unwrap()
    .public();
    let pem_b = modelda_manifest::sign::PrivateKey::from_pem(
        Path::new("b.pem"),
        &std::fs::read_to_string(root.join("b.pem")).unwrap(),
    )
    .unwrap()
    .public();
    assert!(
        modelda_da::read::verify_inclusion(&doc, layer.as_ref(), Some(&pem_a), None)
            .await
            .unwrap()
            .pinned
    );
    assert!(
        modelda_da::read::verify_inclusion(&doc, layer.as_ref(), Some(&pem_b), None)
            .await
            .is_err()
    );

    // One lie per part, each caught, each naming the part.
    let doc = proof(
        &router,
        &g.base,
        file,
        "range: { start: \"100000\", end: \"300000\" }",
    )
    .await;
    let base_json = serde_json::to_value(&doc).unwrap();
    let other = proof(&router, &g.finetune, file, "leaf: \"0\"").await;
    type Lie = (&'static str, &'static str, Box<dyn Fn(&mut Value)>);
    let lies: Vec<Lie> = vec![
        (
            "a leaf's place",
            "leaves",
            Box::new(|d| {
                let o = d["leaves"][1]["offset"].as_u64().unwrap();
                d["leaves"][1]["offset"] = json!(o + 1);
            }),
        ),
        (
            "a sibling",
            "merkle",
            Box::new(|d| {
                let m = d["merkle"].as_str().unwrap().to_string();
                d["merkle"] = json!(flip_b64(&m, m.len() - 10));
            }),
        ),
        ("the manifest", "claims", {
            let c = other.claims.clone();
            Box::new(move |d| d["claims"] = json!(c))
        }),
        (
            "the signature",
            "claims",
            Box::new(|d| {
                let c = d["claims"].as_str().unwrap().to_string();
                let at = c.find("\"sig\":\"").unwrap() + 20;
                d["claims"] = json!(flip_b64(&c, at));
            }),
        ),
        (
            "a share",
            "blob inclusion",
            Box::new(|d| {
                let s = &mut d["blobs"][0]["evidence"]["runs"][0]["square"]["data"][0];
                *s = json!(flip_b64(s.as_str().unwrap(), 200));
            }),
        ),
        (
            "an NMT node",
            "blob inclusion",
            Box::new(|d| {
                let p = &mut d["blobs"][0]["evidence"]["runs"][0]["square"]["share_proofs"][0];
                if let Some(n) = p["nodes"].as_array_mut().and_then(|n| n.first_mut()) {
                    *n = json!(flip_b64(n.as_str().unwrap(), 50));
                } else {
                    p["start"] = json!(p["start"].as_u64().unwrap_or(0) + 1);
                }
            }),
        ),
        (
            "a row's proof to the data root",
            "blob inclusion",
            Box::new(|d| {
                let a = &mut d["blobs"][0]["evidence"]["runs"][0]["square"]["row_proof"]["proofs"]
                    [0]["aunts"][0];
                *a = json!(flip_b64(a.as_str().unwrap(), 10));
            }),
        ),
        (
            "a subtree root",
            "blob inclusion",
            Box::new(|d| {
                let r = &mut d["blobs"][0]["evidence"]["subtree_roots"];
                *r = json!(flip_b64(r.as_str().unwrap(), 100));
            }),
        ),
        (
            "a run's place in its blob",
            "blob inclusion",
            Box::new(|d| {
                let f = &mut d["blobs"][0]["evidence"]["runs"][0]["first"];
                *f = json!(f.as_u64().unwrap() + 1);
            }),
        ),
        (
            "the header",
            "header",
            Box::new(|d| {
                d["blobs"][0]["data_root"] = json!("00".repeat(32));
            }),
        ),
        (
            "the range",
            "tensor",
            Box::new(|d| {
                d["tensor"] = json!("model.shard0.layers.0.self_attn.q_proj.weight");
            }),
        ),
    ];
    for (what, part, lie) in lies {
        let mut d = base_json.clone();
        lie(&mut d);
        let doc: InclusionDocument = serde_json::from_value(d).unwrap();
        let e = modelda_da::read::verify_inclusion(&doc, layer.as_ref(), None, None)
            .await
            .expect_err(what);
        let text = e.to_string();
        assert!(
            text.contains(&format!("inclusion proof: {part}")),
            "{what}: {text}"
        );
    }

    // The CLI verifies a saved answer against its own chain.
    let v = gql(
        &router,
        "query($id: ID!, $f: String!) { inclusionProof(model: $id, file: $f, tensor: \"model.shard1.layers.0.self_attn.q_proj.weight\") { document } }",
        json!({"id": g.base, "f": file}),
    )
    .await;
    std::fs::write(root.join("answer.json"), v.to_string()).unwrap();
    let out = tokio::task::block_in_place(|| {
        modelda_ok(
            root,
            &[
                "--json",
                "verify-proof",
                "--inclusion",
                "answer.json",
                "--key",
                "a.pem.pub",
                "--out",
                "t.bin",
            ],
        )
    });
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["verified"]["pinned"], true, "{out}");
    assert_eq!(
        out["verified"]["tensor"],
        "model.shard1.layers.0.self_attn.q_proj.weight"
    );
    let mut lie = v.clone();
    lie["data"]["inclusionProof"]["document"]["blobs"][0]["data_root"] = json!("11".repeat(32));
    std::fs::write(root.join("lie.json"), lie.to_string()).unwrap();
    let r =
        tokio::task::block_in_place(|| modelda(root, &["verify-proof", "--inclusion", "lie.json"]));
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("your node says"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_refused_with_their_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    tokio::task::block_in_place(|| {
        modelda_ok(root, &["keygen", "--out", "a.pem"]);
        write_model(
            &root.join("m"),
            &SampleOptions {
                weights_bytes: 64 << 10,
                gguf: false,
                ..Default::default()
            },
        )
        .unwrap();
        publish(root, "m", "a.pem", &[]);
    });
    let (router, _api, _) = api_over(root, Limits::default()).await;
    // Too deep.
    let mut q = String::from("id");
    for _ in 0..12 {
        q = format!("parents {{ parent {{ {q} }} }}");
    }
    let v = gql(
        &router,
        &format!("{{ models {{ edges {{ node {{ {q} }} }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "QUERY_TOO_DEEP", "{v}");
    // A huge page.
    let v = gql(
        &router,
        "{ models(first: 1000) { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "PAGE_TOO_LARGE");
    // Too complex: pages of pages.
    let v = gql(
        &router,
        "{ models(first: 100) { edges { node { files { tensors(first: 100) { edges { node { name dtype hash shape } } } } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "QUERY_TOO_COMPLEX", "{v}");
    // Too many aliases.
    let aliases: Vec<String> = (0..40)
        .map(|i| format!("a{i}: _meta {{ height }}"))
        .collect();
    let v = gql(&router, &format!("{{ {} }}", aliases.join(" ")), json!({})).await;
    assert_eq!(code(&v), "TOO_MANY_ALIASES");
    // An oversized body.
    let big =
        json!({"query": format!("{{ _meta {{ height }} }} #{}", "x".repeat(100_000))}).to_string();
    let (status, body, _) = call(
        &router,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code(&v), "BODY_TOO_LARGE");
    // Not a GraphQL request at all.
    let (status, body, _) = call(
        &router,
        Request::post("/graphql")
            .body(Body::from("not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&serde_json::from_slice(&body).unwrap()), "BAD_QUERY");
    // A timeout.
    let (slow, _, _) = api_over_again(
        root,
        Limits {
            timeout: Duration::ZERO,
            ..Limits::default()
        },
    )
    .await;
    let v = gql(
        &slow,
        "{ models { edges { node { id files { path } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "TIMEOUT", "{v}");
}

/// The API over the index [`api_over`] built, with other limits.
async fn api_over_again(root: &Path, limits: Limits) -> (Router, Api, ()) {
    let index = Index::open_reader(&root.join("api-index")).unwrap();
    let api = Api::new(Arc::new(index), None, limits);
    (modelda_api::router(api.clone()), api, ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_100_models_costs_a_bounded_number_of_batched_reads() {
    use modelda_fixtures::records::{self, FileSpec};
    use modelda_manifest::sign::PrivateKey;
    let tmp = tempfile::tempdir().unwrap();
    let chain = LocalChain::open(&tmp.path().join("chain"), ChainLimits::APP_V5).unwrap();
    let layer = LocalLayer::new(chain);
    let keys = [PrivateKey::generate(), PrivateKey::generate()];
    let mut prev: Option<modelda_manifest::CommittedModel> = None;
    for i in 0..120u64 {
        let lineage = prev
            .as_ref()
            .map(|p| {
                vec![modelda_manifest::LineageClaim {
                    parent: p.id,
                    relation: modelda_manifest::Relation::Finetune,
                }]
            })
            .unwrap_or_default();
        let m = records::model(
            i,
            &[FileSpec {
                path: "w.safetensors".into(),
                leaves: 4,
                tensors: 2,
            }],
            modelda_merkle::LeafSize::from_bytes(16 << 10).unwrap(),
            lineage,
        );
        let page = records::root_page(
            &keys[(i % 2) as usize],
            &m,
            modelda_wire::Geometry { data: 4, parity: 2 },
            1 << 20,
        );
        layer.submit(Namespace::RECORDS, vec![page]).await.unwrap();
        prev = Some(m);
    }
    let index = Index::open(&tmp.path().join("index"), None).unwrap();
    let head = layer.head().await.unwrap();
    follow(
        &index,
        &layer,
        &FollowOptions {
            to_height: Some(head),
            ..FollowOptions::default()
        },
        &tokio_util::sync::CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    let api = Api::new(Arc::new(index), None, Limits::default());
    let router = modelda_api::router(api.clone());
    let q = "{ models(first: 100) { edges { node { id publications { id signer { key } }
               signers { key } parents { relation parent { id name } } firstPublication { id } } } } }";
    // Batches per kind and nesting level, not per model: a page of 100
    // costs about what a page of 5 does (timing can split a batch in two).
    let mut batches = Vec::new();
    for first in [5, 100] {
        let before = api.loader_batches();
        let v = gql(
            &router,
            &q.replace("first: 100", &format!("first: {first}")),
            json!({}),
        )
        .await;
        let edges = data(&v)["models"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first);
        let with_parent = edges
            .iter()
            .filter(|e| e["node"]["parents"][0]["parent"]["id"].is_string())
            .count();
        assert!(with_parent >= first - 1);
        batches.push(api.loader_batches() - before);
    }
    eprintln!("batched reads: {batches:?} for pages of 5 and 100 models");
    // Unbatched, the page of 100 would take about 700 reads (7 look-ups
    // per model); timing on a loaded machine can split a batch or two.
    assert!(batches[1] <= 64, "{batches:?}");
}

/// `modelda node` in its own process; returns it and its address.
pub(super) fn spawn_node(root: &Path, extra: &[&str]) -> (Child, String) {
    spawn_server(root, "node", extra)
}

/// `modelda node` or `modelda serve` on `node-index`.
pub(super) fn spawn_server(root: &Path, command: &str, extra: &[&str]) -> (Child, String) {
    spawn_server_with(root, command, extra, &[])
}

/// [`spawn_server`] with environment variables set for the server.
pub(super) fn spawn_server_with(
    root: &Path,
    command: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Child, String) {
    let mut args = vec![
        "--json",
        command,
        "--listen",
        "127.0.0.1:0",
        "--index-dir",
        "node-index",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(modelda_bin())
        .args(&args)
        .envs(envs.iter().copied())
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("node.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["event"] == "listening" {
                    let _ = tx.send(v["addr"].as_str().unwrap().to_string());
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| {
            panic!(
                "node did not listen: {}",
                std::fs::read_to_string(root.join("node.err")).unwrap_or_default()
            )
        });
    (child, addr)
}

/// A GraphQL request body sent with curl (a client apart from the
/// server's crates), and its JSON answer.
pub(super) fn post_graphql(addr: &str, body: &str) -> Value {
    let out = Command::new("curl")
        .args([
            "-s",
            "-m",
            "60",
            "-H",
            "content-type: application/json",
            "-d",
            body,
        ])
        .arg(format!("http://{addr}/graphql"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn http_get(url: &str) -> String {
    let out = Command::new("curl").args(["-sf", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(super) fn wait_indexed(addr: &str, n: usize) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if http_get(&format!("http://{addr}/metrics"))
            .contains(&format!("modelda_index_publications_total {n}"))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("node did not index {n} publications");
}

pub(super) fn stop(child: Child) {
    let status = super::terminate(child).status;
    assert!(status.success(), "node exited with {status}");
}

/// The gql client's queries against a node, and a subscription that hears
/// of a publication made while it listens.
fn python_client(py: &PathBuf, root: &Path, addr: &str, g: &Generations, extra: &[&str]) {
    let script = super::repo().join("fixtures/python/api_client.py");
    let url = format!("http://{addr}/graphql");
    let out = Command::new(py)
        .args([
            script.to_str().unwrap(),
            "query",
            &url,
            &g.base,
            &g.finetune,
            &g.quantized,
            "proof.json",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["base"]["id"], g.base);
    assert_eq!(found["base"]["signers"].as_array().unwrap().len(), 2);
    assert_eq!(found["models"].as_array().unwrap().len(), 3, "{found}");
    let lineage = found["lineage"].as_array().unwrap();
    assert_eq!(lineage.len(), 2);
    assert_eq!(lineage[1]["relation"], "FINETUNE");
    assert_eq!(lineage[1]["proven"], true);
    assert_eq!(found["descendants"].as_array().unwrap().len(), 2);
    assert!(found["with_tensor"]["edges"].as_array().unwrap().len() >= 2);
    assert_eq!(found["page_error"], "PAGE_TOO_LARGE");
    // The proof the client saved verifies against this side's own node.
    let mut args = vec!["--json", "verify-proof", "--inclusion", "proof.json"];
    args.extend_from_slice(extra);
    let v: Value = serde_json::from_str(&modelda_ok(root, &args)).unwrap();
    assert_eq!(v["ok"], true);

    // The subscription.
    let mut late = String::new();
    let event = subscribe_while(py, root, addr, "publications", || {
        write_model(
            &root.join("late"),
            &SampleOptions {
                weights_bytes: 32 << 10,
                gguf: false,
                seed: 42,
                ..Default::default()
            },
        )
        .unwrap();
        late = publish(root, "late", "a.pem", extra)["model_id"]
            .as_str()
            .unwrap()
            .to_string();
    });
    assert_eq!(event["modelId"], late);
}

/// Subscribes to `field` (`publications` or `advisories`) with Python's
/// `gql` over graphql-transport-ws, runs `act` once subscribed, and
/// returns the first event.
pub(super) fn subscribe_while(
    py: &Path,
    root: &Path,
    addr: &str,
    field: &str,
    act: impl FnOnce(),
) -> Value {
    let script = super::repo().join("fixtures/python/api_client.py");
    let mut sub = Command::new(py)
        .arg(script)
        .args(["subscribe", &format!("http://{addr}/graphql"), field])
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)).unwrap(),
        "subscribed"
    );
    std::thread::sleep(Duration::from_secs(2));
    act();
    let Ok(event) = rx.recv_timeout(Duration::from_secs(120)) else {
        let _ = sub.kill();
        let out = sub.wait_with_output().unwrap();
        panic!(
            "no {field} event arrived: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert!(sub.wait().unwrap().success());
    serde_json::from_str(&event).unwrap()
}

/// Waits until the node at `addr` has indexed the head of the layer
/// `root`'s commands use.
pub(super) fn wait_head(root: &Path, addr: &str) {
    let head: Value = serde_json::from_str(&modelda_ok(root, &["--json", "blob", "head"])).unwrap();
    let head = head["head"].as_u64().unwrap();
    let t = Instant::now();
    loop {
        let v = post_graphql(addr, r#"{"query":"{ _meta { height } }"}"#);
        let h = v["data"]["_meta"]["height"]
            .as_str()
            .and_then(|h| h.parse::<u64>().ok())
            .unwrap_or(0);
        if h >= head {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the node did not reach height {head}: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn node_serves_gql_clients_on_the_local_chain_and_restarts_on_its_index() {
    let Some(py) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let g = three_generations(root, &[]);
    let (node, addr) = spawn_node(root, &[]);
    wait_indexed(&addr, 4);
    // The same query, asked before and after the index moves: a cached
    // answer is never served for another state of the index.
    let meta = || post_graphql(&addr, r#"{"query":"{ _meta { publications } }"}"#);
    assert_eq!(meta()["data"]["_meta"]["publications"], "4");
    assert_eq!(meta()["data"]["_meta"]["publications"], "4");
    python_client(&py, root, &addr, &g, &[]);
    wait_indexed(&addr, 5);
    assert_eq!(meta()["data"]["_meta"]["publications"], "5");

    // Graceful shutdown under load, then a restart on the same index.
    let load: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("http://{addr}/graphql");
            let q = json!({"query": format!("{{ model(id: \"{}\") {{ id files {{ path }} }} }}", g.base)}).to_string();
            std::thread::spawn(move || {
                let mut ok = 0;
                for _ in 0..200 {
                    let out = Command::new("curl")
                        .args(["-s", "-m", "5", "-H", "content-type: application/json", "-d", &q, &url])
                        .output()
                        .unwrap();
                    if String::from_utf8_lossy(&out.stdout).contains("\"files\"") {
                        ok += 1;
                    } else {
                        break;
                    }
                }
                ok
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    stop(node);
    let served: usize = load.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(served > 0, "requests were served before the stop");
    let (node, addr) = spawn_node(root, &[]);
    wait_indexed(&addr, 5);
    let meta = http_get(&format!("http://{addr}/health"));
    assert!(meta.contains("\"ok\""), "{meta}");

    // A prover finds the record through the API; every leaf is verified.
    let url = format!("http://{addr}");
    modelda_ok(
        root,
        &[
            "fetch",
            &g.finetune,
            "--index",
            &url,
            "--file",
            "model-00002-of-00002.safetensors",
            "-o",
            "fetched",
            "--key",
            "a.pem.pub",
        ],
    );
    assert_eq!(
        std::fs::read(root.join("fetched/model-00002-of-00002.safetensors")).unwrap(),
        std::fs::read(root.join("ft/model-00002-of-00002.safetensors")).unwrap()
    );
    let r = modelda(root, &["fetch", &"cd".repeat(32), "--index", &url]);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("is it indexed?"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    stop(node);

    // `modelda serve`: the same index, read-only.
    let (server, addr) = spawn_server(root, "serve", &[]);
    wait_indexed(&addr, 5);
    let v = post_graphql(
        &addr,
        r#"{"query":"mutation { registerPublication(locator: \"eigenda:0x00\") { repost } }"}"#,
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_INPUT", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{v}"
    );
    stop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_serves_gql_clients_over_the_devnet_celestia_api() {
    use modelda_devnet::jwt::Permission;
    use modelda_devnet::{Devnet, DevnetConfig};
    let Some(py) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let devnet = Devnet::start(DevnetConfig {
        data_dir: root.join("devnet"),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        eigenda_addr: "127.0.0.1:0".parse().unwrap(),
        block_time: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .expect("devnet starts");
    let url = devnet.rpc_url();
    let eigenda = devnet.eigenda_url();
    let write = devnet.token(Permission::Write);
    let read = devnet.token(Permission::Read);
    tokio::task::spawn_blocking(move || {
        let w: Vec<&str> = vec![
            "--da",
            "celestia",
            "--celestia-url",
            &url,
            "--celestia-token",
            &write,
        ];
        let g = three_generations(&root, &w);
        let r: Vec<&str> = vec![
            "--da",
            "celestia",
            "--celestia-url",
            &url,
            "--celestia-token",
            &read,
        ];
        let e = ["--eigenda-url", eigenda.as_str()];
        let mut node_args = r.clone();
        node_args.extend_from_slice(&e);
        let (node, addr) = spawn_node(&root, &node_args);
        wait_indexed(&addr, 4);
        python_client(&py, &root, &addr, &g, &w);

        // A record on EigenDA, registered through the API's mutation.
        write_model(&root.join("e"), &SampleOptions { weights_bytes: 32 << 10, gguf: false, seed: 5, ..Default::default() }).unwrap();
        let mut pe = vec!["--da", "eigenda"];
        pe.extend_from_slice(&e);
        let out = publish(&root, "e", "a.pem", &pe);
        let record = out["record"].as_str().unwrap();
        let m = format!(
            r#"{{"query":"mutation($l: String!) {{ registerPublication(locator: $l) {{ repost publication {{ id layer modelId }} }} }}","variables":{{"l":"{record}"}}}}"#
        );
        let post = |body: &str| post_graphql(&addr, body);
        let v = post(&m);
        let p = &v["data"]["registerPublication"]["publication"];
        assert_eq!(p["layer"], "eigenda", "{v}");
        assert_eq!(p["modelId"], out["model_id"]);
        assert!(p["id"].as_str().unwrap().starts_with("0."), "registered ids have height 0");
        let again = post(&m);
        assert_eq!(again["data"]["registerPublication"]["publication"]["id"], p["id"], "idempotent: {again}");
        let junk = post(r#"{"query":"mutation { registerPublication(locator: \"eigenda:0x0102\") { repost } }"}"#);
        // The proxy (and the devnet, which follows it) answers 500 for an
        // unknown cert, so the server cannot tell it from an outage.
        assert_eq!(junk["errors"][0]["extensions"]["code"], "LAYER_UNAVAILABLE", "{junk}");
        assert!(junk["errors"][0]["message"].as_str().unwrap().contains("check the locator"));
        // An inclusion proof of the EigenDA model: the cert, checked by
        // re-reading the payload through this side's own proxy.
        let q = format!(
            r#"{{"query":"query($id: ID!) {{ inclusionProof(model: $id, file: \"model-00001-of-00002.safetensors\", leaf: \"0\") {{ blobs {{ locator height }} document }} }}","variables":{{"id":"{}"}}}}"#,
            out["model_id"].as_str().unwrap()
        );
        let v = post(&q);
        let blob = &v["data"]["inclusionProof"]["blobs"][0];
        assert!(blob["locator"].as_str().unwrap().starts_with("eigenda:"), "{v}");
        assert!(blob["height"].is_null(), "{v}");
        std::fs::write(root.join("eproof.json"), v.to_string()).unwrap();
        let mut args = vec!["--json", "verify-proof", "--inclusion", "eproof.json", "--da", "eigenda"];
        args.extend_from_slice(&e);
        let r: Value = serde_json::from_str(&modelda_ok(&root, &args)).unwrap();
        assert_eq!(r["ok"], true, "{r}");
        stop(node);
    })
    .await
    .unwrap();
    devnet.stop().await;
}
