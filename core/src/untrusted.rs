//! Decoding JSON that came from anyone (a document, a proof, a kit) into
//! types that hold celestia-types' proofs.
//!
//! celestia-types reads its proofs' byte fields with `subtle-encoding`'s
//! base64 decoder (0.5), which panics on a string whose last group of four
//! begins with `=` (`"AAAA="`: an index underflow in its tail handling),
//! and, with debug assertions, on padding inside a string (its decoded
//! length disagrees with its estimate). Both were found by the
//! `inclusion_verify` fuzz target. Neither string is base64, so [`check`]
//! refuses every string holding `=` that is not padded standard base64
//! before the decoder sees it; a panic inside deserialization that gets
//! past that is caught and turned into an error as well (where panics
//! unwind).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Deepest nesting walked (serde_json parses at most 128 levels).
const MAX_DEPTH: usize = 256;

/// Whether `s` would reach `subtle-encoding` 0.5's panics: it holds `=`
/// and is not padded standard base64.
fn breaks_base64_decoder(s: &str) -> bool {
    use base64::Engine as _;
    s.contains('=') && base64::engine::general_purpose::STANDARD.decode(s).is_err()
}

/// The first string in `v` that [`breaks_base64_decoder`], as a short
/// quote.
fn find_bad(v: &Value, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some("(nested too deep)".into());
    }
    match v {
        Value::String(s) if breaks_base64_decoder(s) => {
            let head: String = s.chars().take(24).collect();
            Some(format!("{head:?}{}", if s.len() > 24 { "..." } else { "" }))
        }
        Value::Array(a) => a.iter().find_map(|x| find_bad(x, depth + 1)),
        Value::Object(m) => m.values().find_map(|x| find_bad(x, depth + 1)),
        _ => None,
    }
}

/// Refuses a value holding a string with `=` that is not padded standard
/// base64. Apply it to what goes to celestia-types' decoders (a proof, a
/// kit); a signed bundle's JSON text is such a string, so check the
/// subtrees that hold proofs, not a value that holds a bundle.
pub fn check(v: &Value) -> Result<(), String> {
    match find_bad(v, 0) {
        Some(bad) => Err(format!("{bad} is not base64 (padding where it cannot be)")),
        None => Ok(()),
    }
}

/// Deserializes `T` from `v`, turning a panic inside deserialization into
/// an error. Call [`check`] on the parts that hold proofs first.
pub fn deserialize<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serde_json::from_value(v))) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("a field could not be decoded (the decoder failed on it)".into()),
    }
}

/// [`check`], then [`deserialize`]: for a value that is all proof (an
/// [`crate::InclusionProof`], a kit).
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    check(&v)?;
    deserialize(v)
}

/// [`from_value`] from JSON bytes.
pub fn from_slice<T: DeserializeOwned>(json: &[u8]) -> Result<T, String> {
    let v: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InclusionProof;

    #[test]
    fn a_string_that_crashes_the_base64_decoder_is_refused() {
        for s in ["=", "AAAA=", "AAAA=AA", "AAAAAAAA==="] {
            assert!(breaks_base64_decoder(s), "{s}");
        }
        for s in [
            "",
            "AA==",
            "AAA=",
            "AAAAAAA=",
            "not base64 at all",
            "0x1234",
        ] {
            assert!(!breaks_base64_decoder(s), "{s}");
        }
        // A row proof whose root is such a string: celestia-types would
        // panic decoding it.
        let proof = serde_json::json!({
            "kind": "square", "v": 1, "height": 1, "first_row": 0, "proofs": [],
            "rows": {"row_roots": ["AAAA="], "proofs": [], "start_row": 0, "end_row": 0}
        });
        let e = from_value::<InclusionProof>(proof).unwrap_err();
        assert!(e.contains("not base64"), "{e}");
        assert!(from_slice::<InclusionProof>(b"{").is_err());
    }
}
