//! Safetensors headers: an 8-byte little-endian header length, a JSON header
//! mapping tensor names to `{dtype, shape, data_offsets}` (offsets relative to
//! the data that follows the header), then the data.
//!
//! Validation follows the reference implementation: the header fits the file
//! and is at most 100 MB of UTF-8 JSON; dtypes are known; each tensor's byte
//! length matches its shape; the data offsets tile the data section exactly
//! (no overlap, no hole, nothing past the end); names are unique.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::Deserialize;

use crate::tensor::{HeaderError, TensorSpan};

/// Largest header the reference implementation accepts.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// A parsed safetensors header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Tensors in file order (by start offset).
    pub tensors: Vec<TensorSpan>,
    /// The free-form `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
    /// Absolute offset of the data section.
    pub data_start: u64,
}

/// Bits per element of every dtype the reference implementation knows.
pub fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Bytes a tensor of `shape` takes at `bits` per element, with checked
/// arithmetic: `None` when that is more than 2^64 bytes or not a whole
/// number of bytes. The one rule for headers read from files and for
/// manifests read from strangers.
pub fn tensor_bytes(bits: u64, shape: &[u64]) -> Option<u64> {
    let total = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))?
        .checked_mul(bits)?;
    total.is_multiple_of(8).then_some(total / 8)
}

/// Reads the header length from the first 8 bytes and checks it fits.
pub fn header_len(first8: &[u8], file_len: u64) -> Result<u64, HeaderError> {
    let Some(bytes) = first8.get(..8) else {
        return Err(HeaderError::new(
            0,
            format!("file is {file_len} bytes, too short for the 8-byte header length"),
        ));
    };
    let n = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    if n > MAX_HEADER_LEN {
        return Err(HeaderError::new(
            0,
            format!("header length {n} exceeds the 100 MB limit"),
        ));
    }
    if n > file_len.saturating_sub(8) {
        return Err(HeaderError::new(
            0,
            format!("header length {n} runs past the end of the file ({file_len} bytes)"),
        ));
    }
    if n < 2 {
        return Err(HeaderError::new(
            8,
            format!("header length {n} is too short for a JSON object"),
        ));
    }
    Ok(n)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Header entries in file order, rejecting duplicate names.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out: Vec<(String, serde_json::Value)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    if !seen.insert(k.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate tensor name {k:?}"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses the JSON header `json` (the `n` bytes after the length prefix) of a
/// file of `file_len` bytes.
pub fn parse_header(json: &[u8], file_len: u64) -> Result<Header, HeaderError> {
    let data_start = 8 + json.len() as u64;
    let text = std::str::from_utf8(json)
        .map_err(|e| HeaderError::new(8 + e.valid_up_to() as u64, "header is not valid UTF-8"))?;
    if !text.starts_with('{') {
        return Err(HeaderError::new(8, "header does not start with '{'"));
    }
    let entries: Entries = serde_json::from_str(text.trim_end_matches(' '))
        .map_err(|e| HeaderError::new(8, format!("header is not a valid JSON object: {e}")))?;
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::with_capacity(entries.0.len());
    let Some(data_len) = file_len.checked_sub(data_start) else {
        return Err(HeaderError::new(0, "header runs past the end of the file"));
    };
    for (name, value) in entries.0 {
        if name == "__metadata__" {
            metadata = serde_json::from_value(value).map_err(|e| {
                HeaderError::new(8, format!("__metadata__ must map strings to strings: {e}"))
            })?;
            continue;
        }
        let raw: RawTensor = serde_json::from_value(value)
            .map_err(|e| HeaderError::new(8, format!("tensor {name:?}: {e}")))?;
        let Some(bits) = dtype_bits(&raw.dtype) else {
            return Err(HeaderError::new(
                8,
                format!("tensor {name:?}: unknown dtype {:?}", raw.dtype),
            ));
        };
        let [begin, end] = raw.data_offsets;
        if begin > end || end > data_len {
            return Err(HeaderError::new(
                data_start.saturating_add(begin),
                format!(
                    "tensor {name:?}: data_offsets [{begin}, {end}] fall outside the data section of {data_len} bytes"
                ),
            ));
        }
        if tensor_bytes(bits, &raw.shape) != Some(end - begin) {
            let numel = raw.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
            let want_bits = numel.and_then(|n| n.checked_mul(bits));
            return Err(HeaderError::new(
                data_start + begin,
                format!(
                    "tensor {name:?}: shape {:?} of {} needs {} bytes but data_offsets give {}",
                    raw.shape,
                    raw.dtype,
                    want_bits.map_or("too many".to_string(), |b| format!("{}", b as f64 / 8.0)),
                    end - begin
                ),
            ));
        }
        tensors.push(TensorSpan {
            name,
            dtype: raw.dtype,
            shape: raw.shape,
            start: data_start + begin,
            end: data_start + end,
        });
    }
    tensors.sort_by_key(|t| (t.start, t.end));
    let mut cursor = data_start;
    for t in &tensors {
        if t.start < cursor {
            return Err(HeaderError::new(
                t.start,
                format!("tensor {:?} overlaps the previous tensor", t.name),
            ));
        }
        if t.start > cursor {
            return Err(HeaderError::new(
                cursor,
                format!(
                    "hole of {} bytes before tensor {:?}",
                    t.start - cursor,
                    t.name
                ),
            ));
        }
        cursor = t.end;
    }
    if cursor != file_len {
        return Err(HeaderError::new(
            cursor,
            format!(
                "{} bytes after the last tensor are not described by the header",
                file_len - cursor
            ),
        ));
    }
    Ok(Header {
        tensors,
        metadata,
        data_start,
    })
}

/// Parses a whole safetensors file held in memory (tests and fuzzing).
pub fn parse_bytes(file: &[u8]) -> Result<Header, HeaderError> {
    let n = header_len(file, file.len() as u64)?;
    parse_header(&file[8..8 + n as usize], file.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    #[test]
    fn parses_a_valid_header() {
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
        let f = file(h, 12);
        let parsed = parse_bytes(&f).unwrap();
        assert_eq!(parsed.tensors[0].name, "a");
        assert_eq!(parsed.tensors[1].start, 8 + h.len() as u64 + 4);
        assert_eq!(parsed.metadata["format"], "pt");
    }

    #[test]
    fn rejects_bad_layouts() {
        let cases = [
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
                6,
                "overlaps",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                12,
                "hole",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                2,
                "outside",
            ),
            (
                r#"{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}"#,
                4,
                "unknown dtype",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}"#,
                4,
                "needs",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                4,
                "duplicate",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                6,
                "not described",
            ),
            ("[1,2]", 0, "start with"),
        ];
        for (h, data, want) in cases {
            let err = parse_bytes(&file(h, data)).unwrap_err();
            assert!(err.reason.contains(want), "{h}: {err}");
        }
        assert!(parse_bytes(&[1, 2, 3]).is_err());
        assert!(parse_bytes(&u64::MAX.to_le_bytes()).is_err());
        assert!(parse_bytes(&100u64.to_le_bytes()).is_err());
    }
}
