//! Errors of the merkle crate.

use std::ops::Range;

/// Everything that can go wrong when building, decoding or verifying a commitment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A leaf size that is not a power of two between 16 KiB and 8 MiB.
    #[error(
        "invalid leaf size {bytes} bytes: use a power of two from 16 KiB to 8 MiB (e.g. 1048576)"
    )]
    InvalidLeafSize {
        /// The rejected size in bytes.
        bytes: u64,
    },
    /// A hex string that is not 64 hex digits.
    #[error("invalid hash {input:?}: expected 64 hex digits")]
    InvalidHex {
        /// The rejected input (truncated to 80 characters).
        input: String,
    },
    /// A byte or leaf range that is empty or falls outside the file.
    #[error("range {start}..{end} is empty or outside the file of {file_len} bytes")]
    RangeOutOfBounds {
        /// Start of the requested range.
        start: u64,
        /// End of the requested range (exclusive).
        end: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// Data handed to a builder or verifier does not have the expected length or offset.
    #[error("expected {expected} bytes at offset {offset}, got {actual}")]
    DataLength {
        /// Offset in the file where the data starts.
        offset: u64,
        /// Expected length.
        expected: u64,
        /// Length actually given.
        actual: u64,
    },
    /// A window handed to a builder does not start on the next leaf boundary.
    #[error("window at offset {offset} is out of order: next expected offset is {expected}")]
    WindowOrder {
        /// Offset of the rejected window.
        offset: u64,
        /// Offset the builder expected.
        expected: u64,
    },
    /// An encoded proof that cannot be decoded.
    #[error("malformed proof at byte {at}: {reason}")]
    MalformedProof {
        /// Byte offset in the encoding where decoding failed.
        at: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A proof encoded with a version this build does not know.
    #[error("unsupported proof version {version}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version in the encoding.
        version: u8,
        /// Version this build reads.
        supported: u8,
    },
    /// The proof describes a different file length, leaf size or range than the verifier expects.
    #[error("proof is for {what} {found}, expected {expected}")]
    ProofMismatch {
        /// Which parameter differs.
        what: &'static str,
        /// Value in the proof.
        found: String,
        /// Value the verifier expects.
        expected: String,
    },
    /// The proof has the wrong number of sibling chaining values for its range.
    #[error("proof has {found} sibling hashes, a proof of leaves {leaves:?} needs {expected}")]
    ProofShape {
        /// Leaf range the proof covers.
        leaves: Range<u64>,
        /// Hashes present.
        found: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// A span of a leaf that is empty, not aligned to BLAKE3's 1 KiB chunks,
    /// or outside its leaf; or a leaf whose length or offset is impossible.
    #[error("span {span:?} of leaf {leaf} ({leaf_len} bytes) is invalid: {reason}")]
    InvalidSpan {
        /// Index of the leaf in its file.
        leaf: u64,
        /// Length of the leaf in bytes.
        leaf_len: u64,
        /// The rejected span, in bytes from the start of the leaf.
        span: Range<u64>,
        /// What was wrong.
        reason: &'static str,
    },
    /// A leaf part proof has the wrong number of sibling chaining values for its span.
    #[error(
        "leaf part proof has {found} sibling hashes, span {span:?} of leaf {leaf} needs {expected}"
    )]
    PartShape {
        /// Index of the leaf in its file.
        leaf: u64,
        /// Span of the leaf the proof covers, in bytes from the start of the leaf.
        span: Range<u64>,
        /// Hashes present.
        found: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// A verifier was handed a number of leaf chaining values other than the
    /// number of leaves the proof covers.
    #[error("got {found} leaf chaining values, a proof of leaves {leaves:?} needs one per leaf")]
    CvCount {
        /// Leaf range the proof covers.
        leaves: Range<u64>,
        /// Chaining values given.
        found: usize,
    },
    /// Leaf chaining values cannot verify a file of one leaf: its root is the
    /// BLAKE3 hash of its bytes, not a merge of chaining values.
    #[error("file of {file_len} bytes is a single leaf of at most {leaf_size} bytes: verify it with its bytes, not with leaf chaining values")]
    SingleLeafFile {
        /// Length of the file.
        file_len: u64,
        /// Leaf size in bytes.
        leaf_size: u64,
    },
    /// The data and proof do not hash to the expected root.
    #[error("data of leaves {leaves:?} does not verify against root {root}: the bytes or the proof were altered")]
    RootMismatch {
        /// Leaf range that was checked.
        leaves: Range<u64>,
        /// Expected root (hex).
        root: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
