//! The HTTP routes: GraphQL (queries over POST, GraphiQL and subscriptions
//! over GET), chunks, health and metrics.

use std::time::Instant;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt as _;

use crate::error::{graphql_error, Code};
use crate::graphql::{self, ApiSchema};
use crate::state::Api;

#[derive(Clone)]
pub(crate) struct AppState {
    pub api: Api,
    pub schema: ApiSchema,
}

impl axum::extract::FromRef<AppState> for Api {
    fn from_ref(s: &AppState) -> Api {
        s.api.clone()
    }
}

/// The API's routes over `api`.
pub fn router(api: Api) -> Router {
    let schema = graphql::schema(api.clone());
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/chunks/{commitment}", get(crate::chunks::get))
        .route("/blobs/{locator}", get(crate::chunks::blob))
        .route("/kits/{locator}", get(crate::chunks::kit))
        .route("/advisories/osv.json", get(crate::feed::osv))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(crate::explorer::routes())
        .merge(crate::graphiql::routes())
        .with_state(AppState { api, schema })
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The operation a request is counted under (its name, or its first root
/// field), and whether it is a single query (whose answer may be cached).
fn operation(req: &async_graphql::Request) -> (String, bool) {
    use async_graphql::parser::types::{OperationType, Selection};
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return ("invalid".into(), false);
    };
    let mut ops = doc.operations.iter();
    let Some((_, op)) = ops.next() else {
        return ("anonymous".into(), false);
    };
    let query = op.node.ty == OperationType::Query && ops.next().is_none();
    if let Some(name) = &req.operation_name {
        return (name.clone(), query);
    }
    let name = op
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "anonymous".into());
    (name, query)
}

/// Whether the request's operation asks for an inclusion proof (a field
/// `inclusionProof` at its top level).
fn asks_for_proof(req: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::Selection;
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return false;
    };
    doc.operations.iter().any(|(_, op)| {
        op.node
            .selection_set
            .node
            .items
            .iter()
            .any(|s| matches!(&s.node, Selection::Field(f) if f.node.name.node == "inclusionProof"))
    })
}

async fn graphql_post(State(s): State<AppState>, body: Body) -> Response {
    let started = Instant::now();
    let limits = s.api.limits().clone();
    let bytes = match http_body_util::Limited::new(body, limits.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            s.api
                .inner
                .metrics
                .observe("body_too_large", started.elapsed(), true);
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &graphql_error(
                    Code::BodyTooLarge,
                    &format!(
                        "the request body is over {} bytes; send a smaller query",
                        limits.max_body_bytes
                    ),
                ),
            );
        }
    };
    // A query asked again while the index and the head are unchanged has
    // the same answer.
    let key = *blake3::hash(&bytes).as_bytes();
    if let Some(hit) = s.api.cached_answer(&key) {
        s.api
            .inner
            .metrics
            .observe(&hit.op, started.elapsed(), false);
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            hit.body,
        )
            .into_response();
    }
    let state = s.api.answer_state();
    let req: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &graphql_error(
                    Code::BadQuery,
                    &format!("the body is not a GraphQL request (JSON with a `query`): {e}"),
                ),
            )
        }
    };
    let (op, is_query) = operation(&req);
    // Proofs read and hash blob data: they get their own, longer deadline.
    let deadline = if asks_for_proof(&req) {
        limits.proof_timeout
    } else {
        limits.timeout
    };
    let req = req.data(graphql::request_loader(&s.api));
    // The deadline wins a tie with the answer.
    let answer = tokio::select! {
        biased;
        _ = tokio::time::sleep(deadline) => None,
        r = s.schema.execute(req) => Some(r),
    };
    // An answer finished past the deadline is late all the same.
    let answer = answer.filter(|_| started.elapsed() <= deadline);
    let Some(r) = answer else {
        s.api.inner.metrics.observe(&op, started.elapsed(), true);
        return json_response(
            StatusCode::OK,
            &graphql_error(
                Code::Timeout,
                &format!(
                    "the request ran over {} ms; ask for less, or ask again (a proof still \
                     being built goes on, and the same request gets it)",
                    deadline.as_millis()
                ),
            ),
        );
    };
    let error = r.is_err();
    s.api.inner.metrics.observe(&op, started.elapsed(), error);
    let Ok(body) = serde_json::to_vec(&r) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = axum::body::Bytes::from(body);
    // Only an answer computed on one state of the index is kept.
    if is_query && !error && s.api.answer_state() == state {
        s.api.remember_answer(
            key,
            crate::state::Answer {
                op: op.as_str().into(),
                sequence: state.0,
                head: state.1,
                body: body.clone(),
            },
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn graphql_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    protocol: Result<GraphQLProtocol, StatusCode>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match (ws, protocol) {
        (Ok(ws), Ok(protocol)) => {
            let mut data = async_graphql::Data::default();
            data.insert(graphql::request_loader(&s.api));
            let schema = s.schema.clone();
            ws.protocols(ALL_WEBSOCKET_PROTOCOLS)
                .on_upgrade(move |socket| {
                    GraphQLWebSocket::new(socket, schema, protocol)
                        .with_data(data)
                        .serve()
                })
                .into_response()
        }
        // A browser: GraphiQL, embedded in the binary.
        _ => crate::graphiql::page(&headers),
    }
}

async fn health(State(s): State<AppState>) -> Response {
    let started = Instant::now();
    let r = Json(serde_json::json!({
        "status": "ok",
        "height": s.api.index().checkpoint(),
        "head": s.api.head(),
    }))
    .into_response();
    s.api
        .inner
        .metrics
        .observe("health", started.elapsed(), false);
    r
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    crate::metrics::render_index(
        s.api.index(),
        s.api.head(),
        s.api.loader_batches(),
        &mut out,
    );
    crate::metrics::render_sources(&s.api.inner.sources, &mut out);
    if let Some(p) = s.api.archive_progress() {
        let records = s.api.index().counts().map(|c| c.records).unwrap_or(0);
        let errors = s
            .api
            .inner
            .archive_errors
            .load(std::sync::atomic::Ordering::Relaxed);
        crate::metrics::render_archive(&p, records, errors, &mut out);
    }
    s.api.inner.metrics.render(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
