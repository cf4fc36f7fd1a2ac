//! The EigenDA-proxy-compatible REST API of the devnet (standard commitment
//! mode, memstore semantics, payloads kept in [`MemStore`] files).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::{TcpListener, TcpStream};

use super::faults::{before_request, roll, Faults, Injected};
use crate::memstore::MemStore;
use crate::Node;
use modelda_da::eigenda::MAX_PAYLOAD_BYTES;
use modelda_da::Cert;

#[derive(Clone)]
struct AppState {
    store: MemStore,
    faults: Arc<Faults>,
    /// The chain: its head dates a dispersal, and its storage window
    /// expires blobs.
    node: Arc<Node>,
}

#[derive(serde::Deserialize)]
struct Mode {
    commitment_mode: Option<String>,
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (status, [("content-type", "text/plain; charset=utf-8")], m).into_response()
}

async fn faults(state: &AppState) -> Option<Response> {
    before_request(&state.faults).await.map(|i| match i {
        Injected::Failover => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected failover: retry later",
        ),
        Injected::Error => text(StatusCode::TOO_MANY_REQUESTS, "injected rate limit"),
    })
}

fn standard(mode: &Mode) -> Option<Response> {
    match mode.commitment_mode.as_deref() {
        Some("standard") => None,
        _ => Some(text(
            StatusCode::BAD_REQUEST,
            "only commitment_mode=standard is served by the modelda devnet",
        )),
    }
}

async fn put(
    State(s): State<AppState>,
    Query(mode): Query<Mode>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if let Some(r) = faults(&s).await {
        return r;
    }
    // The proxy maps its body-size limit, like its oversized-blob error,
    // to 400 (never 413).
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("payload rejected: {e} (the limit is {MAX_PAYLOAD_BYTES} bytes)"),
            )
        }
    };
    if let Some(r) = standard(&mode) {
        return r;
    }
    if body.is_empty() {
        return text(StatusCode::BAD_REQUEST, "empty payload");
    }
    if body.len() > MAX_PAYLOAD_BYTES {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "payload of {} bytes is too large: the limit is {MAX_PAYLOAD_BYTES}",
                body.len()
            ),
        );
    }
    let store = s.store.clone();
    let height = s.node.head();
    match tokio::task::spawn_blocking(move || store.put(&body, height)).await {
        Ok(Ok(cert)) => (StatusCode::OK, cert.as_bytes().to_vec()).into_response(),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_cert(
    State(s): State<AppState>,
    Path(cert): Path<String>,
    Query(mode): Query<Mode>,
) -> Response {
    if let Some(r) = faults(&s).await {
        return r;
    }
    if let Some(r) = standard(&mode) {
        return r;
    }
    let cert: Cert = match cert.parse() {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad cert: {e}")),
    };
    if cert.as_bytes()[0] > 0x03 {
        return text(
            StatusCode::BAD_REQUEST,
            format!("unsupported version byte {:#04x}", cert.as_bytes()[0]),
        );
    }
    let store = s.store.clone();
    let key = blake3::hash(cert.as_bytes()).to_hex();
    match tokio::task::spawn_blocking(move || store.get(&cert)).await {
        // Past the storage window: the relays no longer hold the blob, and
        // the proxy passes their "not found" on as a 500 (as it does for a
        // cert it never issued: a client cannot tell the two apart).
        Ok(Ok(Some((_, Some(h))))) if s.node.pruned(h) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("get blob from relays: blob {key} not found"),
        ),
        Ok(Ok(Some((p, _)))) => (StatusCode::OK, p).into_response(),
        // The proxy answers 500 for an unknown or expired cert.
        Ok(Ok(None)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "blob not found for this cert",
        ),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn config() -> Response {
    axum::Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "chain_id": "",
        "directory_address": "",
        "cert_verifier_address": "",
        "max_payload_size_bytes": MAX_PAYLOAD_BYTES,
        "apis_enabled": ["standard"],
        "read_only_mode": false,
    }))
    .into_response()
}

/// The REST router over `node`'s chain.
pub fn router(store: MemStore, faults: Arc<Faults>, node: Arc<Node>) -> Router {
    Router::new()
        .route("/put", post(put))
        .route("/get/{cert}", get(get_cert))
        .route("/health", get(health))
        .route("/config", get(config))
        .layer(DefaultBodyLimit::max(16 << 20))
        .with_state(AppState {
            store,
            faults,
            node,
        })
}

/// A listener that drops a fraction of accepted connections.
pub struct DroppingListener {
    inner: TcpListener,
    faults: Arc<Faults>,
}

impl DroppingListener {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, faults: Arc<Faults>) -> Self {
        DroppingListener { inner, faults }
    }
}

impl axum::serve::Listener for DroppingListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((s, a)) if roll(self.faults.drop_rate) => {
                    tracing::debug!(peer = %a, "injected fault: dropping connection");
                    drop(s);
                }
                Ok(pair) => return pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
