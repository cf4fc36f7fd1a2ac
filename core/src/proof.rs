//! Proofs that a whole blob is included in a layer, one form per layer.

use celestia_types::nmt::NamespaceProof;
use celestia_types::RowProof;
use serde::{Deserialize, Serialize};

use crate::Cert;

/// A proof that a blob is included in a layer.
///
/// Versioned: the JSON form carries `"v": 1`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InclusionProof {
    /// NMT proofs of the blob's shares, one per row, against the row roots of
    /// the data availability header of block `height`.
    Square {
        /// Encoding version (1).
        v: u8,
        /// Block height.
        height: u64,
        /// Row of the blob's first share in the extended square.
        first_row: u16,
        /// One proof per row the blob touches.
        proofs: Vec<NamespaceProof>,
        /// The roots of those rows with their Merkle proofs up to the
        /// header's data root, so a verifier needs only the data root of a
        /// header it trusts. Absent in proofs written before it was added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rows: Option<RowProof>,
    },
    /// EigenDA: the cert is the commitment; a verifier re-reads the payload
    /// through its own proxy, which checks the cert against the chain.
    Eigenda {
        /// Encoding version (1).
        v: u8,
        /// The cert.
        cert: Cert,
    },
    /// Avail: the node's `kate_queryDataProof` of the submission, checked
    /// against the data root of a header the verifier fetches from its own
    /// node.
    Avail {
        /// Encoding version (1).
        v: u8,
        /// Block number.
        height: u64,
        /// The block's hash, as the prover's node gave it.
        block_hash: crate::avail::proof::H256,
        /// The data proof.
        data_proof: crate::avail::proof::DataProof,
    },
}

impl InclusionProof {
    /// The version this build writes.
    pub const VERSION: u8 = 1;
}
