//! Files built into the binary (the explorer's page and assets, GraphiQL),
//! served with an ETag, gzip-compressed to clients that take it, and the
//! Content-Security-Policy of the page they belong to.

use std::io::Write as _;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `text/html`.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// `text/javascript`.
pub(crate) const JS: &str = "text/javascript; charset=utf-8";
/// `text/css`.
pub(crate) const CSS: &str = "text/css; charset=utf-8";
/// `text/plain`.
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// One embedded file at its URL path.
pub(crate) struct File {
    /// Where it is served.
    pub path: &'static str,
    mime: &'static str,
    raw: &'static [u8],
    /// Its ETag and gzip body, made on its first request (a megabyte of
    /// GraphiQL is not compressed for a server nobody opens it on).
    derived: OnceLock<(String, Vec<u8>)>,
}

impl File {
    /// `raw`, served at `path` as `mime`.
    pub(crate) const fn new(path: &'static str, mime: &'static str, raw: &'static [u8]) -> Self {
        File {
            path,
            mime,
            raw,
            derived: OnceLock::new(),
        }
    }

    /// Its bytes.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &'static [u8] {
        self.raw
    }

    /// Its gzip-compressed bytes (empty if compressing failed).
    #[cfg(test)]
    pub(crate) fn gzip(&self) -> &[u8] {
        &self.derived().1
    }

    fn derived(&self) -> &(String, Vec<u8>) {
        self.derived.get_or_init(|| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let gzip = gz
                .write_all(self.raw)
                .and_then(|()| gz.finish())
                .unwrap_or_default();
            let etag = format!("\"{}\"", &blake3::hash(self.raw).to_hex()[..32]);
            (etag, gzip)
        })
    }

    /// The answer to a GET of it, under the policy `csp`.
    pub(crate) fn send(&self, csp: &'static str, headers: &HeaderMap) -> Response {
        let (etag, gzip) = self.derived();
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.mime));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
        if fresh {
            return (StatusCode::NOT_MODIFIED, h).into_response();
        }
        if accepts_gzip(headers) && !gzip.is_empty() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            return (h, gzip.clone()).into_response();
        }
        (h, self.raw).into_response()
    }
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
}
