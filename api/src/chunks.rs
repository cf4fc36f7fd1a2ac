//! `GET /chunks/{commitment}`: a chunk's bytes, read from the DA layer and
//! checked against the commitment before a byte is sent.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use modelda_da::Locator;
use modelda_indexer::query::ChunkHit;
use modelda_merkle::leaf_cv;
use modelda_wire::{Envelope, Kind};

use crate::error::{ApiError, Code};
use crate::graphql::parse_hash;
use crate::http::AppState;
use crate::state::Api;

/// Most places tried for one chunk.
const MAX_PLACES: usize = 16;

/// The verified bytes of the chunk at `hit`, or why not.
async fn read_place(api: &Api, c: &[u8; 32], hit: &ChunkHit) -> Result<Vec<u8>, ApiError> {
    let corrupt = |why: String| {
        tracing::warn!(commitment = %hex::encode(c), place = %hit.blob, why, "a stored chunk does not verify");
        ApiError::new(Code::Corrupt, "the bytes read do not match the commitment")
    };
    let model = api
        .model(&hit.model_id)?
        .ok_or_else(|| ApiError::internal(format!("model {} is missing", hit.model_id)))?;
    let f = model
        .manifest
        .files
        .get(hit.file as usize)
        .ok_or_else(|| ApiError::internal("chunk file index past the manifest"))?;
    let loc: Locator = hit.blob.parse().map_err(ApiError::internal)?;
    let blob = api.blob(&loc).await?;
    let env = Envelope::decode_at(&blob, hit.place.offset as usize)
        .map_err(|e| corrupt(format!("envelope: {e}")))?;
    let ok = match env.header.kind {
        Kind::Data => {
            env.header.model == hit.model_id
                && env.header.leaf_index() == Some(hit.leaf)
                && leaf_cv(f.leaf_size, hit.leaf, &env.payload).as_bytes() == c
        }
        Kind::Whole => blake3::hash(&env.payload).as_bytes() == c,
        _ => false,
    };
    if !ok {
        return Err(corrupt(
            "the payload does not hash to the commitment".into(),
        ));
    }
    Ok(env.payload)
}

/// One `bytes=a-b` range of a body of `len` bytes.
fn range(headers: &HeaderMap, len: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return Some(Err(()));
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            len.saturating_sub(n)..len
        }
        (a, "") => a.parse().ok()?..len,
        (a, b) => a.parse().ok()?..b.parse::<u64>().ok()?.saturating_add(1).min(len),
    };
    Some(if r.start < r.end && r.start < len {
        Ok(r)
    } else {
        Err(())
    })
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Path(commitment): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let r = serve(&s.api, &commitment, &headers).await;
    let error = r.as_ref().is_err();
    s.api
        .inner
        .metrics
        .observe("chunk", started.elapsed(), error);
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn serve(api: &Api, commitment: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let c = parse_hash(commitment, "chunk commitment")?;
    let etag = format!("\"{}\"", hex::encode(c));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let places = api.index().chunk_places(&c, None, MAX_PLACES)?;
    if places.items.is_empty() {
        return Err(ApiError::new(
            Code::NotFound,
            format!("no indexed chunk has commitment {}", hex::encode(c)),
        ));
    }
    let mut last = None;
    for hit in &places.items {
        match read_place(api, &c, hit).await {
            Ok(mut bytes) => {
                fault(&c, &mut bytes);
                return Ok(respond(bytes, etag, headers));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one place was tried"))
}

/// Test hook: with the `fault-injection` feature,
/// `MODELDA_FAULT_CORRUPT_CHUNK=<commitment hex>` makes the server flip one
/// byte of that chunk after it verified it, as a lying server would: the
/// explorer's browser test checks that verification in the page fails.
/// Without the feature the variable is ignored.
#[cfg(feature = "fault-injection")]
fn fault(c: &[u8; 32], bytes: &mut [u8]) {
    let target = std::env::var("MODELDA_FAULT_CORRUPT_CHUNK").unwrap_or_default();
    if !bytes.is_empty() && target.eq_ignore_ascii_case(&hex::encode(c)) {
        tracing::warn!(commitment = %target, "fault injection: corrupting a chunk");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
fn fault(_: &[u8; 32], _: &mut [u8]) {}

fn respond(bytes: Vec<u8>, etag: String, headers: &HeaderMap) -> Response {
    let len = bytes.len() as u64;
    let common = [
        (header::ETAG, etag),
        (header::ACCEPT_RANGES, "bytes".to_string()),
        (
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable".to_string(),
        ),
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
    ];
    match range(headers, len) {
        None => (StatusCode::OK, common, bytes).into_response(),
        Some(Ok(r)) => {
            let part = bytes[r.start as usize..r.end as usize].to_vec();
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                [(
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{len}", r.start, r.end - 1),
                )],
                part,
            )
                .into_response()
        }
        Some(Err(())) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, v.parse().unwrap());
        m
    }

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        assert_eq!(range(&HeaderMap::new(), 10), None);
        assert_eq!(range(&h("bytes=0-3"), 10), Some(Ok(0..4)));
        assert_eq!(range(&h("bytes=4-"), 10), Some(Ok(4..10)));
        assert_eq!(range(&h("bytes=-3"), 10), Some(Ok(7..10)));
        assert_eq!(range(&h("bytes=5-100"), 10), Some(Ok(5..10)));
        assert_eq!(range(&h("bytes=10-12"), 10), Some(Err(())));
        assert_eq!(range(&h("bytes=0-1,3-4"), 10), Some(Err(())));
    }
}
