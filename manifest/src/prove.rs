//! One file, outside a model directory: its commitment, the byte range of
//! a tensor, and the bytes a proof covers. What `modelda prove` and
//! `verify-proof` (and a server answering proof requests) stand on.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use modelda_merkle::{Commitment, CommitmentBuilder, LeafSize};

use crate::{read_tensor_index, Error, FileFormat, Progress, Result, TensorSpan, WINDOW_BYTES};

/// The span of tensor `name` in the safetensors or GGUF file at `path`,
/// read from its header (the file's format is told by its name).
pub fn find_tensor(path: &Path, name: &str) -> Result<TensorSpan> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = FileFormat::classify(&file_name);
    if !matches!(format, FileFormat::Safetensors | FileFormat::Gguf) {
        return Err(Error::NoTensorIndex {
            path: path.to_path_buf(),
        });
    }
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let spans = read_tensor_index(path, format, len)?;
    let count = spans.len();
    let span = spans
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::NoSuchTensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            count,
        })?;
    if span.start == span.end {
        return Err(Error::EmptyTensor {
            path: path.to_path_buf(),
            name: name.to_string(),
        });
    }
    Ok(span)
}

/// The commitment of the file at `path` with `leaf_size` leaves, read as a
/// stream in windows of [`WINDOW_BYTES`] (no tensor index, no mapping).
pub fn commit_stream(
    path: &Path,
    leaf_size: LeafSize,
    progress: &dyn Progress,
) -> Result<Commitment> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    progress.start(len);
    let mut b = CommitmentBuilder::new(len, leaf_size);
    let window = (WINDOW_BYTES / leaf_size.bytes()).max(1) * leaf_size.bytes();
    let mut buf = vec![0u8; window.min(len) as usize];
    let mut off = 0;
    while off < len {
        let n = window.min(len - off) as usize;
        f.read_exact(&mut buf[..n]).map_err(|_| Error::Changed {
            path: path.to_path_buf(),
        })?;
        b.add_window(off, &buf[..n])?;
        progress.advance(n as u64);
        off += n as u64;
    }
    Ok(b.finish()?)
}

/// Bytes `range` of the file at `path`. The range is bounded by the file's
/// length before anything is allocated.
pub fn read_range(path: &Path, range: Range<u64>) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if range.start > range.end || range.end > len {
        return Err(Error::RangeOutside {
            path: path.to_path_buf(),
            start: range.start,
            end: range.end,
            len,
        });
    }
    f.seek(SeekFrom::Start(range.start))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; (range.end - range.start) as usize];
    f.read_exact(&mut buf).map_err(|_| Error::Changed {
        path: path.to_path_buf(),
    })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_commitments_equal_blake3_and_ranges_are_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("w.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let c = commit_stream(&p, LeafSize::MIN, &crate::NoProgress).unwrap();
        assert_eq!(c.root().as_bytes(), blake3::hash(&data).as_bytes());
        assert_eq!(read_range(&p, 10..20).unwrap(), &data[10..20]);
        assert!(matches!(
            read_range(&p, 10..300_000),
            Err(Error::RangeOutside { len: 200_000, .. })
        ));
        assert!(matches!(
            find_tensor(&p, "x"),
            Err(Error::NoTensorIndex { .. })
        ));
    }
}
