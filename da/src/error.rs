//! Errors of the DA layer crate.

use std::path::PathBuf;

/// Everything that can go wrong talking to a DA layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The layer proves only whole blobs, not runs of their shares.
    #[error("the {layer} layer proves only whole blobs, not parts of them")]
    WholeBlobsOnly {
        /// Which layer.
        layer: &'static str,
    },
    /// A blob larger than the layer accepts.
    #[error("blob of {size} bytes exceeds the {layer} limit of {limit} bytes; split it into smaller blobs")]
    BlobTooLarge {
        /// The layer.
        layer: &'static str,
        /// Blob size.
        size: usize,
        /// Largest blob the layer accepts.
        limit: usize,
    },
    /// An empty blob (no layer accepts them).
    #[error("empty blob: a blob must hold at least one byte")]
    EmptyBlob,
    /// A namespace that is malformed or reserved.
    #[error("invalid namespace {namespace}: {reason}")]
    Namespace {
        /// The namespace as given.
        namespace: String,
        /// What is wrong.
        reason: String,
    },
    /// A locator that is malformed, or of another layer.
    #[error("invalid locator {locator:?}: {reason}")]
    Locator {
        /// The locator as given.
        locator: String,
        /// What is wrong.
        reason: String,
    },
    /// Nothing is stored at the locator.
    #[error("no blob at {locator}")]
    NotFound {
        /// The locator.
        locator: String,
    },
    /// The layer no longer holds the data: it is older than the node's
    /// storage window (Celestia's pruned nodes keep 7 days and an hour,
    /// EigenDA about 14 days). Headers outlive it; blob bytes must come
    /// from an archive.
    #[error("{endpoint}: {what} is past the layer's storage window and was pruned ({detail})")]
    Pruned {
        /// The endpoint.
        endpoint: String,
        /// What was asked (a blob, a height).
        what: String,
        /// What the layer said.
        detail: String,
    },
    /// A height the chain has not reached.
    #[error("height {height} is beyond the chain head {head}")]
    FutureHeight {
        /// Requested height.
        height: u64,
        /// Current head.
        head: u64,
    },
    /// The node refused our credentials.
    #[error("{endpoint}: unauthorized (401): the auth token is missing, wrong or lacks the {needed} permission; pass it with --celestia-token-file or MODELDA_CELESTIA_TOKEN (for the devnet: `modelda devnet token --perm write`)")]
    Unauthorized {
        /// The endpoint.
        endpoint: String,
        /// Permission needed.
        needed: &'static str,
    },
    /// The account cannot pay the fee.
    #[error("insufficient funds: {detail}; fund the node's account or lower the gas price")]
    InsufficientFunds {
        /// What the node said.
        detail: String,
    },
    /// The EigenDA proxy said the cert must be dropped (418).
    #[error("EigenDA proxy rejected the cert (418, drop it): {detail}")]
    DropCert {
        /// What the proxy said.
        detail: String,
    },
    /// The layer asked us to slow down (429) and retries ran out.
    #[error("{endpoint}: rate limited (429) after {attempts} attempts")]
    RateLimited {
        /// The endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The layer is failing over (503) and retries ran out.
    #[error(
        "{endpoint}: service unavailable (503, failover) after {attempts} attempts; retry later"
    )]
    Unavailable {
        /// The endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A transport error (connection refused, reset, timeout) after retries.
    #[error(
        "{endpoint}: {detail} (after {attempts} attempts); is the node running and reachable?"
    )]
    Transport {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A submission was sent but no answer came back (the connection
    /// dropped or timed out after the request left): the blobs may or may
    /// not be included. Resubmitting now could post them twice; wait until
    /// the layer can no longer include them (see [`crate::Settlement`]),
    /// then list the heights.
    #[error("{endpoint}: the submission's outcome is unknown ({detail}): its blobs may still be included")]
    OutcomeUnknown {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The Avail light client cannot submit: it runs without an app id
    /// (light mode), so it serves no `/v2/submit`.
    #[error("{endpoint}: the Avail light client does not submit (404 on /v2/submit): start it in app mode with an app id and a funded identity key")]
    AvailNoSubmitter {
        /// The light client.
        endpoint: String,
    },
    /// The Avail light client is in app mode for another app id than the
    /// one configured.
    #[error("{endpoint}: the Avail light client serves app id {served}, not {wanted}; start it with --app-id {wanted} or pass --avail-app-id {served}")]
    AvailAppMismatch {
        /// The light client.
        endpoint: String,
        /// The app id it serves.
        served: u32,
        /// The app id configured here.
        wanted: u32,
    },
    /// The Avail node refused a submission (the light client reports every
    /// node error as a bare 500): an app id the chain has not registered,
    /// or an account that cannot pay.
    #[error("{endpoint}: the Avail node refused the submission (HTTP 500): the app id {app_id} may not be registered on this chain (create it with dataAvailability.createApplicationKey), or the light client's account cannot pay")]
    AvailSubmitRefused {
        /// The light client.
        endpoint: String,
        /// The app id.
        app_id: u32,
    },
    /// A block that is not final (or not yet sampled by the light client)
    /// after waiting.
    #[error("block {height} is not finished on the Avail light client after {waited_secs} s (status {status}); try again later")]
    NotFinal {
        /// The block.
        height: u64,
        /// Its last status.
        status: String,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The layer answered with an error we do not map more precisely.
    #[error("{endpoint}: {detail}")]
    Remote {
        /// The endpoint.
        endpoint: String,
        /// What the layer said.
        detail: String,
    },
    /// An inclusion proof that does not verify.
    #[error("inclusion proof for {locator} does not verify: {reason}")]
    BadProof {
        /// The locator.
        locator: String,
        /// What failed.
        reason: String,
    },
    /// The local chain's store failed.
    #[error("local chain at {path}: {detail}")]
    Store {
        /// The data directory.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// Building a data square or proof failed.
    #[error("data square at height {height}: {detail}")]
    Square {
        /// Height.
        height: u64,
        /// What failed.
        detail: String,
    },
    /// A record on the layer that does not check out (or a page of it
    /// that is not what the record names).
    #[error(transparent)]
    Record(Box<modelda_wire::Error>),
    /// A local I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this is a submission whose blobs may or may not be included.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    /// Whether the layer said the data is past its storage window.
    pub fn is_pruned(&self) -> bool {
        matches!(self, Error::Pruned { .. })
    }
}

/// Result type of this crate.
impl Error {
    /// A record's check failed.
    pub fn record(e: modelda_wire::Error) -> Self {
        Error::Record(Box::new(e))
    }
}

impl From<modelda_core::Error> for Error {
    fn from(e: modelda_core::Error) -> Self {
        use modelda_core::Error as E;
        match e {
            E::Namespace { namespace, reason } => Error::Namespace { namespace, reason },
            E::Locator { locator, reason } => Error::Locator { locator, reason },
            E::BadProof { locator, reason } => Error::BadProof { locator, reason },
            E::Square { height, detail } => Error::Square { height, detail },
            other => Error::Remote {
                endpoint: "core".into(),
                detail: other.to_string(),
            },
        }
    }
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
