//! Avail as a [`DaLayer`]: blobs posted and read through the light client's
//! HTTP API v2 in app mode (`POST /v2/submit`, `GET /v2/blocks/{n}`,
//! `/v2/blocks/{n}/data`, `/v2/status`), the light client being a sidecar
//! as the EigenDA proxy is; inclusion proven by the full node's
//! `kate_queryDataProof` and checked against the data root of a header
//! this client fetches from its own node (`chain_getBlockHash`,
//! `chain_getHeader`).
//!
//! A blob's locator is `avail:HEIGHT:APP_ID:INDEX:LEAF`: the block, the
//! app id, the extrinsic index (what `kate_queryDataProof` takes) and the
//! data root leaf `keccak256(data)`, which picks the blob out of the light
//! client's app data (that lists no indexes) and checks it.
//!
//! Facts from Avail's sources (availproject/avail-light `core/src/api/v2`,
//! availproject/avail `rpc/kate-rpc`, `runtime/src/constants.rs`): the light
//! client answers errors as plain text; every node error on submit is a
//! bare 500; `data` submissions return at inclusion, not finality; a block
//! answers 404 until the light client has sampled it; `kate_queryDataProof`
//! needs a finalized block; a `submit_data` holds at most 1 MiB.

pub use modelda_core::avail::{
    estimate_fee_nano, proof, Runtime, BLOCK_DATA_BYTES, BLOCK_SECONDS, MATRIX_CELLS,
    MAX_APP_DATA_BYTES,
};

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use self::proof::{DataProof, H256};
use crate::layer::{Follow, InclusionProof, Limits, Receipt, Settlement};
use crate::retry::{with_retry, Attempt, RetryPolicy};
use crate::{DaLayer, Error, LayerKind, Locator, Namespace, Result};

/// Seconds from inclusion to finality (GRANDPA, 2 to 3 blocks).
pub const FINALITY_SECONDS: u64 = 60;

/// Blocks a submission stays valid: the light client signs `submit_data`
/// with avail-rust's default mortal era of 32 blocks from the best block,
/// so a submission not included by then never is.
pub const MORTALITY_BLOCKS: u64 = 32;

/// Blocks the finalized head (what the light client reports) may trail the
/// best block a submission's era starts from, added to the mortality when
/// an unknown submission is settled.
pub const FINALITY_LAG_BLOCKS: u64 = 5;

/// The milliseconds a block's timestamp inherent (its extrinsic 0, hex)
/// sets: length prefix, an unsigned v4 or v5 extrinsic, a 2-byte call
/// index, the compact moment. `None` for anything else.
pub fn timestamp_of(extrinsic_hex: &str) -> Option<u64> {
    let b = hex::decode(extrinsic_hex.strip_prefix("0x")?).ok()?;
    let (_, mut at) = decode_compact(&b)?;
    if !matches!(b.get(at)?, 0x04 | 0x05) {
        return None;
    }
    at += 3;
    decode_compact(b.get(at..)?).map(|(v, _)| v)
}

/// A SCALE compact integer at the start of `b`: (value, bytes read).
fn decode_compact(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    match first & 3 {
        0 => Some((u64::from(first >> 2), 1)),
        1 => Some((u64::from(u16::from_le_bytes([first, *b.get(1)?]) >> 2), 2)),
        2 => {
            let v = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
            Some((u64::from(v >> 2), 4))
        }
        _ => {
            let n = usize::from(first >> 2) + 4;
            if n > 8 {
                return None;
            }
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(b.get(1..1 + n)?);
            Some((u64::from_le_bytes(v), 1 + n))
        }
    }
}

/// Options of [`AvailLayer`].
#[derive(Clone, Debug)]
pub struct AvailOptions {
    /// Light client API. Default: `http://127.0.0.1:7007`.
    pub url: String,
    /// Full node JSON-RPC (proofs and headers). Default:
    /// `http://127.0.0.1:9944`.
    pub node_url: String,
    /// The app id blobs are posted with: the light client's. When set, a
    /// light client serving another app id is an error. Default: whatever
    /// the light client serves.
    pub app_id: Option<u32>,
    /// Retries of reads (transport errors, 500, 503). Default:
    /// [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// Timeout of one request. Default: 120 s (a submission waits for its
    /// block).
    pub timeout: Duration,
    /// How long a read waits for a block to be finished. Default: 5 min.
    pub finality_timeout: Duration,
    /// Pause between polls of a block's status. Default: 1 s.
    pub poll: Duration,
    /// Concurrent submissions within one `submit`. Default: 4.
    pub concurrency: usize,
    /// Blocks a submission stays valid (its mortal era). Default:
    /// [`MORTALITY_BLOCKS`].
    pub mortality_blocks: u64,
}

impl Default for AvailOptions {
    fn default() -> Self {
        AvailOptions {
            url: "http://127.0.0.1:7007".into(),
            node_url: "http://127.0.0.1:9944".into(),
            app_id: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(120),
            finality_timeout: Duration::from_secs(300),
            poll: Duration::from_secs(1),
            concurrency: 4,
            mortality_blocks: MORTALITY_BLOCKS,
        }
    }
}

/// An Avail light client (and node) as a [`DaLayer`].
#[derive(Clone)]
pub struct AvailLayer {
    http: reqwest::Client,
    opts: AvailOptions,
    /// The light client's app id, once read (it is fixed at its start).
    served: std::sync::Arc<tokio::sync::OnceCell<u32>>,
    /// The app data of the block read last (leaf, data): the light client
    /// serves a block's data whole, and blobs are read block by block.
    last_block: std::sync::Arc<std::sync::Mutex<Option<(u64, BlockData)>>>,
    /// The runtime's limits, once read from the node.
    runtime: std::sync::Arc<tokio::sync::OnceCell<Runtime>>,
}

type BlockData = std::sync::Arc<Vec<(H256, Vec<u8>)>>;

#[derive(Deserialize)]
struct SubmitResponse {
    block_number: u64,
    index: u32,
}

/// Largest answer read from the light client or the node: a block's app
/// data in base64 JSON at the largest matrix governance allows (1024 x 1024
/// cells of 31 bytes) fits; anything larger is refused before it is held.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

enum Capped {
    Transport(String),
    TooLarge,
}

/// The body of `resp`, refused past [`MAX_ANSWER_BYTES`] (by its declared
/// length, or as it streams in).
async fn read_capped(mut resp: reqwest::Response) -> std::result::Result<Vec<u8>, Capped> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(Capped::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Capped::Transport(e.to_string()))?
    {
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Capped::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What an attempt's answer was, before it is mapped to an [`Error`].
enum Failure {
    Transport(String),
    Status(u16, String),
}

fn locator_parts(loc: &Locator) -> Result<(u64, u32, u32, H256)> {
    match loc {
        Locator::Avail {
            height,
            app_id,
            index,
            leaf,
        } => Ok((*height, *app_id, *index, *leaf)),
        _ => Err(Error::Locator {
            locator: loc.to_string(),
            reason: "not an avail locator".into(),
        }),
    }
}

impl AvailLayer {
    /// A client of the light client at `opts.url` and the node at
    /// `opts.node_url`. No request is made yet.
    pub fn new(opts: AvailOptions) -> Result<Self> {
        let http = crate::layer::http_client(&opts.url, opts.timeout)?;
        Ok(AvailLayer {
            http,
            opts,
            served: Default::default(),
            last_block: Default::default(),
            runtime: Default::default(),
        })
    }

    /// The options it was made with.
    pub fn options(&self) -> &AvailOptions {
        &self.opts
    }

    fn lc(&self, path: &str) -> String {
        format!("{}{path}", self.opts.url.trim_end_matches('/'))
    }

    /// One request, retried on transport errors, 500 and 503 when `retry`.
    async fn request(
        &self,
        url: &str,
        retry: RetryPolicy,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>)> {
        let r = with_retry(retry, || {
            let req = make();
            async move {
                let resp = req
                    .send()
                    .await
                    .map_err(|e| Attempt::Retry(Failure::Transport(e.to_string())))?;
                let status = resp.status().as_u16();
                let body = read_capped(resp).await.map_err(|e| match e {
                    Capped::Transport(t) => Attempt::Retry(Failure::Transport(t)),
                    Capped::TooLarge => Attempt::Fail(Failure::Status(
                        status,
                        format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
                    )),
                })?;
                match status {
                    500 | 502 | 503 | 429 => Err(Attempt::Retry(Failure::Status(
                        status,
                        String::from_utf8_lossy(&body).trim().to_string(),
                    ))),
                    _ => Ok((status, body)),
                }
            }
        })
        .await;
        r.map_err(|(f, attempts)| match f {
            Failure::Transport(detail) => Error::Transport {
                endpoint: url.to_string(),
                detail,
                attempts,
            },
            Failure::Status(503, _) => Error::Unavailable {
                endpoint: url.to_string(),
                attempts,
            },
            Failure::Status(429, _) => Error::RateLimited {
                endpoint: url.to_string(),
                attempts,
            },
            Failure::Status(s, text) => Error::Remote {
                endpoint: url.to_string(),
                detail: format!("HTTP {s}: {:.200}", text),
            },
        })
    }

    async fn get_json(&self, path: &str) -> Result<(u16, Value)> {
        let url = self.lc(path);
        let (status, body) = self
            .request(&url, self.opts.retry, || self.http.get(&url))
            .await?;
        if status != 200 {
            return Ok((status, Value::String(String::from_utf8_lossy(&body).into())));
        }
        let v = serde_json::from_slice(&body).map_err(|e| Error::Remote {
            endpoint: url.clone(),
            detail: format!("not JSON: {e}"),
        })?;
        Ok((status, v))
    }

    /// `GET path`, requiring a 200 with JSON.
    async fn get_ok(&self, path: &str) -> Result<Value> {
        match self.get_json(path).await? {
            (200, v) => Ok(v),
            (s, v) => Err(Error::Remote {
                endpoint: self.lc(path),
                detail: format!("HTTP {s}: {v}"),
            }),
        }
    }

    /// `GET /v2/status`: the app id served and the latest block.
    pub async fn status(&self) -> Result<(Option<u32>, u64)> {
        let v = self.get_ok("/v2/status").await?;
        let app = v["app_id"].as_u64().and_then(|a| u32::try_from(a).ok());
        Ok((app, v["blocks"]["latest"].as_u64().unwrap_or(0)))
    }

    /// The app id to post with: the light client's, checked against the
    /// configured one.
    pub async fn app_id(&self) -> Result<u32> {
        self.served
            .get_or_try_init(|| async {
                let (served, _) = self.status().await?;
                self.check_app(served)
            })
            .await
            .copied()
    }

    fn check_app(&self, served: Option<u32>) -> Result<u32> {
        match (served, self.opts.app_id) {
            (None, _) => Err(Error::AvailNoSubmitter {
                endpoint: self.opts.url.clone(),
            }),
            (Some(s), Some(w)) if s != w => Err(Error::AvailAppMismatch {
                endpoint: self.opts.url.clone(),
                served: s,
                wanted: w,
            }),
            (Some(s), _) => Ok(s),
        }
    }

    /// Posts one blob; returns its locator once it is in a block.
    async fn submit_one(&self, app_id: u32, data: Vec<u8>) -> Result<Receipt> {
        let url = self.lc("/v2/submit");
        let size = data.len();
        let leaf = proof::leaf_of(&data);
        let body = json!({ "data": B64.encode(&data) });
        // A submission is retried only when it never reached the light
        // client (connection refused) or was turned away before it took it
        // (503): a 500 or a lost answer may have posted it.
        let r = with_retry(self.opts.retry, || {
            let req = self.http.post(&url).json(&body);
            async move {
                let resp = match req.send().await {
                    Ok(r) => r,
                    Err(e) if e.is_connect() => {
                        return Err(Attempt::Retry(Failure::Transport(e.to_string())))
                    }
                    Err(e) => return Err(Attempt::Fail(Failure::Transport(e.to_string()))),
                };
                let status = resp.status().as_u16();
                let body = read_capped(resp).await.map_err(|e| match e {
                    Capped::Transport(t) => Attempt::Fail(Failure::Transport(t)),
                    Capped::TooLarge => Attempt::Fail(Failure::Status(
                        status,
                        format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
                    )),
                })?;
                match status {
                    200 => Ok(body),
                    503 | 429 => Err(Attempt::Retry(Failure::Status(status, String::new()))),
                    s => Err(Attempt::Fail(Failure::Status(
                        s,
                        String::from_utf8_lossy(&body).trim().to_string(),
                    ))),
                }
            }
        })
        .await;
        let body = match r {
            Ok(b) => b,
            Err((Failure::Transport(detail), attempts)) if attempts > 0 => {
                return Err(Error::OutcomeUnknown {
                    endpoint: url,
                    detail: format!("{detail} (attempt {attempts})"),
                })
            }
            Err((Failure::Transport(detail), attempts)) => {
                return Err(Error::Transport {
                    endpoint: url,
                    detail,
                    attempts,
                })
            }
            Err((Failure::Status(404, _), _)) => {
                return Err(Error::AvailNoSubmitter {
                    endpoint: self.opts.url.clone(),
                })
            }
            Err((Failure::Status(500, _), _)) => {
                return Err(Error::AvailSubmitRefused {
                    endpoint: self.opts.url.clone(),
                    app_id,
                })
            }
            Err((Failure::Status(503, _), attempts)) => {
                return Err(Error::Unavailable {
                    endpoint: url,
                    attempts,
                })
            }
            Err((Failure::Status(s, text), _)) => {
                return Err(Error::Remote {
                    endpoint: url,
                    detail: format!("HTTP {s}: {:.200}", text),
                })
            }
        };
        let r: SubmitResponse = serde_json::from_slice(&body).map_err(|e| Error::Remote {
            endpoint: url.clone(),
            detail: format!("unexpected submit answer: {e}"),
        })?;
        Ok(Receipt {
            locator: Locator::Avail {
                height: r.block_number,
                app_id,
                index: r.index,
                leaf,
            },
            size,
            fee: 0,
        })
    }

    /// Waits until the light client has finished block `height` (or marked
    /// it incomplete: no data in it).
    pub async fn wait_finished(&self, height: u64) -> Result<()> {
        let started = Instant::now();
        loop {
            let (s, v) = self.get_json(&format!("/v2/blocks/{height}")).await?;
            let status = match s {
                200 => v["status"].as_str().unwrap_or("").to_string(),
                404 => {
                    self.check_held(height).await?;
                    "not sampled yet".to_string()
                }
                s => {
                    return Err(Error::Remote {
                        endpoint: self.lc(&format!("/v2/blocks/{height}")),
                        detail: format!("HTTP {s}: {v}"),
                    })
                }
            };
            if status == "finished" || status == "incomplete" {
                return Ok(());
            }
            if status == "unavailable" {
                return Err(Error::NotFound {
                    locator: format!(
                        "avail block {height} (before the light client's first block: sync it from further back, or start an index later with --from-height)"
                    ),
                });
            }
            if started.elapsed() >= self.opts.finality_timeout {
                return Err(Error::NotFinal {
                    height,
                    status,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(self.opts.poll).await;
        }
    }

    /// After a 404 for block `height`: [`Error::Pruned`] when the light
    /// client has passed the block yet holds nothing of it (it answers 404
    /// both for a block it has not reached and for one it dropped), else
    /// `Ok` (not reached yet: wait).
    async fn check_held(&self, height: u64) -> Result<()> {
        let (first, latest) = self.held_range().await?;
        if height >= first && height > latest {
            return Ok(());
        }
        // The latest block was read before this second ask: a 404 now is
        // for a block the light client had reached.
        let (s, _) = self.get_json(&format!("/v2/blocks/{height}")).await?;
        if s != 404 {
            return Ok(());
        }
        Err(Error::Pruned {
            endpoint: self.lc(&format!("/v2/blocks/{height}")),
            what: format!("block {height}"),
            detail: format!(
                "the light client holds app data of blocks {first} to {latest} only \
                 (404 for block {height})"
            ),
        })
    }

    /// The blocks whose app data the light client holds (`/v2/status`:
    /// `blocks.app_data`, else `blocks.available`), and its latest.
    async fn held_range(&self) -> Result<(u64, u64)> {
        let v = self.get_ok("/v2/status").await?;
        let b = &v["blocks"];
        let latest = b["latest"].as_u64().unwrap_or(0);
        let first = b["app_data"]["first"]
            .as_u64()
            .or_else(|| b["available"]["first"].as_u64())
            .unwrap_or(0);
        Ok((first, latest))
    }

    /// The app's submissions in block `height`, once it is finished.
    async fn block_data(&self, height: u64) -> Result<BlockData> {
        let cached = self
            .last_block
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(h, _)| *h == height)
            .map(|(_, d)| d.clone());
        if let Some(d) = cached {
            return Ok(d);
        }
        self.wait_finished(height).await?;
        let path = format!("/v2/blocks/{height}/data?fields=data");
        let v = self.get_ok(&path).await?;
        let mut out = Vec::new();
        for t in v["data_transactions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(b64) = t["data"].as_str() else {
                continue;
            };
            // Bounded before decoding: no submission is larger.
            if b64.len() > MAX_APP_DATA_BYTES.div_ceil(3) * 4 {
                continue;
            }
            if let Ok(data) = B64.decode(b64) {
                out.push((proof::leaf_of(&data), data));
            }
        }
        let d = std::sync::Arc::new(out);
        *self.last_block.lock().unwrap_or_else(|p| p.into_inner()) = Some((height, d.clone()));
        Ok(d)
    }

    /// A node JSON-RPC call.
    async fn rpc(&self, method: &str, params: Value) -> Result<Value> {
        let url = self.opts.node_url.clone();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, bytes) = self
            .request(&url, self.opts.retry, || self.http.post(&url).json(&body))
            .await?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Remote {
            endpoint: url.clone(),
            detail: format!("HTTP {status}, not JSON-RPC: {e}"),
        })?;
        if let Some(e) = v.get("error") {
            let msg = e["message"].as_str().unwrap_or("error");
            // The kate RPC reads the block body, which a pruned node lacks.
            if msg.starts_with("Missing block") {
                return Err(Error::Pruned {
                    endpoint: url,
                    what: format!("the block body that {method} reads"),
                    detail: format!("{msg:.200}: the node has pruned it"),
                });
            }
            return Err(Error::Remote {
                endpoint: url,
                detail: format!("{method}: {msg:.200}"),
            });
        }
        Ok(v["result"].clone())
    }

    /// The runtime's limits from the node: the data matrix
    /// (`kate_blockLength`) and the block time (the timestamps of the
    /// finalized head and up to 10 blocks before it). Read once, then
    /// cached (once [`DaLayer::limits`] fell back to the defaults, those:
    /// `matrix_from_node` says which). A block time that cannot be measured (a young chain, an
    /// unknown timestamp encoding) is the documented 20 s.
    pub async fn runtime(&self) -> Result<Runtime> {
        self.runtime
            .get_or_try_init(|| self.read_runtime())
            .await
            .copied()
    }

    async fn read_runtime(&self) -> Result<Runtime> {
        let mut r = Runtime::default();
        let bad = |what: &str| Error::Remote {
            endpoint: self.opts.node_url.clone(),
            detail: format!("kate_blockLength answered {what}"),
        };
        let len = self.rpc("kate_blockLength", json!([null])).await?;
        let field = |v: Option<&Value>| {
            v.and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
        };
        // `chunkSize` by the node's serde attributes; avail-rust's client
        // type says `chunk_size`: either is taken.
        let (rows, cols, chunk) = (
            field(len.get("rows")).ok_or_else(|| bad("no rows"))?,
            field(len.get("cols")).ok_or_else(|| bad("no cols"))?,
            field(len.get("chunkSize").or_else(|| len.get("chunk_size")))
                .ok_or_else(|| bad("no chunkSize"))?,
        );
        // Avail's bounds: powers of two, at most 1024 x 1024 cells.
        let ok = |v: u32| v.is_power_of_two() && v <= 1024;
        if !ok(rows) || !ok(cols) || !(2..=1024).contains(&chunk) {
            return Err(bad(&format!(
                "an impossible matrix: {rows} x {cols} cells of {chunk} bytes"
            )));
        }
        (r.rows, r.cols, r.chunk_bytes, r.matrix_from_node) = (rows, cols, chunk, true);
        if let Some(ms) = self.measure_block_ms().await? {
            (r.block_ms, r.block_time_from_node) = (ms, true);
        }
        Ok(r)
    }

    /// Milliseconds per block over the last (up to) 10 finalized blocks,
    /// from their timestamp inherents.
    async fn measure_block_ms(&self) -> Result<Option<u64>> {
        let head = self.status().await?.1;
        let span = head.saturating_sub(1).min(10);
        if span == 0 {
            return Ok(None);
        }
        let mut at = Vec::with_capacity(2);
        for h in [head - span, head] {
            let hash = self.block_hash(h).await?;
            let b = self
                .rpc("chain_getBlock", json!([hash.to_string()]))
                .await?;
            at.push(b["block"]["extrinsics"][0].as_str().and_then(timestamp_of));
        }
        Ok(match (at[0], at[1]) {
            (Some(a), Some(b)) if b > a => Some(((b - a) / span).clamp(1, 600_000)),
            _ => None,
        })
    }

    /// The hash of block `height`, from the node.
    async fn block_hash(&self, height: u64) -> Result<H256> {
        let v = self.rpc("chain_getBlockHash", json!([height])).await?;
        v.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(Error::FutureHeight { height, head: 0 })
    }

    /// The data root of block `hash`'s header, from the node.
    async fn header_data_root(&self, hash: &H256) -> Result<H256> {
        let v = self
            .rpc("chain_getHeader", json!([hash.to_string()]))
            .await?;
        v["extension"]["V3"]["commitment"]["dataRoot"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Remote {
                endpoint: self.opts.node_url.clone(),
                detail: format!("header {hash} has no V3 data root"),
            })
    }
}

#[async_trait]
impl DaLayer for AvailLayer {
    fn kind(&self) -> LayerKind {
        LayerKind::Avail
    }

    async fn limits(&self) -> Result<Limits> {
        // Posting needs only the light client: a node that cannot be read
        // leaves the documented limits, kept for this client's life (so
        // it is asked once, not before every submission).
        let r = *self
            .runtime
            .get_or_init(|| async {
                self.read_runtime().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "the Avail node's limits could not be read: using Avail mainnet's");
                    Runtime::default()
                })
            })
            .await;
        let max = r.max_blob_bytes();
        Ok(Limits {
            max_blob_bytes: max,
            max_batch_bytes: max.saturating_mul(self.opts.concurrency.max(1)),
        })
    }

    async fn head(&self) -> Result<u64> {
        Ok(self.status().await?.1)
    }

    fn settlement(&self) -> Settlement {
        // A submission without an answer is included within its mortal era
        // or never; the head is the finalized one, which may trail the best
        // block the era starts from.
        Settlement::WithinBlocks(self.opts.mortality_blocks + FINALITY_LAG_BLOCKS)
    }

    fn as_follow(&self) -> Option<&dyn Follow> {
        Some(self)
    }

    #[tracing::instrument(name = "da.submit", skip_all, fields(layer = "avail", blobs = blobs.len()))]
    async fn submit(&self, _namespace: Namespace, blobs: Vec<Vec<u8>>) -> Result<Vec<Receipt>> {
        let max = self.limits().await?.max_blob_bytes;
        crate::layer::check_blobs("avail", blobs.iter().map(Vec::len), max)?;
        let app_id = self.app_id().await?;
        let me = self.clone();
        crate::layer::submit_each(&self.opts.url, blobs, self.opts.concurrency, move |b| {
            let me = me.clone();
            async move { me.submit_one(app_id, b).await }
        })
        .await
    }

    #[tracing::instrument(name = "da.get", skip_all, fields(layer = "avail", locator = %locator))]
    async fn get(&self, locator: &Locator) -> Result<Vec<u8>> {
        let (height, app_id, _, leaf) = locator_parts(locator)?;
        let served = self.app_id().await;
        match served {
            Ok(a) if a == app_id => {}
            Ok(a) => {
                return Err(Error::AvailAppMismatch {
                    endpoint: self.opts.url.clone(),
                    served: a,
                    wanted: app_id,
                })
            }
            Err(e) => return Err(e),
        }
        let block = self.block_data(height).await?;
        block
            .iter()
            .find(|(l, _)| *l == leaf)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| Error::NotFound {
                locator: locator.to_string(),
            })
    }

    #[tracing::instrument(name = "da.prove", skip_all, fields(layer = "avail", locator = %locator))]
    async fn prove(&self, locator: &Locator) -> Result<InclusionProof> {
        let (height, _, index, _) = locator_parts(locator)?;
        self.wait_finished(height).await?;
        let hash = self.block_hash(height).await?;
        let v = self
            .rpc("kate_queryDataProof", json!([index, hash.to_string()]))
            .await?;
        let data_proof: DataProof =
            serde_json::from_value(v["dataProof"].clone()).map_err(|e| Error::Remote {
                endpoint: self.opts.node_url.clone(),
                detail: format!("kate_queryDataProof answered an unexpected shape: {e}"),
            })?;
        Ok(InclusionProof::Avail {
            v: InclusionProof::VERSION,
            height,
            block_hash: hash,
            data_proof,
        })
    }

    #[tracing::instrument(name = "da.verify", skip_all, fields(layer = "avail", locator = %locator))]
    async fn verify(&self, locator: &Locator, data: &[u8], proof: &InclusionProof) -> Result<()> {
        let bad = |reason: String| Error::BadProof {
            locator: locator.to_string(),
            reason,
        };
        let (height, _, _, leaf) = locator_parts(locator)?;
        let InclusionProof::Avail {
            height: h,
            block_hash,
            data_proof,
            ..
        } = proof
        else {
            return Err(bad("not an Avail proof".into()));
        };
        if *h != height {
            return Err(bad(format!("the proof is for block {h}, not {height}")));
        }
        if data_proof.leaf != leaf {
            return Err(bad("the proof's leaf is not the locator's".into()));
        }
        // The header comes from this client's own node, never the proof.
        let hash = self.block_hash(height).await?;
        if &hash != block_hash {
            return Err(bad(format!(
                "block {height} is {hash} on this node, not {block_hash}"
            )));
        }
        let root = self.header_data_root(&hash).await?;
        proof::verify(data_proof, data, &root).map_err(|e| bad(e.to_string()))
    }

    async fn data_root(&self, height: u64) -> Result<Option<[u8; 32]>> {
        let hash = self.block_hash(height).await?;
        Ok(Some(self.header_data_root(&hash).await?.0))
    }
}

/// Avail's blocks, followed through the light client: a block's app data
/// (`fields=data,extrinsic`) with each submission's extrinsic index found
/// in the node's block (`chain_getBlock`), by the extrinsic's bytes. The
/// namespace is the app id: records and data share it, and `list` ignores
/// its `namespace`.
#[async_trait]
impl Follow for AvailLayer {
    /// The light client's `/v2/status` says from which block it holds app
    /// data; older blocks are pruned (or before it started).
    async fn check_available(&self, height: u64) -> Result<()> {
        let (first, latest) = self.held_range().await?;
        if height < first {
            return Err(Error::Pruned {
                endpoint: self.lc("/v2/status"),
                what: format!("the app data of block {height}"),
                detail: format!("the light client holds blocks {first} to {latest} only"),
            });
        }
        Ok(())
    }

    async fn wait_for_height(&self, height: u64) -> Result<()> {
        // The light client's latest block is its latest finalized header.
        while self.status().await?.1 < height {
            tokio::time::sleep(self.opts.poll).await;
        }
        Ok(())
    }

    #[tracing::instrument(name = "da.list", skip_all, fields(layer = "avail", height))]
    async fn list(&self, _namespace: Namespace, height: u64) -> Result<Vec<(Locator, Vec<u8>)>> {
        let app_id = self.app_id().await?;
        self.wait_finished(height).await?;
        let path = format!("/v2/blocks/{height}/data?fields=data,extrinsic");
        let v = self.get_ok(&path).await?;
        let txs = v["data_transactions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if txs.is_empty() {
            return Ok(Vec::new());
        }
        // The node's extrinsics of the block, as hex: a submission's index
        // is where its extrinsic is, the first not yet taken.
        let hash = self.block_hash(height).await?;
        let block = self
            .rpc("chain_getBlock", json!([hash.to_string()]))
            .await?;
        // A pruned node keeps the header, not the body.
        if block.is_null() {
            return Err(Error::Pruned {
                endpoint: self.opts.node_url.clone(),
                what: format!("the body of block {height}"),
                detail: format!("chain_getBlock answered null for {hash}"),
            });
        }
        let mut on_chain: Vec<Option<&str>> = block["block"]["extrinsics"]
            .as_array()
            .map(|a| a.iter().map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(txs.len());
        // Bounded before decoding: no submission is larger (an extrinsic
        // adds its signature and call to the data).
        let max_b64 = (MAX_APP_DATA_BYTES + 1024).div_ceil(3) * 4;
        for t in txs {
            let (Some(data), Some(ext)) = (t["data"].as_str(), t["extrinsic"].as_str()) else {
                return Err(Error::Remote {
                    endpoint: self.lc(&path),
                    detail: "the light client's block data lacks `data` or `extrinsic`: it must serve both to be followed".into(),
                });
            };
            if data.len() > max_b64 || ext.len() > max_b64 {
                continue;
            }
            let (Ok(data), Ok(ext)) = (B64.decode(data), B64.decode(ext)) else {
                continue;
            };
            let want = format!("0x{}", hex::encode(&ext));
            let Some(index) = on_chain
                .iter()
                .position(|e| e.is_some_and(|e| e.eq_ignore_ascii_case(&want)))
            else {
                return Err(Error::Remote {
                    endpoint: self.opts.node_url.clone(),
                    detail: format!(
                        "block {height} ({hash}) on the node lacks an extrinsic the light client serves for it: are they on the same network?"
                    ),
                });
            };
            on_chain[index] = None;
            out.push((
                Locator::Avail {
                    height,
                    app_id,
                    index: u32::try_from(index).map_err(|_| Error::Remote {
                        endpoint: self.opts.node_url.clone(),
                        detail: format!("block {height} has more than 2^32 extrinsics"),
                    })?,
                    leaf: proof::leaf_of(&data),
                },
                data,
            ));
        }
        out.sort_by_key(|(l, _)| match l {
            Locator::Avail { index, .. } => *index,
            _ => 0,
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genesis_matrix_allows_a_full_mib() {
        let r = Runtime::default();
        assert_eq!(r.block_data_bytes(), BLOCK_DATA_BYTES);
        assert_eq!(r.max_blob_bytes(), MAX_APP_DATA_BYTES);
        assert_eq!(r.fee_nano(1000), estimate_fee_nano(1000));
    }

    #[test]
    fn a_small_matrix_bounds_the_blob() {
        let r = Runtime {
            rows: 32,
            cols: 64,
            ..Runtime::default()
        };
        let max = r.max_blob_bytes();
        assert!(max < 32 * 64 * 31, "{max}");
        assert!(Runtime::scalars(max as u64) < r.cells());
        assert!(Runtime::scalars(max as u64 + 40) >= r.cells());
        // A smaller matrix: the same bytes weigh more.
        assert!(r.fee_nano(10_000) > estimate_fee_nano(10_000));
    }

    #[test]
    fn timestamps_are_read_from_the_inherent() {
        // len 10: v4 unsigned, Timestamp::set, compact 1_700_000_000_000.
        let mut b = vec![0x04, 0x03, 0x00, 0x0b];
        b.extend_from_slice(&1_700_000_000_000u64.to_le_bytes()[..6]);
        let mut x = vec![(b.len() as u8) << 2];
        x.extend_from_slice(&b);
        assert_eq!(
            timestamp_of(&format!("0x{}", hex::encode(&x))),
            Some(1_700_000_000_000)
        );
        assert_eq!(timestamp_of("0x"), None);
        assert_eq!(timestamp_of("0x0484"), None);
        assert_eq!(timestamp_of("junk"), None);
        // A compact claiming more than 8 bytes.
        assert_eq!(timestamp_of("0x1404030017"), None);
    }
}
