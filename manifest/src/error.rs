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
    /// A manifest, claims statement or record of a format version this
    /// build does not read.
    #[error("{what} version {found} is not supported; this build reads version {supported}: upgrade modelda to read it")]
    UnsupportedVersion {
        /// What carries the version (`manifest`, ...).
        what: &'static str,
        /// Version found.
        found: u64,
        /// Version this build reads.
        supported: u64,
    },
    /// A manifest file path that is not a sane relative path.
    #[error("invalid manifest: file {path:?}: {reason}")]
    ManifestPath {
        /// The path as listed.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A manifest whose files are not in path order or listed twice.
    #[error("invalid manifest: files {first:?} and {second:?} are not in path order (or are listed twice)")]
    FileOrder {
        /// The earlier entry.
        first: String,
        /// The entry that should come before it.
        second: String,
    },
    /// A tensor whose byte range is reversed, overlaps the previous tensor or
    /// lies outside its file.
    #[error("invalid manifest: {path}: tensor {tensor:?} range {start}..{end} is out of order, overlaps the previous tensor or lies outside the file of {file_size} bytes")]
    TensorRange {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
        /// Start of its range.
        start: u64,
        /// End of its range.
        end: u64,
        /// Size of the file.
        file_size: u64,
    },
    /// A tensor listed twice in one file.
    #[error("invalid manifest: {path}: tensor {tensor:?} is listed twice")]
    DuplicateTensor {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
    },
    /// A tensor whose dtype the file's format does not define, or a tensor
    /// in a file that is not a weights file.
    #[error("invalid manifest: {path}: tensor {tensor:?} has dtype {dtype:?}, which a {format} file cannot hold")]
    TensorDtype {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
        /// The dtype as listed.
        dtype: String,
        /// The file's format, as the manifest names it.
        format: &'static str,
    },
    /// A tensor whose shape does not match its byte length for its dtype.
    #[error("invalid manifest: {path}: tensor {tensor:?} of shape {shape:?} and dtype {dtype} does not match its range of {bytes} bytes: {}", needed.map_or_else(|| "its size passes 2^64 or is not a whole number of bytes or blocks".to_string(), |n| format!("it needs {n} bytes")))]
    TensorShape {
        /// The file.
        path: String,
        /// The tensor.
        tensor: String,
        /// The dtype.
        dtype: String,
        /// The shape as listed.
        shape: Vec<u64>,
        /// Bytes the shape needs (`None`: more than 2^64, or not whole bytes or blocks).
        needed: Option<u64>,
        /// Bytes its range holds.
        bytes: u64,
    },
    /// A count in a manifest that its encoding cannot hold.
    #[error("invalid manifest: {what}: {found} entries, at most {limit} can be encoded")]
    TooMany {
        /// What is counted.
        what: String,
        /// How many there are.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// Claims whose leaf chaining values disagree with a file's size.
    #[error("invalid claims: {path}: {found} leaf chaining values are listed, but a file of {size} bytes with {leaf_size}-byte leaves has {expected}")]
    LeafCount {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// Its leaf size in bytes.
        leaf_size: u64,
        /// Leaves the size implies.
        expected: u64,
        /// Leaf chaining values present.
        found: u64,
    },
    /// Claims whose leaf chaining values are not base64 of 32-byte values.
    #[error("invalid claims: {path}: the leaf chaining values are not base64 of 32-byte values")]
    LeafEncoding {
        /// The file.
        path: String,
    },
    /// Claims listing leaves for a path that is not a file of two or more leaves.
    #[error("invalid claims: leaves are listed for {path:?}, which is not a file of two or more leaves in the manifest")]
    UnexpectedLeaves {
        /// The path.
        path: String,
    },
    /// Claims whose leaf chaining values do not hash to the file's root.
    #[error(
        "invalid claims: {path}: the leaf chaining values do not hash to the file root {root}"
    )]
    LeafRoot {
        /// The file.
        path: String,
        /// The signed root.
        root: modelda_merkle::FileRoot,
    },
    /// A model id that is not the hash of its manifest.
    #[error("invalid claims: model id {claimed} does not match its manifest (which hashes to {computed})")]
    ModelIdMismatch {
        /// The id the claims state.
        claimed: crate::ModelId,
        /// The hash of the manifest.
        computed: crate::ModelId,
    },
    /// An OMS resource digest that is not hex.
    #[error("OpenSSF model signature: resource {resource:?} has a digest that is not hex")]
    OmsDigest {
        /// The resource name.
        resource: String,
    },
    /// An OMS hash name this build does not know.
    #[error("unknown OpenSSF model signature hash {name:?}: use blake3 or sha256")]
    UnknownOmsHash {
        /// The name given.
        name: String,
    },
    /// A file that has no tensor index (not safetensors or GGUF).
    #[error("{}: not a .safetensors or .gguf file, so it has no tensor index", path.display())]
    NoTensorIndex {
        /// The file.
        path: PathBuf,
    },
    /// A tensor name the file's index does not hold.
    #[error("{}: no tensor named {name:?} ({count} tensors in the file)", path.display())]
    NoSuchTensor {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// Tensors the file holds.
        count: usize,
    },
    /// A tensor of no bytes (nothing to prove or fetch).
    #[error("{}: tensor {name:?} holds no bytes", path.display())]
    EmptyTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
    },
    /// A byte range that is not inside a file.
    #[error("{}: bytes {start}..{end} are not inside the file of {len} bytes", path.display())]
    RangeOutside {
        /// The file.
        path: PathBuf,
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// File length.
        len: u64,
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
