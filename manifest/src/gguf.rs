//! GGUF headers (versions 2 and 3): magic `GGUF`, version, tensor count,
//! metadata key-value count, typed key-value pairs, tensor infos, then the
//! data section aligned to `general.alignment` (32 by default).
//!
//! Every count and length is checked against the bytes left in the file
//! before anything is allocated, so a hostile header cannot make the parser
//! allocate more than the file holds.

use std::io::Read;

use crate::tensor::{check_disjoint, HeaderError, TensorSpan};

const MAGIC: &[u8; 4] = b"GGUF";
/// Deepest nesting of arrays accepted in metadata.
const MAX_ARRAY_DEPTH: u32 = 4;
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// A parsed GGUF header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version (2 or 3).
    pub version: u32,
    /// Tensors sorted by start offset.
    pub tensors: Vec<TensorSpan>,
    /// `general.architecture`, when present.
    pub architecture: Option<String>,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// Data section alignment.
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_start: u64,
}

/// `(name, elements per block, bytes per block)` of a ggml type id.
pub fn ggml_type(id: u32) -> Option<(&'static str, u64, u64)> {
    Some(match id {
        0 => ("F32", 1, 4),
        1 => ("F16", 1, 2),
        2 => ("Q4_0", 32, 18),
        3 => ("Q4_1", 32, 20),
        6 => ("Q5_0", 32, 22),
        7 => ("Q5_1", 32, 24),
        8 => ("Q8_0", 32, 34),
        9 => ("Q8_1", 32, 40),
        10 => ("Q2_K", 256, 84),
        11 => ("Q3_K", 256, 110),
        12 => ("Q4_K", 256, 144),
        13 => ("Q5_K", 256, 176),
        14 => ("Q6_K", 256, 210),
        15 => ("Q8_K", 256, 292),
        16 => ("IQ2_XXS", 256, 66),
        17 => ("IQ2_XS", 256, 74),
        18 => ("IQ3_XXS", 256, 98),
        19 => ("IQ1_S", 256, 50),
        20 => ("IQ4_NL", 32, 18),
        21 => ("IQ3_S", 256, 110),
        22 => ("IQ2_S", 256, 82),
        23 => ("IQ4_XS", 256, 136),
        24 => ("I8", 1, 1),
        25 => ("I16", 1, 2),
        26 => ("I32", 1, 4),
        27 => ("I64", 1, 8),
        28 => ("F64", 1, 8),
        29 => ("IQ1_M", 256, 56),
        30 => ("BF16", 1, 2),
        34 => ("TQ1_0", 256, 54),
        35 => ("TQ2_0", 256, 66),
        39 => ("MXFP4", 32, 17),
        40 => ("NVFP4", 64, 36),
        41 => ("Q1_0", 128, 18),
        _ => return None,
    })
}

/// `(elements per block, bytes per block)` of the ggml type named `name`
/// (as [`ggml_type`] names it).
pub fn ggml_type_by_name(name: &str) -> Option<(u64, u64)> {
    (0..=MAX_GGML_TYPE).find_map(|id| match ggml_type(id) {
        Some((n, block, bytes)) if n == name => Some((block, bytes)),
        _ => None,
    })
}

/// Highest ggml type id [`ggml_type`] knows.
const MAX_GGML_TYPE: u32 = 41;

/// Bytes a tensor of `shape` (GGUF order, fastest dimension first) takes in
/// blocks of `block` elements of `block_bytes` bytes, with checked
/// arithmetic: `None` when the first dimension is not a whole number of
/// blocks, there are more than 4 dimensions (`GGML_MAX_DIMS`), or the size passes
/// 2^64. The one rule for headers read from files and for manifests read
/// from strangers.
pub fn tensor_bytes(block: u64, block_bytes: u64, shape: &[u64]) -> Option<u64> {
    if shape.len() > MAX_DIMS as usize || block == 0 {
        return None;
    }
    let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
    if !shape.first().map_or(block == 1, |&d| d % block == 0) {
        return None;
    }
    (numel / block).checked_mul(block_bytes)
}

struct Cursor<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Cursor<R> {
    fn err(&self, reason: impl Into<String>) -> HeaderError {
        HeaderError::new(self.pos, reason)
    }

    fn left(&self) -> u64 {
        self.len - self.pos
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, HeaderError> {
        if n > self.left() {
            return Err(self.err(format!(
                "{what} of {n} bytes runs past the end of the file ({} bytes left)",
                self.left()
            )));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.err(format!("reading {what}: {e}")))?;
        self.pos += n;
        Ok(buf)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), HeaderError> {
        if n > self.left() {
            return Err(self.err(format!("{what} runs past the end of the file")));
        }
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| self.err(format!("reading {what}: {e}")))?;
        if copied != n {
            return Err(self.err(format!("{what} runs past the end of the file")));
        }
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], HeaderError> {
        let v = self.bytes(N as u64, what)?;
        Ok(v.try_into().expect("N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, HeaderError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, HeaderError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, HeaderError> {
        let at = self.pos;
        let n = self.u64(what)?;
        let b = self.bytes(n, what)?;
        String::from_utf8(b).map_err(|_| HeaderError::new(at, format!("{what} is not valid UTF-8")))
    }

    /// Reads a metadata value of type `ty`; returns it when it is a string or
    /// an unsigned integer (the only kinds the index keeps).
    fn value(&mut self, ty: u32, depth: u32, key: &str) -> Result<Value, HeaderError> {
        let fixed = |ty| match ty {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        };
        match ty {
            4 => Ok(Value::Uint(u64::from(self.u32(key)?))),
            10 => Ok(Value::Uint(self.u64(key)?)),
            8 => Ok(Value::Str(self.string(key)?)),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.err(format!("metadata {key:?}: arrays nested too deeply")));
                }
                let elem = self.u32(key)?;
                let count = self.u64(key)?;
                match (elem, fixed(elem)) {
                    (_, Some(size)) => {
                        let total = count.checked_mul(size).ok_or_else(|| {
                            self.err(format!("metadata {key:?}: array too large"))
                        })?;
                        self.skip(total, &format!("metadata array {key:?}"))?;
                    }
                    (8 | 9, None) => {
                        // Each element takes at least 8 bytes (a length or a type+count).
                        if count > self.left() / 8 {
                            return Err(self.err(format!(
                                "metadata {key:?}: array of {count} elements cannot fit in the file"
                            )));
                        }
                        for _ in 0..count {
                            if elem == 8 {
                                let n = self.u64(key)?;
                                self.skip(n, &format!("metadata string in {key:?}"))?;
                            } else {
                                self.value(9, depth + 1, key)?;
                            }
                        }
                    }
                    _ => {
                        return Err(self.err(format!(
                            "metadata {key:?}: unknown array element type {elem}"
                        )))
                    }
                }
                Ok(Value::Other)
            }
            _ => match fixed(ty) {
                Some(n) => {
                    self.skip(n, key)?;
                    Ok(Value::Other)
                }
                None => Err(self.err(format!("metadata {key:?}: unknown value type {ty}"))),
            },
        }
    }
}

enum Value {
    Uint(u64),
    Str(String),
    Other,
}

/// Parses the header of a GGUF file of `file_len` bytes read from `r`
/// (positioned at the start of the file).
pub fn parse<R: Read>(r: R, file_len: u64) -> Result<Header, HeaderError> {
    let mut c = Cursor {
        inner: r,
        pos: 0,
        len: file_len,
    };
    let magic: [u8; 4] = c
        .array("magic")
        .map_err(|_| HeaderError::new(0, "file too short for the GGUF magic"))?;
    if &magic != MAGIC {
        return Err(HeaderError::new(
            0,
            format!("bad magic {magic:02x?}: not a GGUF file"),
        ));
    }
    let version = c.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(HeaderError::new(
            4,
            format!("unsupported GGUF version {version}: modelda reads versions 2 and 3"),
        ));
    }
    let tensor_count = c.u64("tensor count")?;
    let kv_count = c.u64("metadata count")?;
    // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
    if kv_count > c.left() / 13 {
        return Err(c.err(format!("metadata count {kv_count} cannot fit in the file")));
    }
    let (mut architecture, mut name, mut alignment) = (None, None, 32u64);
    for _ in 0..kv_count {
        let key = c.string("metadata key")?;
        let ty = c.u32(&key)?;
        let at = c.pos;
        let v = c.value(ty, 0, &key)?;
        match (key.as_str(), v) {
            ("general.architecture", Value::Str(s)) => architecture = Some(s),
            ("general.name", Value::Str(s)) => name = Some(s),
            ("general.alignment", Value::Uint(a)) => {
                if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                    return Err(HeaderError::new(
                        at,
                        format!("general.alignment {a} must be a power of two up to 1 MiB"),
                    ));
                }
                alignment = a;
            }
            ("general.alignment", _) => {
                return Err(HeaderError::new(
                    at,
                    "general.alignment must be an unsigned integer",
                ))
            }
            _ => {}
        }
    }
    // A tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes.
    if tensor_count > c.left() / 24 {
        return Err(c.err(format!(
            "tensor count {tensor_count} cannot fit in the file"
        )));
    }
    let mut infos = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        let at = c.pos;
        let tname = c.string("tensor name")?;
        let n_dims = c.u32("tensor dimension count")?;
        if n_dims > MAX_DIMS {
            return Err(HeaderError::new(
                at,
                format!("tensor {tname:?} has {n_dims} dimensions; GGUF allows at most {MAX_DIMS}"),
            ));
        }
        let mut shape = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            shape.push(c.u64("tensor dimension")?);
        }
        let ty_at = c.pos;
        let ty = c.u32("tensor type")?;
        let Some((dtype, block, block_bytes)) = ggml_type(ty) else {
            return Err(HeaderError::new(
                ty_at,
                format!("tensor {tname:?} has unknown ggml type {ty}"),
            ));
        };
        let offset = c.u64("tensor offset")?;
        let Some(size) = tensor_bytes(block, block_bytes, &shape) else {
            return Err(HeaderError::new(
                at,
                format!("tensor {tname:?}: shape {shape:?} is not a whole number of {dtype} blocks of {block}"),
            ));
        };
        if offset % alignment != 0 {
            return Err(HeaderError::new(
                at,
                format!("tensor {tname:?}: offset {offset} is not a multiple of the alignment {alignment}"),
            ));
        }
        infos.push((tname, dtype, shape, offset, size, at));
    }
    let data_start = c.pos.div_ceil(alignment) * alignment;
    let mut tensors = Vec::with_capacity(infos.len());
    for (tname, dtype, shape, offset, size, at) in infos {
        let start = data_start.checked_add(offset);
        let end = start.and_then(|s| s.checked_add(size));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => tensors.push(TensorSpan {
                name: tname,
                dtype: dtype.to_string(),
                shape,
                start,
                end,
            }),
            _ => {
                return Err(HeaderError::new(
                    at,
                    format!(
                        "tensor {tname:?}: {size} bytes at data offset {offset} run past the end of the file ({file_len} bytes)"
                    ),
                ))
            }
        }
    }
    tensors.sort_by_key(|t| (t.start, t.end));
    let mut names = std::collections::HashSet::new();
    for t in &tensors {
        if !names.insert(t.name.as_str()) {
            return Err(HeaderError::new(
                t.start,
                format!("duplicate tensor name {:?}", t.name),
            ));
        }
    }
    check_disjoint(&tensors, file_len)?;
    Ok(Header {
        version,
        tensors,
        architecture,
        name,
        alignment,
        data_start,
    })
}

/// Parses a whole GGUF file held in memory (tests and fuzzing).
pub fn parse_bytes(file: &[u8]) -> Result<Header, HeaderError> {
    parse(file, file.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }

    /// A small GGUF v3 file with one F32 [4] tensor and one Q8_0 [32] tensor.
    fn sample() -> Vec<u8> {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&2u64.to_le_bytes());
        f.extend_from_slice(&2u64.to_le_bytes());
        s(&mut f, "general.architecture");
        f.extend_from_slice(&8u32.to_le_bytes());
        s(&mut f, "llama");
        s(&mut f, "tokenizer.ggml.tokens");
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&2u64.to_le_bytes());
        s(&mut f, "a");
        s(&mut f, "bc");
        s(&mut f, "w");
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&4u64.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        s(&mut f, "q");
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&32u64.to_le_bytes());
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&32u64.to_le_bytes());
        while !f.len().is_multiple_of(32) {
            f.push(0);
        }
        f.extend(std::iter::repeat_n(1u8, 32 + 34));
        f
    }

    #[test]
    fn parses_a_valid_file() {
        let f = sample();
        let h = parse_bytes(&f).unwrap();
        assert_eq!(h.architecture.as_deref(), Some("llama"));
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.tensors[0].end - h.tensors[0].start, 16);
        assert_eq!(h.tensors[1].dtype, "Q8_0");
        assert_eq!(h.tensors[1].end, f.len() as u64);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let f = sample();
        for cut in 0..f.len() {
            assert!(parse_bytes(&f[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn rejects_bad_magic_and_version() {
        let mut f = sample();
        f[0] = b'X';
        assert!(parse_bytes(&f).unwrap_err().reason.contains("magic"));
        let mut f = sample();
        f[4] = 1;
        assert!(parse_bytes(&f).unwrap_err().reason.contains("version"));
    }

    #[test]
    fn type_names_resolve_and_sizes_use_checked_arithmetic() {
        assert!((MAX_GGML_TYPE + 1..=1024).all(|id| ggml_type(id).is_none()));
        for id in 0..=MAX_GGML_TYPE {
            if let Some((name, block, bytes)) = ggml_type(id) {
                assert_eq!(ggml_type_by_name(name), Some((block, bytes)), "{name}");
            }
        }
        assert_eq!(ggml_type_by_name("Q8_0"), Some((32, 34)));
        assert_eq!(ggml_type_by_name("nope"), None);
        assert_eq!(tensor_bytes(32, 34, &[64, 2]), Some(2 * 2 * 34));
        assert_eq!(tensor_bytes(32, 34, &[33]), None);
        assert_eq!(tensor_bytes(1, 4, &[1 << 32, 1 << 32, 1 << 32]), None);
        assert_eq!(tensor_bytes(1, 4, &[1, 1, 1, 1, 1]), None);
    }
}
