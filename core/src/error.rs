//! Errors of the core types.

/// What went wrong reading a locator, a namespace or a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace that is not a usable version-0 namespace.
    #[error("invalid namespace {namespace}: {reason}")]
    Namespace {
        /// The namespace as given (hex).
        namespace: String,
        /// Why it was refused.
        reason: String,
    },
    /// A locator that does not parse.
    #[error("invalid locator {locator:?}: {reason}")]
    Locator {
        /// The locator as given (at most 120 characters of it).
        locator: String,
        /// Why it was refused.
        reason: String,
    },
    /// A proof of inclusion that does not verify.
    #[error("inclusion proof for {locator} does not verify: {reason}")]
    BadProof {
        /// The blob's locator.
        locator: String,
        /// What failed.
        reason: String,
    },
    /// Shares that cannot be proven as asked (building a proof).
    #[error("data square at height {height}: {detail}")]
    Square {
        /// Block height.
        height: u64,
        /// What failed.
        detail: String,
    },
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
