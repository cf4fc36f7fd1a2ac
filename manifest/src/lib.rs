//! Model directories and what they claim.
//!
//! - [`commit_dir`] walks a Hugging Face-style model directory (safetensors,
//!   sharded checkpoints, GGUF, configs, tokenizer, model card), commits every
//!   file with [`modelda_merkle`], indexes every tensor with its BLAKE3 hash,
//!   and assembles a [`ModelManifest`] whose canonical encoding hashes to the
//!   [`ModelId`].
//! - [`sign`] writes an OpenSSF Model Signing v1.0 bundle and a second,
//!   DSSE-signed in-toto statement binding the model id, lineage and
//!   training manifest; [`verify`] checks both against the directory.
#![deny(unsafe_code)]

pub mod card;
mod commit;
mod error;
pub mod gguf;
mod lineage;
mod manifest;
pub mod prove;
pub mod safetensors;
pub mod sign;
mod tensor;
pub mod training;
pub mod verify;

pub use card::ModelCard;
pub use commit::{
    commit_dir, commit_file, read_tensor_index, scan_dir, CommitOptions, CommittedFile,
    CommittedModel, FoundFile, NoProgress, Progress, CLAIMS_SIGNATURE_NAME, DEFAULT_TRAINING_NAME,
    IGNORED_ROOT_NAMES, OMS_SIGNATURE_NAME, WINDOW_BYTES,
};
pub use error::{Error, Result};
pub use lineage::{LineageClaim, Relation};
pub use manifest::{path_order, FileEntry, FileFormat, ModelManifest, CANONICAL_MAGIC};
pub use tensor::{HeaderError, TensorHash, TensorInfo, TensorSpan};
pub use training::{Dataset, HyperValue, TrainingManifest};

modelda_merkle::hash_newtype!(
    /// A model's identity: BLAKE3 of the canonical encoding of its manifest
    /// (signatures and DA locations excluded). Same content, same id.
    ModelId
);

#[cfg(test)]
mod tests;
