//! Opaque, stable cursors: base64url of the list's name and the index's own
//! cursor (a key), so a cursor of one list is refused by another.

use async_graphql::connection::{Connection, CursorType, Edge};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use modelda_indexer::query::Page;

use crate::error::{ApiError, Code};

/// A cursor as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(pub String);

impl CursorType for Cursor {
    type Error = std::convert::Infallible;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        Ok(Cursor(s.to_string()))
    }

    fn encode_cursor(&self) -> String {
        self.0.clone()
    }
}

/// The cursor of `inner` in list `list`.
pub fn encode(list: &str, inner: &str) -> Cursor {
    Cursor(B64.encode(format!("{list}:{inner}")))
}

/// The index's cursor inside `after`, which must be a cursor of `list`.
pub fn decode(after: Option<&str>, list: &str) -> Result<Option<String>, ApiError> {
    let Some(s) = after else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            Code::BadInput,
            format!("{s:?} is not a cursor of this list ({list}); pass a cursor it returned"),
        )
    };
    let raw = B64.decode(s.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    match text.split_once(':') {
        Some((l, inner)) if l == list && !inner.is_empty() => Ok(Some(inner.to_string())),
        _ => Err(bad()),
    }
}

/// The cursor of position `i` of a list held in memory.
pub fn encode_index(i: usize, list: &str) -> Cursor {
    encode(list, &i.to_string())
}

/// Reads [`encode_index`]'s inner part.
pub fn index_of(inner: &str) -> Result<usize, ApiError> {
    inner
        .parse()
        .map_err(|_| ApiError::new(Code::BadInput, "not a cursor of this list"))
}

/// A connection of one index page.
pub fn connection<T, N: async_graphql::OutputType>(
    page: Page<T>,
    list: &str,
    has_previous: bool,
    node: impl Fn(T) -> N,
) -> Connection<Cursor, N> {
    let mut conn = Connection::new(has_previous, page.next.is_some());
    for (c, item) in page.cursors.iter().zip(page.items) {
        conn.edges.push(Edge::new(encode(list, c), node(item)));
    }
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_in_their_list() {
        let c = encode("models", "00ff");
        assert_eq!(
            decode(Some(&c.0), "models").unwrap().as_deref(),
            Some("00ff")
        );
        assert_eq!(
            decode(Some(&c.0), "rejections").unwrap_err().code,
            Code::BadInput
        );
        assert_eq!(
            decode(Some("!!"), "models").unwrap_err().code,
            Code::BadInput
        );
        assert_eq!(decode(None, "models").unwrap(), None);
    }
}
