//! The web explorer: the page and its two assets, built by Vite from
//! `explorer/` and embedded in the binary (so `cargo build` needs no
//! Node.js). Every explorer URL answers the same page, which routes in the
//! browser; assets are sent gzip-compressed to clients that take it.
//!
//! The page loads nothing from elsewhere, and its Content-Security-Policy
//! says so: scripts, styles and connections to this origin only.

use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::embedded::{File, CSS, HTML, JS};

/// The page and its assets, as `explorer/dist` holds them.
static FILES: [File; 3] = [
    File::new("/", HTML, include_bytes!("../../explorer/dist/index.html")),
    File::new(
        "/assets/app.js",
        JS,
        include_bytes!("../../explorer/dist/assets/app.js"),
    ),
    File::new(
        "/assets/app.css",
        CSS,
        include_bytes!("../../explorer/dist/assets/app.css"),
    ),
];

/// What the page may load: only this origin (websockets to it included).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn page(headers: HeaderMap) -> Response {
    FILES[0].send(CSP, &headers)
}

/// The explorer's routes: the page at `/` and at every path it routes
/// itself, and its assets.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new()
        .route("/", get(page))
        .route("/search", get(page))
        .route("/rejections", get(page))
        .route("/model/{id}", get(page))
        .route("/model/{id}/lineage", get(page))
        .route("/publisher/{key}", get(page))
        .route("/advisory/{id}", get(page));
    for f in &FILES[1..] {
        r = r.route(
            f.path,
            get(move |headers: HeaderMap| async move { f.send(CSP, &headers) }),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_page_names_the_embedded_assets() {
        let page = std::str::from_utf8(FILES[0].raw()).unwrap();
        assert!(page.contains("src=\"/assets/app.js\""), "{page}");
        assert!(page.contains("href=\"/assets/app.css\""), "{page}");
        assert!(!page.contains("http://") && !page.contains("https://"));
        for f in &FILES {
            assert!(!f.gzip().is_empty() && f.gzip().len() < f.raw().len().max(64));
        }
    }
}
