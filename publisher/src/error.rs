//! Errors of the publisher crate.

use std::path::PathBuf;

/// Everything that can go wrong publishing or fetching a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Too few shards survive to rebuild a stripe.
    #[error("stripe {stripe}: only {present} of {data}+{parity} shards are intact; at least {data} are needed")]
    Unrecoverable {
        /// Stripe.
        stripe: u64,
        /// Shards present.
        present: usize,
        /// Data shards.
        data: usize,
        /// Parity shards.
        parity: usize,
    },
    /// A shard whose envelope cannot fit in one blob of the layer.
    #[error("{path}: a shard envelope of {envelope} bytes does not fit in a blob of at most {limit} bytes; use a smaller leaf size")]
    ShardTooLarge {
        /// File.
        path: String,
        /// Envelope size.
        envelope: usize,
        /// Blob limit.
        limit: usize,
    },
    /// A file system error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process holds the journal.
    #[error("{}: another modelda process is publishing this model with the same options; wait for it, or stop it", path.display())]
    JournalLocked {
        /// The journal.
        path: PathBuf,
    },
    /// A journal line in the middle of the file fails its checksum.
    #[error("{}: line {line} is corrupt (checksum or JSON); the journal cannot be trusted: move it away and publish again (blobs already on the layer are found again there)", path.display())]
    JournalCorrupt {
        /// The journal.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
    },
    /// A resumed publish with a different key than the one it started with.
    #[error("{}: this publish was started with key {started}, not with the given key {given}; resume it with the key it was started with, or move the journal away to start over", journal.display())]
    KeyMismatch {
        /// The journal.
        journal: PathBuf,
        /// Hint of the key it started with.
        started: String,
        /// Hint of the key given now.
        given: String,
    },
    /// A model directory signed by another key than the one given.
    #[error("{}: the model is signed by key {signed}, not by the given key {given}; publish with that key, or sign it again with this one", path.display())]
    SignedByOtherKey {
        /// The claims bundle.
        path: PathBuf,
        /// Hint of the key that signed it.
        signed: String,
        /// Hint of the key given.
        given: String,
    },
    /// A model file whose bytes differ from what was committed.
    #[error("{path}: leaf {leaf} (bytes {offset}..) changed since the model was committed; nothing was recorded for this model: publish again, signing the model again to commit the new bytes")]
    FileChanged {
        /// File.
        path: String,
        /// Leaf index.
        leaf: u64,
        /// Byte offset of the leaf.
        offset: u64,
    },
    /// A model file whose size changed since it was committed.
    #[error("{path} is now {now} bytes but was {was} when the model was committed; nothing was recorded for this model: publish again, signing the model again to commit the new bytes")]
    FileResized {
        /// File.
        path: String,
        /// Committed size.
        was: u64,
        /// Size now.
        now: u64,
    },
    /// An option out of range.
    #[error("{option}: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A model file that vanished during a publish.
    #[error("{path} vanished during the publish; nothing was recorded for this model: restore it and run the same command again (confirmed blobs are kept)")]
    FileGone {
        /// File.
        path: String,
    },
    /// A publication record that is malformed, badly signed or inconsistent.
    #[error("publication record {locator}: {reason}")]
    BadRecord {
        /// Where it was read.
        locator: String,
        /// What is wrong.
        reason: String,
    },
    /// A shard that could not be fetched, verified or rebuilt.
    #[error("{path}: stripe {stripe}: {reason}")]
    Shard {
        /// File.
        path: String,
        /// Stripe.
        stripe: u64,
        /// What is wrong.
        reason: String,
    },
    /// A name that is not in the record.
    #[error("{what} is not part of model {model}")]
    NotInModel {
        /// What was asked for.
        what: String,
        /// The model.
        model: String,
    },
    /// The publish stopped before its record was posted; it can be resumed.
    #[error("publish stopped after {done} of {total} blobs were confirmed ({reason}); run the same command again to resume")]
    Interrupted {
        /// Blobs confirmed so far.
        done: u64,
        /// Blobs planned.
        total: u64,
        /// Why.
        reason: String,
    },
    /// The DA layer failed.
    #[error(transparent)]
    Da(#[from] modelda_da::Error),
    /// An envelope, stripe geometry or publication record that is
    /// malformed, badly signed or inconsistent.
    #[error(transparent)]
    Wire(#[from] modelda_wire::Error),
    /// Committing, signing or reading a manifest failed.
    #[error(transparent)]
    Manifest(#[from] modelda_manifest::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
