//! The web explorer: the page and its two assets, built by Vite from
//! `explorer/` and embedded in the binary (so `cargo build` needs no
//! Node.js). Every explorer URL answers the same page, which routes in the
//! browser; assets are sent gzip-compressed to clients that take it.
//!
//! The page loads nothing from elsewhere, and its Content-Security-Policy
//! says so: scripts, styles and connections to this origin only.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::io::Write as _;

/// The page and its assets, as `explorer/dist` holds them.
const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../explorer/dist/index.html"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../explorer/dist/assets/app.js"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../explorer/dist/assets/app.css"),
    ),
];

/// What the page may load: only this origin (websockets to it included).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file, with its ETag and gzip body, made on first use.
struct Asset {
    mime: &'static str,
    raw: &'static [u8],
    gzip: Vec<u8>,
    etag: String,
}

fn assets() -> &'static [Asset; 3] {
    static ASSETS: OnceLock<[Asset; 3]> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES.map(|(_, mime, raw)| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let gzip = gz
                .write_all(raw)
                .and_then(|()| gz.finish())
                .unwrap_or_default();
            Asset {
                mime,
                raw,
                gzip,
                etag: format!("\"{}\"", &blake3::hash(raw).to_hex()[..32]),
            }
        })
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn send(i: usize, headers: &HeaderMap) -> Response {
    let a = &assets()[i];
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&a.etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if accepts_gzip(headers) && !a.gzip.is_empty() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (h, a.gzip.clone()).into_response();
    }
    (h, a.raw).into_response()
}

async fn page(headers: HeaderMap) -> Response {
    send(0, &headers)
}

async fn script(headers: HeaderMap) -> Response {
    send(1, &headers)
}

async fn style(headers: HeaderMap) -> Response {
    send(2, &headers)
}

/// The explorer's routes: the page at `/` and at every path it routes
/// itself, and its assets.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/search", get(page))
        .route("/rejections", get(page))
        .route("/model/{id}", get(page))
        .route("/model/{id}/lineage", get(page))
        .route("/publisher/{key}", get(page))
        .route(FILES[1].0, get(script))
        .route(FILES[2].0, get(style))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_embedded_page_names_the_embedded_assets() {
        let page = std::str::from_utf8(FILES[0].2).unwrap();
        assert!(page.contains("src=\"/assets/app.js\""), "{page}");
        assert!(page.contains("href=\"/assets/app.css\""), "{page}");
        assert!(!page.contains("http://") && !page.contains("https://"));
        for a in assets() {
            assert!(!a.gzip.is_empty() && a.gzip.len() < a.raw.len().max(64));
        }
    }
}
