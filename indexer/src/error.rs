//! Errors of the indexer.

use std::path::PathBuf;

/// Everything that can stop the indexer. A bad record is not an error: it
/// is a [`crate::schema::Rejection`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The index's RocksDB failed.
    #[error("index {}: {detail}", path.display())]
    Store {
        /// The index directory.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A value in the index that this build cannot read.
    #[error("index {}: {what} is corrupt ({detail}); rebuild it with `modelda index rebuild`", path.display())]
    Corrupt {
        /// The index directory.
        path: PathBuf,
        /// Which value.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// An index written by another layout.
    #[error("index {}: written with layout version {found}, this build reads {supported}; rebuild it with `modelda index rebuild`", path.display())]
    Schema {
        /// The index directory.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// An index that follows another layer or namespace.
    #[error("index {}: it follows {found}, not {wanted}; use another --index-dir", path.display())]
    OtherSource {
        /// The index directory.
        path: PathBuf,
        /// What it follows.
        found: String,
        /// What was asked for.
        wanted: String,
    },
    /// No index in the directory.
    #[error("no index in {}: run `modelda index` first (or pass --index-dir)", path.display())]
    NoIndex {
        /// The directory.
        path: PathBuf,
    },
    /// The layer cannot be followed (EigenDA), or a locator of another layer.
    #[error("{0}")]
    Unsupported(String),
    /// A record given to `register` that was refused.
    #[error("record {locator} refused ({code}): {message}")]
    Rejected {
        /// The locator.
        locator: String,
        /// Reason code.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// The DA layer failed.
    #[error(transparent)]
    Da(#[from] modelda_da::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
