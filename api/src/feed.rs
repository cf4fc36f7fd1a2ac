//! `GET /advisories/osv.json`: the advisories this node believes (each
//! model's publisher's, and those of the keys it trusts), as OSV 1.7
//! documents, oldest first. A withdrawn advisory is listed with
//! `withdrawn` set; one its key replaced with a later advisory is listed
//! as withdrawn at the time the replacement was published, so a consumer
//! that kept an earlier copy of the feed learns that it no longer holds.
//! Third-party reports are not in the feed (they are in the GraphQL API,
//! marked).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use modelda_indexer::query::MAX_PAGE;
use modelda_wire::advisory::Osv;

use crate::error::ApiError;
use crate::state::Api;

/// Most advisories one feed request reads (believed or not). Past it, the
/// answer says it is cut (`X-Modelda-Feed-Truncated: true`).
pub const MAX_FEED_SCAN: usize = 100_000;

/// The feed's documents, and whether the scan was cut.
fn documents(api: &Api) -> Result<(Vec<Osv>, bool), ApiError> {
    let index = api.index();
    let trust = api.advisory_trust();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    let mut read = 0usize;
    loop {
        let page = index.advisories(None, after.as_deref(), MAX_PAGE)?;
        for a in &page.items {
            read += 1;
            if !index.standing(a, trust)?.believed() {
                continue;
            }
            let mut osv = a.osv.clone();
            let ended = match (&a.withdrawn, a.replaced_by) {
                (Some(w), _) => Some(w.clone()),
                (None, Some(r)) => index
                    .advisory_at(r)?
                    .map(|n| n.osv.published.unwrap_or(n.osv.modified)),
                (None, None) => None,
            };
            if let Some(t) = ended {
                osv.modified = t.clone();
                osv.withdrawn = Some(t);
            }
            out.push(osv);
        }
        if read >= MAX_FEED_SCAN {
            return Ok((out, page.next.is_some()));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok((out, false)),
        }
    }
}

pub(crate) async fn osv(State(api): State<Api>) -> Response {
    let a = api.clone();
    let r = api
        .reading_index(move || {
            let (docs, cut) = documents(&a)?;
            let body = serde_json::to_vec(&docs).map_err(ApiError::internal)?;
            Ok((body, cut))
        })
        .await;
    match r {
        Ok((body, cut)) => {
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            if cut {
                resp.headers_mut()
                    .insert("x-modelda-feed-truncated", HeaderValue::from_static("true"));
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}
