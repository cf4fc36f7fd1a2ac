//! The modelda API: GraphQL over the index, chunk bytes over HTTP, and
//! inclusion proofs a client verifies without trusting the server.
//!
//! Routes (see [`router`]):
//! - `POST /graphql`: queries and the mutation; `GET /graphql`: GraphiQL
//!   (embedded, with its assets under `/graphiql/`), or, with a websocket
//!   upgrade, subscriptions (graphql-transport-ws);
//! - `GET /chunks/{commitment}`: a chunk's bytes, read from the DA layer and
//!   verified against the commitment before they are sent;
//! - `GET /advisories/osv.json`: the advisories this node believes, as
//!   OSV 1.7 documents;
//! - `GET /health`, `GET /metrics` (Prometheus text);
//! - `GET /`: the web explorer (built from `explorer/`, embedded), which
//!   also answers `/search`, `/model/...`, `/publisher/...`, `/rejections`.
//!
//! The schema follows the conventions of chain indexers: Relay connections
//! with opaque cursors, `_meta` for the indexed height and lag, stable
//! `extensions.code` on every error, and limits on depth, complexity,
//! aliases, page size, body size and time (see [`Limits`]).

mod archiver;
mod chunks;
mod cost;
mod embedded;
mod error;
mod explorer;
mod feed;
mod graphiql;
mod graphql;
mod http;
mod metrics;
mod progress;
mod proof;
mod state;

pub use archiver::{referenced, Archiver, Referenced, SweepTally};
pub use error::Code;
pub use graphql::{schema_sdl, ApiSchema};
pub use http::router;
pub use progress::{ArchiveProgress, PROGRESS_FILE};
pub use state::{Api, Limits};

#[cfg(test)]
mod tests;
