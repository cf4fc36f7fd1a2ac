//! Errors of the manifest crate.

use std::path::PathBuf;

/// Everything that can go wrong reading, committing, signing or verifying a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A safetensors file whose header or layout is invalid.
    #[error("{path}: invalid safetensors at byte {offset}: {reason}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A GGUF file whose header or layout is invalid.
    #[error("{path}: invalid GGUF at byte {offset}: {reason}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A sharded checkpoint index that disagrees with its shards.
    #[error("{path}: invalid sharded checkpoint index: {reason}")]
    ShardIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A symlink inside the model directory.
    #[error("{path}: symlink to {target} {why}; copy the file into the model directory instead")]
    Symlink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
        /// Why it is refused.
        why: &'static str,
    },
    /// A file name modelda cannot represent portably.
    #[error("{path}: unsupported file name: {reason}")]
    FileName {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `README.md` whose YAML front matter is malformed.
    #[error("{path}: malformed front matter{}: {reason}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    FrontMatter {
        /// The model card.
        path: PathBuf,
        /// Line in the file, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A training manifest that is malformed.
    #[error("{path}: invalid training manifest: {reason}")]
    Training {
        /// The training manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A lineage claim that cannot be parsed.
    #[error("invalid lineage claim {input:?}: {reason}")]
    Lineage {
        /// The rejected claim.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A file that changed while it was being committed.
    #[error("{path}: file changed while it was being read (size or modification time differ); retry when it is stable")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// A manifest document (JSON) that is invalid.
    #[error("invalid manifest: {reason}")]
    Manifest {
        /// What is wrong.
        reason: String,
    },
    /// A key that cannot be read or used.
    #[error("{path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A signature bundle that is malformed.
    #[error("{path}: malformed signature bundle: {reason}")]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A signature that does not verify.
    #[error("{path}: signature does not verify: {reason}")]
    BadSignature {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A commitment error from the merkle layer.
    #[error(transparent)]
    Merkle(#[from] modelda_merkle::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
