//! Statement envelopes ([`Kind::Statement`](crate::Kind::Statement)): a
//! signed in-toto statement about one model, in the record namespace. The
//! predicate type says what the statement is; readers dispatch on it
//! ([`predicate_type`]) and skip the types they do not know, so a new type
//! of statement is a new handler, never a new envelope kind.

use std::path::Path;

use modelda_manifest::sign::Bundle;

use crate::advisory::{Refused, MAX_ADVISORY_BYTES};

/// Largest statement payload a reader opens, bytes (the largest of the
/// types this build reads).
pub const MAX_STATEMENT_BYTES: usize = MAX_ADVISORY_BYTES;

/// The predicate type of the statement in `payload` (a Sigstore bundle's
/// JSON), without checking its signature: what the reader dispatches on.
/// Refused with `statement_too_large` or `statement_malformed`.
pub fn predicate_type(payload: &[u8]) -> Result<String, Refused> {
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(Refused {
            code: "statement_too_large",
            reason: format!("{} bytes, over {MAX_STATEMENT_BYTES}", payload.len()),
        });
    }
    let malformed = |reason: String| Refused {
        code: "statement_malformed",
        reason,
    };
    let here = Path::new("statement");
    let unsigned = Bundle::from_json(here, payload)
        .and_then(|b| b.payload(here))
        .map_err(|e| malformed(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    let head: Head = serde_json::from_slice(&unsigned)
        .map_err(|e| malformed(format!("not an in-toto statement: {e}")))?;
    if head.predicate_type.len() > 256 {
        return Err(malformed("a predicate type over 256 bytes".into()));
    }
    Ok(head.predicate_type)
}

#[cfg(test)]
mod tests {
    use modelda_manifest::sign::PrivateKey;

    use super::*;

    #[test]
    fn reads_the_predicate_type_and_refuses_junk() {
        let key = PrivateKey::generate();
        let st = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://example.com/x","predicate":{}}"#;
        let bundle = Bundle::sign(&key, st).to_json();
        assert_eq!(
            predicate_type(bundle.as_bytes()).unwrap(),
            "https://example.com/x"
        );
        assert_eq!(
            predicate_type(b"{").unwrap_err().code,
            "statement_malformed"
        );
        let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
        assert_eq!(
            predicate_type(&big).unwrap_err().code,
            "statement_too_large"
        );
        let not_a_statement = Bundle::sign(&key, b"[1,2]").to_json();
        assert_eq!(
            predicate_type(not_a_statement.as_bytes()).unwrap_err().code,
            "statement_malformed"
        );
    }
}
