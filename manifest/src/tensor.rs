//! The tensor index: where every tensor of a weights file lives.

use serde::{Deserialize, Serialize};

modelda_merkle::hash_newtype!(
    /// BLAKE3 hash of one tensor's bytes (what `b3sum` prints for a file
    /// holding only that tensor's bytes).
    TensorHash
);

/// A tensor's place in its file, as read from the file's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpan {
    /// Tensor name.
    pub name: String,
    /// Data type as the format spells it (`F16`, `BF16`, `Q8_0`, ...).
    pub dtype: String,
    /// Shape as the format stores it (GGUF lists the fastest dimension first).
    pub shape: Vec<u64>,
    /// Absolute byte offset of the first byte in the file.
    pub start: u64,
    /// Absolute byte offset one past the last byte.
    pub end: u64,
}

/// One entry of a file's tensor index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Data type as the format spells it.
    pub dtype: String,
    /// Shape as the format stores it.
    pub shape: Vec<u64>,
    /// Absolute byte offset of the first byte in the file.
    pub start: u64,
    /// Absolute byte offset one past the last byte.
    pub end: u64,
    /// BLAKE3 of the tensor's bytes.
    pub blake3: TensorHash,
}

impl TensorInfo {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the tensor holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// An error found while parsing a header, before the file path is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

impl HeaderError {
    pub(crate) fn new(offset: u64, reason: impl Into<String>) -> Self {
        HeaderError {
            offset,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.reason)
    }
}

/// Checks that spans do not overlap and lie within `[data_start, file_len)`.
/// `spans` must be sorted by start.
pub(crate) fn check_disjoint(spans: &[TensorSpan], file_len: u64) -> Result<(), HeaderError> {
    for w in spans.windows(2) {
        if w[1].start < w[0].end {
            return Err(HeaderError::new(
                w[1].start,
                format!("tensor {:?} overlaps tensor {:?}", w[1].name, w[0].name),
            ));
        }
    }
    if let Some(last) = spans.last() {
        if last.end > file_len {
            return Err(HeaderError::new(
                last.start,
                format!(
                    "tensor {:?} ends at byte {} past the end of the file ({} bytes)",
                    last.name, last.end, file_len
                ),
            ));
        }
    }
    Ok(())
}
