//! Errors a client sees: a stable code and a message that says what to do,
//! never an internal detail (those go to the log).

use async_graphql::ErrorExtensions;

/// The stable code of an API error (`extensions.code` in GraphQL, `code`
/// in the JSON body of an HTTP error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// An argument is malformed (not hex, not a locator, ...).
    BadInput,
    /// Nothing has that id.
    NotFound,
    /// `first` is larger than the page limit.
    PageTooLarge,
    /// The query nests deeper than the limit.
    QueryTooDeep,
    /// The query's complexity is over the limit.
    QueryTooComplex,
    /// The query has more aliases than the limit.
    TooManyAliases,
    /// The request body is larger than the limit.
    BodyTooLarge,
    /// The request ran longer than the limit.
    Timeout,
    /// A proof would carry more than a document may.
    ProofTooLarge,
    /// The DA layer did not answer, or this server reads none.
    LayerUnavailable,
    /// Bytes read from the layer do not match their commitment.
    Corrupt,
    /// The DA layer has pruned the data (it is past the layer's storage
    /// window) and no archive holds it.
    Pruned,
    /// A record offered for registration was refused by validation.
    Rejected,
    /// The query does not parse or validate against the schema.
    BadQuery,
    /// Something failed inside the server (details are in its log).
    Internal,
}

impl Code {
    /// Every code, in documentation order.
    pub const ALL: [Code; 15] = [
        Code::BadInput,
        Code::NotFound,
        Code::PageTooLarge,
        Code::QueryTooDeep,
        Code::QueryTooComplex,
        Code::TooManyAliases,
        Code::BodyTooLarge,
        Code::Timeout,
        Code::ProofTooLarge,
        Code::LayerUnavailable,
        Code::Corrupt,
        Code::Pruned,
        Code::Rejected,
        Code::BadQuery,
        Code::Internal,
    ];

    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadInput => "BAD_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::PageTooLarge => "PAGE_TOO_LARGE",
            Code::QueryTooDeep => "QUERY_TOO_DEEP",
            Code::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Code::TooManyAliases => "TOO_MANY_ALIASES",
            Code::BodyTooLarge => "BODY_TOO_LARGE",
            Code::Timeout => "TIMEOUT",
            Code::ProofTooLarge => "PROOF_TOO_LARGE",
            Code::LayerUnavailable => "LAYER_UNAVAILABLE",
            Code::Corrupt => "CORRUPT",
            Code::Pruned => "PRUNED",
            Code::Rejected => "REJECTED",
            Code::BadQuery => "BAD_QUERY",
            Code::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of a plain HTTP error with this code.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Code::NotFound => S::NOT_FOUND,
            Code::BodyTooLarge => S::PAYLOAD_TOO_LARGE,
            Code::Timeout => S::GATEWAY_TIMEOUT,
            Code::LayerUnavailable => S::SERVICE_UNAVAILABLE,
            Code::Corrupt => S::BAD_GATEWAY,
            Code::Pruned => S::GONE,
            Code::Internal => S::INTERNAL_SERVER_ERROR,
            _ => S::BAD_REQUEST,
        }
    }
}

/// An error with its code and a message for the client.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The code.
    pub code: Code,
    /// What was wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// An index failure: logged in full, reported without its details.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "request failed inside the server");
        ApiError::new(
            Code::Internal,
            "the server failed to read its index; its log has the details",
        )
    }

    /// The JSON body of a plain HTTP error.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"code": self.code.as_str(), "message": self.message})
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        async_graphql::Error::new(e.message).extend_with(|_, x| x.set("code", e.code.as_str()))
    }
}

impl From<modelda_indexer::Error> for ApiError {
    fn from(e: modelda_indexer::Error) -> Self {
        ApiError::internal(e)
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        (self.code.status(), axum::Json(self.body())).into_response()
    }
}

/// A GraphQL error response (for errors raised before execution).
pub fn graphql_error(code: Code, message: &str) -> serde_json::Value {
    serde_json::json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})
}
