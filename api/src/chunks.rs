//! `GET /chunks/{commitment}`: a chunk's bytes, from the first chunk
//! source that gives bytes matching the commitment (the cache, the archive,
//! the DA layer), or rebuilt from its stripe's parity; checked before a
//! byte is sent.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use modelda_archive::{LeafKey, Place, Want};
use modelda_da::Locator;
use modelda_indexer::query::ChunkHit;
use modelda_publisher::fetch::Fetcher;

use crate::error::{ApiError, Code};
use crate::graphql::parse_hash;
use crate::state::{pruned, Api};

/// Most places tried for one chunk.
const MAX_PLACES: usize = 16;

/// Most publications whose stripes are tried for a rebuild.
const MAX_REBUILDS: usize = 2;

/// The leaf `c` of the indexed chunk `hit`, and the places of `hits`.
fn want(api: &Api, c: &[u8; 32], hits: &[ChunkHit]) -> Result<Want, ApiError> {
    let hit = &hits[0];
    let model = api
        .model(&hit.model_id)?
        .ok_or_else(|| ApiError::internal(format!("model {} is missing", hit.model_id)))?;
    let f = model
        .manifest
        .files
        .get(hit.file as usize)
        .ok_or_else(|| ApiError::internal("chunk file index past the manifest"))?;
    let key = LeafKey::in_file(f, hit.leaf, *c)
        .ok_or_else(|| ApiError::internal("an indexed chunk is not a leaf of its file"))?;
    let places = hits
        .iter()
        .filter_map(|h| {
            Some(Place {
                locator: h.blob.parse().ok()?,
                offset: h.place.offset,
            })
        })
        .collect();
    Ok(Want { key, places })
}

/// The leaf of `hit` rebuilt from the rest of its stripe and its parity,
/// read from the layer through the publication's record (each shard, and
/// the rebuilt leaf, checked).
async fn rebuild(api: &Api, hit: &ChunkHit) -> Result<Bytes, String> {
    let p = api
        .index()
        .publication(hit.publication)
        .map_err(|e| e.to_string())?
        .ok_or("the publication is not indexed")?;
    let loc: Locator = p.record.parse().map_err(|e| format!("{e}"))?;
    let layer = api.layer_for(&loc).map_err(|e| e.message)?.clone();
    let root = api.blob(&loc).await.map_err(|e| e.message)?;
    let rec =
        modelda_da::read::open_record_blob(layer.as_ref(), &loc, &root, Some(hit.model_id), None)
            .await
            .map_err(|e| format!("record {loc}: {e}"))?;
    let mut fetcher = Fetcher::new(layer, std::sync::Arc::new(rec)).map_err(|e| e.to_string())?;
    let mut leaves = fetcher
        .leaves(hit.file as usize, hit.place.stripe, hit.leaf..hit.leaf + 1)
        .await
        .map_err(|e| e.to_string())?;
    Ok(leaves.pop().ok_or("no leaf rebuilt")?.into())
}

/// `GET /blobs/{locator}`: a whole blob (a record page, say), from the
/// layer or, past its storage window, the archive. A client checks it
/// against its locator (square layers) or by opening the record it holds
/// (its signatures).
pub(crate) async fn blob(State(api): State<Api>, Path(locator): Path<String>) -> Response {
    let started = Instant::now();
    let r = async {
        let loc: Locator = locator.parse().map_err(|e| {
            ApiError::new(Code::BadInput, format!("{locator:?} is not a locator: {e}"))
        })?;
        let bytes = api.blob(&loc).await?;
        Ok::<_, ApiError>(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                bytes.as_ref().clone(),
            )
                .into_response(),
        )
    }
    .await;
    api.inner
        .metrics
        .observe("blob", started.elapsed(), r.is_err());
    r.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /kits/{locator}`: the archive's kit of a blob (its leaves by name,
/// its other bytes, its compact inclusion proof), as another node's
/// `archive sync` reads it. Whoever reads it checks everything in it.
pub(crate) async fn kit(State(api): State<Api>, Path(locator): Path<String>) -> Response {
    let started = Instant::now();
    let r = async {
        let loc: Locator = locator.parse().map_err(|e| {
            ApiError::new(Code::BadInput, format!("{locator:?} is not a locator: {e}"))
        })?;
        let Some(archive) = api.archive() else {
            return Err(ApiError::new(
                Code::NotFound,
                "this node keeps no archive (start it with --archive)",
            ));
        };
        let raw = archive
            .get_note(
                &modelda_archive::kit_name(&loc),
                modelda_archive::MAX_KIT_BYTES,
            )
            .await
            .map_err(|e| ApiError::new(Code::LayerUnavailable, format!("the archive: {e}")))?
            .ok_or_else(|| {
                ApiError::new(Code::NotFound, format!("the archive holds no kit of {loc}"))
            })?;
        Ok::<_, ApiError>(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                raw,
            )
                .into_response(),
        )
    }
    .await;
    api.inner
        .metrics
        .observe("kit", started.elapsed(), r.is_err());
    r.unwrap_or_else(IntoResponse::into_response)
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
    State(api): State<Api>,
    Path(commitment): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let r = serve(&api, &commitment, &headers).await;
    let error = r.as_ref().is_err();
    api.inner.metrics.observe("chunk", started.elapsed(), error);
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
    let want = want(api, &c, &places.items)?;
    let sources = &api.inner.sources;
    let e = match sources.get(&want).await {
        Ok(got) => return Ok(respond(fault(&c, got.bytes), etag, headers)),
        Err(e) => e,
    };
    // No source gave it: its stripe's parity may still rebuild it.
    // One try per publication, at most a few: each opens a record and
    // reads a stripe.
    let mut tried = Vec::new();
    for hit in &places.items {
        if tried.contains(&hit.publication) || tried.len() >= MAX_REBUILDS {
            continue;
        }
        tried.push(hit.publication);
        match rebuild(api, hit).await {
            Ok(bytes) if want.key.check(&bytes) => {
                if let Err(e) = sources.keep(&want.key, &bytes).await {
                    tracing::warn!(leaf = %want.key, error = %e, "a rebuilt leaf could not be kept");
                }
                return Ok(respond(fault(&c, bytes), etag, headers));
            }
            Ok(_) => tracing::warn!(leaf = %want.key, "a leaf rebuilt from parity does not check"),
            Err(why) => tracing::debug!(leaf = %want.key, why, "no rebuild from parity"),
        }
    }
    tracing::warn!(leaf = %want.key, error = %e, "no source gave a chunk");
    let what = format!("chunk {}", hex::encode(c));
    Err(if e.lies() > 0 {
        ApiError::new(
            Code::Corrupt,
            format!(
                "the bytes read for {what} do not match the commitment{}",
                if e.is_pruned() {
                    " (the archive's copy is corrupt, and the DA layer has pruned the data it \
                     could be rebuilt from): `modelda archive verify --delete` drops bad copies; \
                     fill the archive from a node that has it"
                } else {
                    ""
                }
            ),
        )
    } else if e.is_pruned() {
        pruned(&what, api.archive().is_some())
    } else {
        ApiError::new(
            Code::LayerUnavailable,
            format!("no source gave {what} (the DA layer did not return it, and its stripe could not be rebuilt); try again"),
        )
    })
}

/// Test hook: with the `fault-injection` feature,
/// `MODELDA_FAULT_CORRUPT_CHUNK=<commitment hex>` makes the server flip one
/// byte of that chunk after it verified it, as a lying server would: the
/// explorer's browser test checks that verification in the page fails.
/// Without the feature the variable is ignored.
#[cfg(feature = "fault-injection")]
fn fault(c: &[u8; 32], bytes: Bytes) -> Bytes {
    let mut bytes = bytes.to_vec();
    let target = std::env::var("MODELDA_FAULT_CORRUPT_CHUNK").unwrap_or_default();
    if !bytes.is_empty() && target.eq_ignore_ascii_case(&hex::encode(c)) {
        tracing::warn!(commitment = %target, "fault injection: corrupting a chunk");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
    }
    bytes.into()
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
fn fault(_: &[u8; 32], bytes: Bytes) -> Bytes {
    bytes
}

fn respond(bytes: Bytes, etag: String, headers: &HeaderMap) -> Response {
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
            let part = bytes.slice(r.start as usize..r.end as usize);
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
