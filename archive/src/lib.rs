//! Where chunk bytes come from.
//!
//! Every reader of a leaf's bytes (the API's `/chunks` and proofs, `fetch`,
//! archive sync) asks one chain of [`ChunkSource`]s, in order: a memory
//! cache, the [`Archive`], the DA layer ([`LayerSource`]), another node
//! ([`PeerSource`]). No source is trusted: [`Sources::get`] checks every
//! answer against the leaf's commitment ([`LeafKey`]) before it is used,
//! skips and counts a source that lies, and has the sources before the one
//! that answered keep the leaf.
//!
//! The [`Archive`] keeps leaves by content behind the `object_store`
//! crate, in a local directory or an S3-compatible bucket, so that weights
//! outlive a DA layer's retention window.

#[doc(hidden)]
pub mod conformance;
mod kit;
mod layer;
mod leaf;
mod memory;
mod peer;
mod source;
mod store;

pub use kit::{kit_name, BlobKit, KitLeaf, MAX_KIT_BYTES, MAX_KIT_LEAVES};
pub use layer::{root_name, ArchivedLayer, BlobReader, LayerSource, MAX_BLOB_BYTES};
pub use leaf::{LeafKey, MAX_LEAF_BYTES};
pub use memory::MemorySource;
pub use peer::PeerSource;
pub use source::{ChunkSource, Got, Outcome, Place, SourceStats, Sources, Want};
pub use store::{blob_matches, blob_name, Archive, ArchiveSpec, Held};

/// What can go wrong getting or keeping a leaf.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No source gave bytes that check.
    #[error("no source gave leaf {leaf} (tried {}){}{}", tried.join(", "), if failures.is_empty() { String::new() } else { format!(": {}", failures.join("; ")) }, if *pruned { "; the DA layer has pruned it" } else { "" })]
    Unavailable {
        /// The leaf's commitment (hex).
        leaf: String,
        /// The sources asked, in order.
        tried: Vec<&'static str>,
        /// What each failing source said.
        failures: Vec<String>,
        /// Whether the DA layer said the data is past its storage window.
        pruned: bool,
        /// Sources that gave wrong bytes.
        lies: usize,
    },
    /// The archive's store failed.
    #[error("archive object {name}: {source}")]
    Store {
        /// The object.
        name: String,
        /// What the store said.
        source: Box<object_store::Error>,
    },
    /// The archive's disk (or quota) is full.
    #[error("archive object {name}: the archive's disk is full ({source}): free space there or move the archive (--archive); nothing partial was kept, and archiving resumes where it stopped")]
    Full {
        /// The object.
        name: String,
        /// What the store said.
        source: Box<object_store::Error>,
    },
    /// A stored object, or bytes offered for storing, that are not what
    /// their name says.
    #[error("{name}: {reason}")]
    Corrupt {
        /// The object, or the place.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The DA layer failed to give a blob.
    #[error("blob {locator}: {source}")]
    Layer {
        /// The blob.
        locator: String,
        /// What the layer said.
        source: Box<modelda_da::Error>,
    },
    /// Another node failed to answer.
    #[error("{url}: {reason}")]
    Peer {
        /// What was asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An archive or peer named wrongly.
    #[error("{spec:?}: {reason}")]
    Spec {
        /// As given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A local file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the DA layer said the data is past its storage window.
    pub fn is_pruned(&self) -> bool {
        match self {
            Error::Unavailable { pruned, .. } => *pruned,
            Error::Layer { source, .. } => source.is_pruned(),
            _ => false,
        }
    }

    /// How many sources gave wrong bytes before this error.
    pub fn lies(&self) -> usize {
        match self {
            Error::Unavailable { lies, .. } => *lies,
            _ => 0,
        }
    }

    /// Whether a source answered bytes that are not what was asked.
    pub fn is_lie(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
