//! The devnet's Avail APIs over the embedded chain: the light client's HTTP
//! API v2 in app mode (`POST /v2/submit`, `GET /v2/blocks/{n}`,
//! `/header`, `/data`, `/v2/status`, `/v2/version`) and the full node's
//! JSON-RPC methods a verifier needs (`chain_getBlockHash`,
//! `chain_getHeader`, `chain_getFinalizedHead`, `kate_queryDataProof`,
//! `kate_blockLength`) at `POST /` of the same address.
//!
//! An app id is a chain namespace (`"avail\0"` and the id, big-endian); a
//! block's submissions are its blobs in those namespaces, in block order,
//! each at extrinsic index 1 + its position (index 0 is the timestamp
//! inherent, as on Avail). The data root is Avail's
//! ([`modelda_da::avail::proof`]). Blocks finalize `finality_blocks` after
//! they are made; the light client answers 404 for a block until then, as
//! the real one does until it has sampled it. Errors are plain text, as the
//! light client writes them; the RPC's are JSON-RPC errors.
//!
//! A submission stays valid for `mortality_blocks` (the light client's
//! mortal era) and is dropped, never included, after that. A lost answer
//! (the `lose_answer_rate` and `evict_rate` faults) breaks the connection
//! in the middle of the answer.
//!
//! Devnet simplifications, documented: the header hash is Keccak-256 of
//! the height and the data root (not BLAKE2 of a SCALE header), there are
//! no KZG commitments (`commitments` is empty), and a block's extrinsics
//! are SCALE-shaped (length prefix, signed v4, `DataAvailability`
//! `submit_data` call with the data) but signed by no real key: the same
//! bytes in the light client's `extrinsic` field and the node's
//! `chain_getBlock`, which is what a follower matches.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use modelda_da::avail::proof::{self, keccak, H256};
use modelda_da::Namespace;
use serde_json::{json, Value};

use crate::faults::{before_request, Faults, Injected, DROP_CONNECTION};
use crate::Node;

/// Largest `submit_data` payload: the runtime's `MaxAppDataLength`.
pub const MAX_APP_DATA: usize = 1 << 20;

/// App ids the devnet knows (as Avail's dev genesis: 0..9 registered, and
/// those the devnet was told about).
pub const NEXT_APP_ID: u32 = 10;

/// The namespace that holds app `id`'s submissions on the devnet chain.
pub fn app_namespace(id: u32) -> Namespace {
    let mut raw = *b"avail\0\0\0\0\0";
    raw[6..].copy_from_slice(&id.to_be_bytes());
    Namespace::new_v0(&raw).expect("a 10-byte id is a valid namespace")
}

fn app_of(ns: &Namespace) -> Option<u32> {
    let b = ns.as_bytes();
    let id = &b[b.len() - 10..];
    (id[..6] == *b"avail\0").then(|| u32::from_be_bytes([id[6], id[7], id[8], id[9]]))
}

#[derive(Clone)]
pub(crate) struct AvailState {
    pub node: Arc<Node>,
    /// The light client's app id.
    pub app_id: u32,
    /// Blocks between a block and its finality.
    pub finality_blocks: u64,
    /// Blocks a submission stays valid.
    pub mortality_blocks: u64,
    /// Rows and columns of the data matrix.
    pub matrix: (u32, u32),
    /// Milliseconds between blocks (the timestamps blocks carry).
    pub block_ms: u64,
    pub faults: Arc<Faults>,
    /// Heights of the block hashes handed out (hashes are a function of
    /// the block, so this is only a cache).
    pub hashes: Arc<std::sync::Mutex<std::collections::HashMap<H256, u64>>>,
}

/// One block as Avail sees it.
struct Block {
    /// (app id, data) of each submission, in order.
    subs: Vec<(u32, Vec<u8>)>,
    data_root: H256,
    hash: H256,
    parent: H256,
}

fn text(status: StatusCode, msg: &str) -> Response {
    (status, msg.to_string()).into_response()
}

impl AvailState {
    fn finalized(&self) -> u64 {
        self.node.head().saturating_sub(self.finality_blocks)
    }

    /// The submissions of block `n`: (app id, data), in block order.
    async fn subs(&self, n: u64) -> Result<Vec<(u32, Vec<u8>)>, Response> {
        let chain = self.node.chain.clone();
        let r = tokio::task::spawn_blocking(move || -> modelda_da::Result<Vec<(u32, Vec<u8>)>> {
            let mut blobs = chain.blobs(n, None)?;
            blobs.sort_by_key(|b| b.index);
            Ok(blobs
                .into_iter()
                .filter_map(|b| app_of(&b.namespace).map(|a| (a, b.data)))
                .filter(|(_, d)| !d.is_empty())
                .collect())
        })
        .await;
        match r {
            Ok(Ok(s)) => Ok(s),
            _ => Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            )),
        }
    }

    async fn block(&self, n: u64) -> Result<Block, Response> {
        let root = |subs: &[(u32, Vec<u8>)]| {
            proof::data_root(
                &proof::blob_root(subs.iter().map(|(_, d)| d.as_slice())),
                &H256::default(),
            )
        };
        let subs = self.subs(n).await?;
        let data_root = root(&subs);
        let parent = if n <= 1 {
            H256::default()
        } else {
            header_hash(n - 1, &root(&self.subs(n - 1).await?))
        };
        let hash = header_hash(n, &data_root);
        self.hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, n);
        Ok(Block {
            hash,
            subs,
            data_root,
            parent,
        })
    }

    async fn faults(&self) -> Option<Response> {
        // Both turned away before the light client takes the request (as a
        // proxy in front of it would): retryable, even for a submission.
        before_request(&self.faults).await.map(|i| {
            let msg = match i {
                Injected::Failover => "injected failover: retry later",
                Injected::Error => "injected: unavailable, retry later",
            };
            text(StatusCode::SERVICE_UNAVAILABLE, msg)
        })
    }
}

/// The node's JSON of block `n`'s header (`chain_getHeader`).
fn node_header(n: u64, b: &Block) -> Value {
    json!({
        "parentHash": b.parent.to_string(),
        "number": format!("0x{n:x}"),
        "stateRoot": H256::default().to_string(),
        "extrinsicsRoot": H256::default().to_string(),
        "digest": {"logs": []},
        "extension": {"V3": {
            "appLookup": lookup(b),
            "commitment": {"rows": 0, "cols": 0, "commitment": [], "dataRoot": b.data_root.to_string()},
        }},
    })
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// SCALE's compact encoding of `n`.
fn compact(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0x3f => out.push((n as u8) << 2),
        0x40..=0x3fff => out.extend_from_slice(&(((n as u16) << 2) | 1).to_le_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(((n as u32) << 2) | 2).to_le_bytes()),
        _ => {
            let bytes = n.to_le_bytes();
            let len = 8 - (n.leading_zeros() / 8) as usize;
            out.push((((len - 4) as u8) << 2) | 3);
            out.extend_from_slice(&bytes[..len]);
        }
    }
}

/// `body` with its compact length prefix, as a block holds an extrinsic.
fn prefixed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    compact(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// Block `n`'s timestamp inherent (unsigned v4, `Timestamp::set`): a
/// devnet block is `block_ms` after the one before it.
fn timestamp_inherent(n: u64, block_ms: u64) -> Vec<u8> {
    let mut b = vec![0x04, 0x03, 0x00];
    compact(&mut b, 1_700_000_000_000 + n.saturating_mul(block_ms));
    prefixed(&b)
}

/// The devnet's extrinsic of the submission at `pos` in block `n`: signed
/// v4, a signer and signature that are not a real key's (see the module
/// docs), the app id in the signed extensions, and the
/// `DataAvailability::submit_data` call (pallet 29, call 1) with `data`.
fn extrinsic(n: u64, pos: usize, app_id: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(data.len() + 120);
    b.push(0x84);
    b.push(0x00);
    b.extend_from_slice(&keccak(b"modelda-devnet avail signer").0);
    b.push(0x01);
    let mut seed = Vec::with_capacity(24);
    seed.extend_from_slice(&n.to_be_bytes());
    seed.extend_from_slice(&(pos as u64).to_be_bytes());
    b.extend_from_slice(&keccak(&seed).0);
    seed.push(1);
    b.extend_from_slice(&keccak(&seed).0);
    // Mortal era, nonce, tip, app id.
    b.extend_from_slice(&[0x45, 0x00]);
    compact(&mut b, n * 1000 + pos as u64);
    compact(&mut b, 0);
    compact(&mut b, u64::from(app_id));
    b.extend_from_slice(&[29, 1]);
    compact(&mut b, data.len() as u64);
    b.extend_from_slice(data);
    prefixed(&b)
}

/// An answer whose connection breaks after the status line: the client
/// cannot tell what happened (a lost answer).
fn broken_answer() -> Response {
    struct Broken;
    impl http_body::Body for Broken {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::other(
                "injected fault: answer lost",
            ))))
        }
    }
    Response::new(axum::body::Body::new(Broken))
}

/// The devnet's header hash of block `n` (see the module docs).
fn header_hash(n: u64, data_root: &H256) -> H256 {
    let mut b = Vec::with_capacity(56);
    b.extend_from_slice(b"modelda-avail:");
    b.extend_from_slice(&n.to_be_bytes());
    b.extend_from_slice(&data_root.0);
    keccak(&b)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum Transaction {
    Data(String),
    Extrinsic(serde::de::IgnoredAny),
}

async fn submit(
    State(s): State<AvailState>,
    body: Result<Json<Transaction>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(r) = s.faults().await {
        return r;
    }
    let data = match body {
        Ok(Json(Transaction::Data(b64))) => match B64.decode(b64.as_bytes()) {
            Ok(d) => d,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("Request body deserialize error: {e}"),
                )
            }
        },
        Ok(Json(Transaction::Extrinsic(_))) => {
            return text(
                StatusCode::BAD_REQUEST,
                "the modelda devnet takes data, not signed extrinsics",
            )
        }
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Request body deserialize error: {}", e.body_text()),
            )
        }
    };
    // The node refuses these; the light client reports every node error
    // as a bare 500.
    // The pool also refuses a submission that would fill the matrix.
    let cells = u64::from(s.matrix.0) * u64::from(s.matrix.1);
    if data.is_empty()
        || data.len() > MAX_APP_DATA
        || modelda_da::avail::Runtime::scalars(data.len() as u64) >= cells
        || s.app_id >= NEXT_APP_ID
    {
        tracing::info!(
            len = data.len(),
            app_id = s.app_id,
            "avail: submission refused by the runtime"
        );
        return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let leaf = proof::leaf_of(&data);
    let height = match s
        .node
        .submit_within(vec![(app_namespace(s.app_id), data)], s.mortality_blocks)
        .await
    {
        Ok(h) => h,
        Err(e) if e == DROP_CONNECTION => return broken_answer(),
        Err(e) => {
            tracing::info!(error = %e, "avail: submission failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let block = match s.block(height).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(pos) = block
        .subs
        .iter()
        .position(|(a, d)| *a == s.app_id && proof::leaf_of(d) == leaf)
    else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let mut tx = Vec::with_capacity(40);
    tx.extend_from_slice(&block.hash.0);
    tx.extend_from_slice(&(pos as u64).to_be_bytes());
    Json(json!({
        "block_number": height,
        "block_hash": block.hash.to_string(),
        "hash": keccak(&tx).to_string(),
        "index": pos + 1,
    }))
    .into_response()
}

async fn status_of(s: &AvailState, n: u64) -> Result<(Block, bool), Response> {
    // Not final yet, or past the storage window: the light client holds
    // no such block (it dropped pruned blocks, headers and data alike).
    if n == 0 || n > s.finalized() || s.node.pruned(n) {
        return Err(text(StatusCode::NOT_FOUND, "Not Found"));
    }
    let block = s.block(n).await?;
    let has_data = !block.subs.is_empty();
    Ok((block, has_data))
}

async fn block_status(State(s): State<AvailState>, Path(n): Path<u64>) -> Response {
    if let Some(r) = s.faults().await {
        return r;
    }
    match status_of(&s, n).await {
        Ok((_, true)) => {
            Json(json!({"status": "finished", "confidence": 99.90234375})).into_response()
        }
        Ok((_, false)) => Json(json!({"status": "incomplete", "confidence": null})).into_response(),
        Err(r) => r,
    }
}

fn lookup(block: &Block) -> Value {
    // Chunks of 31 bytes per submission, apps in order of first appearance.
    let mut index: Vec<Value> = Vec::new();
    let mut start = 0u64;
    let mut last = None;
    for (a, d) in &block.subs {
        if last != Some(*a) && *a != 0 {
            index.push(json!({"app_id": a, "start": start}));
        }
        last = Some(*a);
        start += (d.len() as u64).div_ceil(31);
    }
    json!({"size": start, "index": index})
}

async fn block_header(State(s): State<AvailState>, Path(n): Path<u64>) -> Response {
    if let Some(r) = s.faults().await {
        return r;
    }
    let (block, _) = match status_of(&s, n).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    Json(json!({
        "hash": block.hash.to_string(),
        "parent_hash": block.parent.to_string(),
        "number": n,
        "state_root": H256::default().to_string(),
        "extrinsics_root": H256::default().to_string(),
        "extension": {
            "rows": 0, "cols": 0,
            "data_root": block.data_root.to_string(),
            "commitments": [],
            "app_lookup": lookup(&block),
        },
        "digest": {"logs": []},
        "received_at": 0,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct Fields {
    fields: Option<String>,
}

async fn block_data(
    State(s): State<AvailState>,
    Path(n): Path<u64>,
    Query(f): Query<Fields>,
) -> Response {
    if let Some(r) = s.faults().await {
        return r;
    }
    // Both when `fields` is absent, as the light client's code does.
    let fields = f.fields.unwrap_or_else(|| "data,extrinsic".into());
    let (mut want_data, mut want_ext) = (false, false);
    for x in fields.split(',') {
        match x {
            "data" => want_data = true,
            "extrinsic" => want_ext = true,
            _ => return text(StatusCode::BAD_REQUEST, "Invalid query string"),
        }
    }
    let (block, _) = match status_of(&s, n).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let txs: Vec<Value> = block
        .subs
        .iter()
        .enumerate()
        .filter(|(_, (a, _))| *a == s.app_id)
        .map(|(pos, (a, d))| {
            let mut t = serde_json::Map::new();
            if want_data {
                t.insert("data".into(), json!(B64.encode(d)));
            }
            if want_ext {
                t.insert(
                    "extrinsic".into(),
                    json!(B64.encode(extrinsic(n, pos, *a, d))),
                );
            }
            Value::Object(t)
        })
        .collect();
    Json(json!({"block_number": n, "data_transactions": txs})).into_response()
}

async fn status(State(s): State<AvailState>) -> Response {
    let latest = s.finalized();
    let first = s.node.first_kept().min(latest.max(1));
    Json(json!({
        "modes": ["light", "app"],
        "app_id": s.app_id,
        "genesis_hash": header_hash(1, &proof::data_root(&H256::default(), &H256::default())).to_string(),
        "network": "modelda-devnet/nv1.0.0/0",
        "blocks": {
            "latest": latest,
            "available": {"first": first, "last": latest},
            "app_data": {"first": first, "last": latest},
        },
    }))
    .into_response()
}

async fn version() -> Response {
    Json(json!({"version": "v1.13.4", "network_version": "modelda-devnet"})).into_response()
}

fn rpc_error(id: &Value, code: i64, message: String) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        .into_response()
}

fn rpc_ok(id: &Value, result: Value) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// Finds the finalized block whose (devnet) hash is `hash`, looking back
/// from the finalized head.
async fn block_by_hash(s: &AvailState, hash: &str) -> Option<(u64, Block)> {
    let want: H256 = hash.parse().ok()?;
    let known = s
        .hashes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&want)
        .copied();
    if let Some(n) = known.filter(|&n| n <= s.finalized()) {
        let b = s.block(n).await.ok()?;
        return (b.hash == want).then_some((n, b));
    }
    let mut n = s.finalized();
    while n >= 1 {
        let b = s.block(n).await.ok()?;
        if b.hash == want {
            return Some((n, b));
        }
        n -= 1;
        if s.finalized().saturating_sub(n) > 4096 {
            return None;
        }
    }
    None
}

async fn rpc(
    State(s): State<AvailState>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(r) = s.faults().await {
        return r;
    }
    let Ok(Json(req)) = body else {
        return rpc_error(&Value::Null, -32700, "Parse error".into());
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let params = req.get("params").cloned().unwrap_or(Value::Array(vec![]));
    let p = |i: usize| params.get(i).cloned().unwrap_or(Value::Null);
    match req.get("method").and_then(Value::as_str).unwrap_or("") {
        "chain_getBlockHash" => {
            let n = p(0).as_u64().unwrap_or_else(|| s.node.head());
            if n == 0 || n > s.node.head() {
                return rpc_ok(&id, Value::Null);
            }
            match s.block(n).await {
                Ok(b) => rpc_ok(&id, json!(b.hash.to_string())),
                Err(_) => rpc_error(&id, -32603, "Internal error".into()),
            }
        }
        "chain_getFinalizedHead" => match s.block(s.finalized().max(1)).await {
            Ok(b) => rpc_ok(&id, json!(b.hash.to_string())),
            Err(_) => rpc_error(&id, -32603, "Internal error".into()),
        },
        "chain_getHeader" => {
            let Some(hash) = p(0).as_str().map(str::to_string) else {
                return rpc_error(&id, -32602, "Invalid params: expected a block hash".into());
            };
            match block_by_hash(&s, &hash).await {
                Some((n, b)) => rpc_ok(&id, node_header(n, &b)),
                None => rpc_ok(&id, Value::Null),
            }
        }
        "chain_getBlock" => {
            let Some(hash) = p(0).as_str().map(str::to_string) else {
                return rpc_error(&id, -32602, "Invalid params: expected a block hash".into());
            };
            match block_by_hash(&s, &hash).await {
                // A pruned node keeps headers, not bodies.
                Some((n, _)) if s.node.pruned(n) => rpc_ok(&id, Value::Null),
                Some((n, b)) => {
                    // The timestamp inherent first, then every submission.
                    let mut exts = vec![hex0x(&timestamp_inherent(n, s.block_ms))];
                    exts.extend(
                        b.subs
                            .iter()
                            .enumerate()
                            .map(|(pos, (a, d))| hex0x(&extrinsic(n, pos, *a, d))),
                    );
                    rpc_ok(
                        &id,
                        json!({
                            "block": {"header": node_header(n, &b), "extrinsics": exts},
                            "justifications": null,
                        }),
                    )
                }
                None => rpc_ok(&id, Value::Null),
            }
        }
        "kate_queryDataProof" => {
            let (Some(tx), Some(hash)) = (p(0).as_u64(), p(1).as_str().map(str::to_string)) else {
                return rpc_error(
                    &id,
                    -32602,
                    "Invalid params: expected [transaction_index, block_hash]".into(),
                );
            };
            let Some((n, b)) = block_by_hash(&s, &hash).await else {
                return rpc_error(&id, 1, format!("Requested block {hash} is not finalized"));
            };
            // The kate RPC reads the block body, which a pruned node lacks.
            if s.node.pruned(n) {
                return rpc_error(&id, 1, format!("Missing block {hash}"));
            }
            let refs: Vec<&[u8]> = b.subs.iter().map(|(_, d)| d.as_slice()).collect();
            match tx
                .checked_sub(1)
                .and_then(|i| proof::prove(&refs, i as usize))
            {
                Some(dp) => rpc_ok(&id, json!({"dataProof": dp})),
                None => rpc_error(
                    &id,
                    1,
                    format!("Cannot fetch tx data at tx index {tx} at block {hash}"),
                ),
            }
        }
        "kate_blockLength" => {
            let max = s.node.chain.limits().max_square_width.pow(2) * 512;
            let (rows, cols) = s.matrix;
            rpc_ok(
                &id,
                json!({"max": [max, max, max], "cols": cols, "rows": rows, "chunkSize": 32}),
            )
        }
        m => rpc_error(&id, -32601, format!("Method not found: {m}")),
    }
}

/// The light client API and the node RPC, on one address.
pub(crate) fn router(state: AvailState) -> Router {
    Router::new()
        .route("/", post(rpc))
        .route("/v2/submit", post(submit))
        .route("/v2/status", get(status))
        .route("/v2/version", get(version))
        .route("/v2/blocks/{n}", get(block_status))
        .route("/v2/blocks/{n}/header", get(block_header))
        .route("/v2/blocks/{n}/data", get(block_data))
        .layer(DefaultBodyLimit::max(4 * MAX_APP_DATA))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_encoding_matches_scale() {
        let enc = |n| {
            let mut v = Vec::new();
            compact(&mut v, n);
            v
        };
        // SCALE's documented examples.
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(1), [0x04]);
        assert_eq!(enc(42), [0xa8]);
        assert_eq!(enc(69), [0x15, 0x01]);
        assert_eq!(enc(65535), [0xfe, 0xff, 0x03, 0x00]);
        assert_eq!(
            enc(100_000_000_000_000),
            [0x0b, 0x00, 0x40, 0x7a, 0x10, 0xf3, 0x5a]
        );
    }

    #[test]
    fn timestamps_read_back() {
        let t = timestamp_inherent(7, 150);
        assert_eq!(
            modelda_da::avail::timestamp_of(&hex0x(&t)),
            Some(1_700_000_000_000 + 7 * 150)
        );
    }

    #[test]
    fn extrinsics_are_distinct_and_carry_the_data() {
        let a = extrinsic(5, 0, 1, b"same");
        let b = extrinsic(5, 1, 1, b"same");
        assert_ne!(a, b);
        assert!(a.ends_with(b"same"));
        // The (two-byte) length prefix covers the rest.
        assert_eq!(a[0] & 3, 1);
        assert_eq!(
            usize::from(u16::from_le_bytes([a[0], a[1]]) >> 2),
            a.len() - 2
        );
    }

    #[test]
    fn app_namespaces_round_trip() {
        for id in [0, 1, 9, 1000, u32::MAX] {
            assert_eq!(app_of(&app_namespace(id)), Some(id));
        }
        assert_eq!(app_of(&Namespace::RECORDS), None);
    }
}
