//! `modelda devnet`: one local chain served over a Celestia-node-compatible
//! JSON-RPC API (port 26658) and an EigenDA-proxy-compatible REST API (port
//! 3100), on loopback, with JWT auth, a block every `block_time`, Celestia's
//! size limits and fault injection. A restart keeps the chain on disk.

pub mod avail_api;
mod celestia_rpc;
pub mod eigenda_rest;
pub mod faults;
pub mod jwt;
pub mod memstore;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use celestia_types::ExtendedHeader;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use faults::Faults;

use crate::jwt::{JwtKey, Permission};
use modelda_da::square::{self, Square};
use modelda_da::{ChainLimits, Error, LocalChain, Namespace, Result};

/// Directory in the data directory holding the chain's RocksDB store.
pub const CHAIN_DIR: &str = "chain";
/// Directory in the data directory holding the EigenDA memstore.
pub const EIGENDA_DIR: &str = "eigenda";
/// File in the data directory holding the JWT secret.
pub const JWT_SECRET_FILE: &str = "jwt.secret";

/// Options of the devnet.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// Where the chain lives. Default: `./.modelda/devnet`.
    pub data_dir: PathBuf,
    /// Celestia JSON-RPC address. Default: `127.0.0.1:26658`.
    pub rpc_addr: SocketAddr,
    /// EigenDA REST address. Default: `127.0.0.1:3100`.
    pub eigenda_addr: SocketAddr,
    /// Time between blocks. Default: 1 s.
    pub block_time: Duration,
    /// Square and transaction limits. Default: app v5 (128, 2 MiB).
    pub limits: ChainLimits,
    /// Injected faults. Default: none.
    pub faults: Faults,
    /// Whether the JSON-RPC API requires a JWT. Default: true.
    pub auth: bool,
    /// Starting balance of the node account, in utia. Default: 10^12.
    pub balance: u64,
    /// Blocks a submission may wait in the mempool before it is evicted
    /// (never included), as celestia-app's `ttl-num-blocks`. Default:
    /// [`modelda_da::celestia::DEFAULT_MEMPOOL_TTL_BLOCKS`] (36).
    pub mempool_ttl_blocks: u64,
    /// Blocks a height's blob data is kept: reads, listings and proofs of
    /// older heights fail as a pruned node's do (headers stay served).
    /// Default: `None`, never pruned.
    pub storage_window_blocks: Option<u64>,
    /// Address of the Avail light client API and node RPC (see
    /// [`avail_api`]). Default: none (not served).
    pub avail_addr: Option<SocketAddr>,
    /// The Avail light client's app id. Default: 1.
    pub avail_app_id: u32,
    /// Blocks until an Avail block is final. Default: 2.
    pub avail_finality_blocks: u64,
    /// Blocks an Avail submission stays valid (its mortal era) before it
    /// is dropped, never included. Default:
    /// [`modelda_da::avail::MORTALITY_BLOCKS`] (32).
    pub avail_mortality_blocks: u64,
    /// Rows and columns of the Avail data matrix (`kate_blockLength`); a
    /// submission must fit in it. Default: Avail's genesis, 256 x 512.
    pub avail_matrix: (u32, u32),
}

impl Default for DevnetConfig {
    fn default() -> Self {
        DevnetConfig {
            data_dir: PathBuf::from(".modelda/devnet"),
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], 26658)),
            eigenda_addr: SocketAddr::from(([127, 0, 0, 1], 3100)),
            block_time: Duration::from_secs(1),
            limits: ChainLimits::APP_V5,
            faults: Faults::default(),
            auth: true,
            balance: 1_000_000_000_000,
            mempool_ttl_blocks: modelda_da::celestia::DEFAULT_MEMPOOL_TTL_BLOCKS,
            storage_window_blocks: None,
            avail_addr: None,
            avail_app_id: 1,
            avail_finality_blocks: 2,
            avail_mortality_blocks: modelda_da::avail::MORTALITY_BLOCKS,
            avail_matrix: (256, 512),
        }
    }
}

/// A submission in the mempool. It outlives the client that sent it: a
/// client that dies or drops its connection does not take it back.
struct Pending {
    blobs: Vec<(Namespace, Vec<u8>)>,
    shares: usize,
    /// The head when it entered the mempool.
    entered: u64,
    /// Blocks after `entered` that may still include it (Celestia's
    /// mempool TTL, Avail's mortal era).
    ttl: u64,
    /// The first height that may include it (see
    /// [`Faults::inclusion_delay_blocks`]).
    eligible: u64,
    done: oneshot::Sender<Result<u64, String>>,
}

/// State shared by the block producer and both APIs.
pub struct Node {
    chain: LocalChain,
    pending: Mutex<VecDeque<Pending>>,
    head: watch::Sender<u64>,
    balance: AtomicU64,
    squares: Mutex<Vec<(u64, Arc<Square>)>>,
    mempool_ttl_blocks: u64,
    faults: Arc<Faults>,
    /// Blocks of blob data kept (`u64::MAX`: never pruned).
    storage_window_blocks: AtomicU64,
}

impl Node {
    /// Whether `height`'s blob data is past the storage window (pruned).
    fn pruned(&self, height: u64) -> bool {
        let n = self.storage_window_blocks.load(Ordering::Relaxed);
        n != u64::MAX && height.saturating_add(n) <= self.head()
    }

    /// The first height whose blob data is kept (1 when nothing is pruned).
    fn first_kept(&self) -> u64 {
        let n = self.storage_window_blocks.load(Ordering::Relaxed);
        if n == u64::MAX {
            return 1;
        }
        (self.head() + 1).saturating_sub(n).max(1)
    }

    fn head(&self) -> u64 {
        *self.head.borrow()
    }

    fn balance(&self) -> u64 {
        self.balance.load(Ordering::SeqCst)
    }

    fn charge(&self, fee: u64) -> Result<(), String> {
        self.balance
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(fee))
            .map(|_| ())
            .map_err(|b| {
                format!("insufficient funds: balance {b}utia is less than the fee {fee}utia")
            })
    }

    async fn submit(&self, blobs: Vec<(Namespace, Vec<u8>)>) -> Result<u64, String> {
        self.submit_within(blobs, self.mempool_ttl_blocks).await
    }

    /// Submits blobs that a block may include up to `ttl` blocks after the
    /// current head; past that they are dropped, never included.
    async fn submit_within(
        &self,
        blobs: Vec<(Namespace, Vec<u8>)>,
        ttl: u64,
    ) -> Result<u64, String> {
        let shares = blobs.iter().map(|(_, d)| square::shares_for(d.len())).sum();
        if shares > self.chain.limits().max_square_width.pow(2) {
            return Err("blobs do not fit in one block".into());
        }
        if faults::roll(self.faults.evict_rate) {
            // Taken into the mempool, then dropped from it: never included,
            // and the client hears nothing.
            tracing::info!(blobs = blobs.len(), "injected fault: submission evicted");
            return Err(faults::DROP_CONNECTION.into());
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(Pending {
                blobs,
                shares,
                entered: self.head(),
                ttl,
                eligible: self.head() + 1 + faults::below(self.faults.inclusion_delay_blocks + 1),
                done: tx,
            });
        let height = rx
            .await
            .map_err(|_| "the devnet stopped before the blobs were included".to_string())??;
        if faults::roll(self.faults.lose_answer_rate) {
            tracing::info!(
                height,
                "injected fault: answer of an included submission lost"
            );
            return Err(faults::DROP_CONNECTION.into());
        }
        Ok(height)
    }

    /// Evicts submissions that waited longer than their TTL after block
    /// `height`: CometBFT purges a transaction once `height - entered >
    /// ttl`, and an Avail transaction's mortal era ends.
    fn evict_expired(&self, height: u64) {
        let mut q = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (keep, expired): (Vec<Pending>, Vec<Pending>) =
            q.drain(..).partition(|p| height - p.entered <= p.ttl);
        q.extend(keep);
        drop(q);
        for p in expired {
            let _ = p.done.send(Err(format!(
                "tx evicted from mempool: not included within {} blocks",
                p.ttl
            )));
        }
    }

    async fn wait_for(&self, height: u64) -> Result<(), String> {
        let mut rx = self.head.subscribe();
        rx.wait_for(|h| *h >= height)
            .await
            .map(|_| ())
            .map_err(|_| "the devnet stopped".to_string())
    }

    async fn header(&self, height: u64) -> Result<ExtendedHeader> {
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || chain.header(height))
            .await
            .map_err(|e| Error::Square {
                height,
                detail: e.to_string(),
            })?
    }

    async fn square(&self, height: u64) -> Result<Arc<Square>> {
        if let Some((_, s)) = self
            .squares
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(h, _)| *h == height)
        {
            return Ok(s.clone());
        }
        let chain = self.chain.clone();
        let sq =
            tokio::task::spawn_blocking(move || chain.square(height).map(|(s, _)| Arc::new(s)))
                .await
                .map_err(|e| Error::Square {
                    height,
                    detail: e.to_string(),
                })??;
        let mut cache = self.squares.lock().unwrap_or_else(|p| p.into_inner());
        cache.push((height, sq.clone()));
        if cache.len() > 2 {
            cache.remove(0);
        }
        Ok(sq)
    }

    /// Produces one block from pending submissions (possibly empty).
    async fn produce(&self) -> Result<u64> {
        let max = self.chain.limits().max_square_width.pow(2);
        let batch: Vec<Pending> = {
            let mut q = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let next = self.head() + 1;
            let mut taken = Vec::new();
            let mut waiting = VecDeque::new();
            let mut shares = 0;
            let mut full = false;
            while let Some(p) = q.pop_front() {
                if full || p.eligible > next {
                    waiting.push_back(p);
                } else if shares + p.shares > max {
                    full = true;
                    waiting.push_back(p);
                } else {
                    shares += p.shares;
                    taken.push(p);
                }
            }
            *q = waiting;
            taken
        };
        let chain = self.chain.clone();
        let blobs: Vec<(Namespace, Vec<u8>)> =
            batch.iter().flat_map(|p| p.blobs.iter().cloned()).collect();
        let result = tokio::task::spawn_blocking(move || {
            let refs: Vec<(Namespace, &[u8])> =
                blobs.iter().map(|(n, d)| (*n, d.as_slice())).collect();
            let (h, _) = chain.append(&refs)?;
            chain.header(h)?;
            Ok::<u64, Error>(h)
        })
        .await
        .map_err(|e| Error::Store {
            path: self.chain.path().to_path_buf(),
            detail: e.to_string(),
        })?;
        match result {
            Ok(h) => {
                self.head.send_replace(h);
                for p in batch {
                    let _ = p.done.send(Ok(h));
                }
                self.evict_expired(h);
                Ok(h)
            }
            Err(e) => {
                for p in batch {
                    let _ = p.done.send(Err(e.to_string()));
                }
                Err(e)
            }
        }
    }
}

/// A running devnet.
pub struct Devnet {
    node: Arc<Node>,
    jwt: JwtKey,
    rpc_addr: SocketAddr,
    eigenda_addr: SocketAddr,
    avail_addr: Option<SocketAddr>,
    stop: CancellationToken,
    rpc: jsonrpsee::server::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Devnet {
    /// Opens the chain and starts both APIs and the block producer.
    pub async fn start(cfg: DevnetConfig) -> Result<Devnet> {
        let chain = {
            let dir = cfg.data_dir.join(CHAIN_DIR);
            let limits = cfg.limits;
            tokio::task::spawn_blocking(move || LocalChain::open(&dir, limits))
                .await
                .map_err(|e| Error::Store {
                    path: cfg.data_dir.clone(),
                    detail: e.to_string(),
                })??
        };
        let secret_path = cfg.data_dir.join(JWT_SECRET_FILE);
        let jwt = JwtKey::load_or_create(&secret_path).map_err(|e| Error::Io {
            path: secret_path.clone(),
            source: e,
        })?;
        if chain.head()? == 0 {
            chain.append(&[])?;
        }
        let head = chain.head()?;
        let node = Arc::new(Node {
            chain: chain.clone(),
            pending: Mutex::new(VecDeque::new()),
            head: watch::channel(head).0,
            balance: AtomicU64::new(cfg.balance),
            squares: Mutex::new(Vec::new()),
            mempool_ttl_blocks: cfg.mempool_ttl_blocks,
            storage_window_blocks: AtomicU64::new(cfg.storage_window_blocks.unwrap_or(u64::MAX)),
            faults: Arc::new(cfg.faults),
        });
        node.header(head).await?;
        let faults = node.faults.clone();
        let stop = CancellationToken::new();

        // Celestia JSON-RPC.
        let module = celestia_rpc::module(node.clone()).map_err(|e| Error::Remote {
            endpoint: cfg.rpc_addr.to_string(),
            detail: e.to_string(),
        })?;
        let server_cfg = jsonrpsee::server::ServerConfig::builder()
            .max_request_body_size(64 << 20)
            .max_response_body_size(256 << 20)
            .build();
        let middleware = tower::ServiceBuilder::new().layer(auth::AuthLayer {
            key: cfg.auth.then(|| jwt.clone()),
            faults: faults.clone(),
        });
        let server = jsonrpsee::server::Server::builder()
            .set_config(server_cfg)
            .set_http_middleware(middleware)
            .build(cfg.rpc_addr)
            .await
            .map_err(|e| Error::Io {
                path: PathBuf::from(cfg.rpc_addr.to_string()),
                source: e,
            })?;
        let rpc_addr = server.local_addr().map_err(|e| Error::Io {
            path: PathBuf::from(cfg.rpc_addr.to_string()),
            source: e,
        })?;
        let rpc = server.start(module);

        // EigenDA REST.
        let listener = tokio::net::TcpListener::bind(cfg.eigenda_addr)
            .await
            .map_err(|e| Error::Io {
                path: PathBuf::from(cfg.eigenda_addr.to_string()),
                source: e,
            })?;
        let eigenda_addr = listener.local_addr().map_err(|e| Error::Io {
            path: PathBuf::from(cfg.eigenda_addr.to_string()),
            source: e,
        })?;
        let memstore = memstore::MemStore::open(&cfg.data_dir.join(EIGENDA_DIR))?;
        let app = eigenda_rest::router(memstore, faults.clone(), node.clone());
        let listener = eigenda_rest::DroppingListener::new(listener, faults.clone());
        let s = stop.clone();
        let rest = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });

        // Avail light client API and node RPC.
        let mut tasks = vec![rest];
        let avail_addr = match cfg.avail_addr {
            None => None,
            Some(addr) => {
                let listener =
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|e| Error::Io {
                            path: PathBuf::from(addr.to_string()),
                            source: e,
                        })?;
                let bound = listener.local_addr().map_err(|e| Error::Io {
                    path: PathBuf::from(addr.to_string()),
                    source: e,
                })?;
                let app = avail_api::router(avail_api::AvailState {
                    node: node.clone(),
                    app_id: cfg.avail_app_id,
                    finality_blocks: cfg.avail_finality_blocks,
                    mortality_blocks: cfg.avail_mortality_blocks,
                    matrix: cfg.avail_matrix,
                    block_ms: u64::try_from(cfg.block_time.as_millis()).unwrap_or(u64::MAX),
                    faults: faults.clone(),
                    hashes: Default::default(),
                });
                let listener = eigenda_rest::DroppingListener::new(listener, faults.clone());
                let s = stop.clone();
                tasks.push(tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { s.cancelled().await })
                        .await;
                }));
                Some(bound)
            }
        };

        // Block producer.
        let n = node.clone();
        let s = stop.clone();
        let block_time = cfg.block_time;
        let producer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(block_time);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = s.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = n.produce().await {
                            tracing::error!("block production failed: {e}");
                        }
                    }
                }
            }
        });
        tasks.push(producer);
        tracing::info!(%rpc_addr, %eigenda_addr, ?avail_addr, head, "devnet started");
        Ok(Devnet {
            node,
            jwt,
            rpc_addr,
            eigenda_addr,
            avail_addr,
            stop,
            rpc,
            tasks,
        })
    }

    /// URL of the Celestia JSON-RPC API.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    /// URL of the EigenDA REST API.
    pub fn eigenda_url(&self) -> String {
        format!("http://{}", self.eigenda_addr)
    }

    /// URL of the Avail light client API (and node RPC), when served.
    pub fn avail_url(&self) -> Option<String> {
        self.avail_addr.map(|a| format!("http://{a}"))
    }

    /// A JWT granting `perm`.
    pub fn token(&self, perm: Permission) -> String {
        self.jwt.token(perm)
    }

    /// Prunes blob data older than `blocks` from now on (`None`: never), as
    /// `--storage-window-blocks` does from the start: a test publishes and
    /// archives first, then lets the window close.
    pub fn set_storage_window_blocks(&self, blocks: Option<u64>) {
        self.node
            .storage_window_blocks
            .store(blocks.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The chain.
    pub fn chain(&self) -> &LocalChain {
        &self.node.chain
    }

    /// Stops the APIs and the producer, then closes the chain.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        for t in self.tasks {
            let _ = t.await;
        }
        // Fail submissions still waiting.
        let pending: Vec<Pending> = self
            .node
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for p in pending {
            let _ = p.done.send(Err("the devnet stopped".into()));
        }
        // The store closes last: wait for connection tasks to let go of it.
        let chain = self.node.chain.clone();
        drop(self.node);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while chain.handles() > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if chain.handles() > 1 {
            tracing::warn!("devnet stopped with the chain still in use");
        }
        drop(chain);
    }
}

mod auth {
    //! HTTP middleware of the JSON-RPC API: JWT permissions per method, and
    //! injected faults.

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

    use super::faults::{roll, Faults, DROP_CONNECTION};
    use crate::jwt::{JwtKey, Permission};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    #[derive(Clone)]
    pub struct AuthLayer {
        pub key: Option<JwtKey>,
        pub faults: Arc<Faults>,
    }

    impl<S> tower::Layer<S> for AuthLayer {
        type Service = Auth<S>;
        fn layer(&self, inner: S) -> Auth<S> {
            Auth {
                inner,
                key: self.key.clone(),
                faults: self.faults.clone(),
            }
        }
    }

    #[derive(Clone)]
    pub struct Auth<S> {
        inner: S,
        key: Option<JwtKey>,
        faults: Arc<Faults>,
    }

    fn needed(method: &str) -> Permission {
        match method {
            "blob.Submit" | "state.SubmitPayForBlob" | "state.Transfer" => Permission::Write,
            _ => Permission::Read,
        }
    }

    fn reply(status: u16, msg: &str) -> HttpResponse<HttpBody> {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(HttpBody::from(format!("{msg}\n")))
            .expect("a static response is valid")
    }

    fn methods(body: &[u8]) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Call {
            method: Option<String>,
        }
        if let Ok(c) = serde_json::from_slice::<Call>(body) {
            return c.method.into_iter().collect();
        }
        serde_json::from_slice::<Vec<Call>>(body)
            .map(|v| v.into_iter().filter_map(|c| c.method).collect())
            .unwrap_or_default()
    }

    impl<S> tower::Service<HttpRequest> for Auth<S>
    where
        S: tower::Service<HttpRequest, Response = HttpResponse<HttpBody>, Error = BoxError>
            + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        type Response = HttpResponse<HttpBody>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), BoxError>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: HttpRequest) -> Self::Future {
            let mut inner = self.inner.clone();
            let key = self.key.clone();
            let faults = self.faults.clone();
            Box::pin(async move {
                if !faults.latency.is_zero() {
                    tokio::time::sleep(faults.latency).await;
                }
                if roll(faults.drop_rate) {
                    return Err("injected fault: connection dropped".into());
                }
                if roll(faults.error_rate) {
                    return Ok(reply(503, "injected fault: service unavailable"));
                }
                let after = faults.evict_rate > 0.0 || faults.lose_answer_rate > 0.0;
                let Some(key) = key else {
                    return drop_if_asked(inner.call(req).await, after).await;
                };
                let perms = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .and_then(|t| key.check(t.trim()));
                let Some(perms) = perms else {
                    return Ok(reply(401, "unauthorized: missing or invalid JWT"));
                };
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await?.to_bytes();
                for m in methods(&bytes) {
                    if !perms.contains(&needed(&m)) {
                        return Ok(reply(
                            401,
                            &format!("unauthorized: {m} needs the {:?} permission", needed(&m)),
                        ));
                    }
                }
                let r = inner
                    .call(http::Request::from_parts(
                        parts,
                        HttpBody::from(bytes.to_vec()),
                    ))
                    .await;
                drop_if_asked(r, after).await
            })
        }
    }

    /// Turns an answer carrying [`DROP_CONNECTION`] into a dropped
    /// connection (only when a fault that uses it is on: otherwise the
    /// answer streams through untouched).
    async fn drop_if_asked(
        r: Result<HttpResponse<HttpBody>, BoxError>,
        armed: bool,
    ) -> Result<HttpResponse<HttpBody>, BoxError> {
        if !armed {
            return r;
        }
        let (parts, body) = r?.into_parts();
        let bytes = body.collect().await?.to_bytes();
        if bytes
            .windows(DROP_CONNECTION.len())
            .any(|w| w == DROP_CONNECTION.as_bytes())
        {
            return Err("injected fault: connection dropped after the call".into());
        }
        Ok(http::Response::from_parts(
            parts,
            HttpBody::from(bytes.to_vec()),
        ))
    }
}
