//! GraphiQL, the page a browser gets at `GET /graphql`: built by the
//! explorer's build into `explorer/dist/graphiql/` (the UMD builds of React,
//! ReactDOM and GraphiQL from npm, a page and its bootstrap) and embedded in
//! the binary like the explorer, so that it works on a machine without
//! internet. It queries `/graphql` and subscribes over a websocket on the
//! same path (graphql-transport-ws).
//!
//! Its Content-Security-Policy allows scripts and connections to this
//! origin only. Styles may also be inline: GraphiQL's dialogs add `<style>`
//! elements, and its fonts are `data:` URLs in its stylesheet.

use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::embedded::{File, CSS, HTML, JS, TEXT};

/// The page, served at `/graphql` (to a GET without a websocket upgrade).
static PAGE: File = File::new(
    "/graphql",
    HTML,
    include_bytes!("../../explorer/dist/graphiql/index.html"),
);

/// What the page loads, and the licenses of what it embeds.
static ASSETS: [File; 7] = [
    File::new(
        "/graphiql/react.production.min.js",
        JS,
        include_bytes!("../../explorer/dist/graphiql/react.production.min.js"),
    ),
    File::new(
        "/graphiql/react-dom.production.min.js",
        JS,
        include_bytes!("../../explorer/dist/graphiql/react-dom.production.min.js"),
    ),
    File::new(
        "/graphiql/graphiql.min.js",
        JS,
        include_bytes!("../../explorer/dist/graphiql/graphiql.min.js"),
    ),
    File::new(
        "/graphiql/graphiql.min.css",
        CSS,
        include_bytes!("../../explorer/dist/graphiql/graphiql.min.css"),
    ),
    File::new(
        "/graphiql/start.js",
        JS,
        include_bytes!("../../explorer/dist/graphiql/start.js"),
    ),
    File::new(
        "/graphiql/page.css",
        CSS,
        include_bytes!("../../explorer/dist/graphiql/page.css"),
    ),
    File::new(
        "/graphiql/LICENSES.txt",
        TEXT,
        include_bytes!("../../explorer/dist/graphiql/LICENSES.txt"),
    ),
];

/// What GraphiQL may load: scripts and connections (websockets included)
/// to this origin only; see the module's documentation for styles.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The GraphiQL page.
pub(crate) fn page(headers: &HeaderMap) -> Response {
    PAGE.send(CSP, headers)
}

/// The routes of GraphiQL's assets, under `/graphiql/`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new();
    for f in &ASSETS {
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

    /// Every `src` and `href` of the page.
    fn references(page: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for attr in ["src=\"", "href=\""] {
            let mut rest = page;
            while let Some(at) = rest.find(attr) {
                rest = &rest[at + attr.len()..];
                let end = rest.find('"').unwrap();
                out.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
        out
    }

    #[test]
    fn the_page_loads_only_embedded_files() {
        let page = std::str::from_utf8(PAGE.raw()).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("<style") && !page.contains("<script>"));
        let refs = references(page);
        assert_eq!(refs.len(), 7, "{refs:?}");
        for r in refs {
            assert!(
                r == "data:," || ASSETS.iter().any(|f| f.path == r),
                "{r} is not embedded"
            );
        }
        for f in &ASSETS {
            assert!(!f.raw().is_empty(), "{}", f.path);
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_the_policy() {
        use tower::ServiceExt as _;
        let router: Router = routes();
        for f in &ASSETS {
            let req = axum::http::Request::get(f.path)
                .header("accept-encoding", "gzip")
                .body(axum::body::Body::empty())
                .unwrap();
            let res = router.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200, "{}", f.path);
            assert_eq!(res.headers()["content-encoding"], "gzip", "{}", f.path);
            assert_eq!(res.headers()["content-security-policy"], CSP);
        }
    }
}
