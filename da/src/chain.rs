//! What every Celestia-style layer shares, with or without the embedded
//! chain: size limits, share commitments, and inclusion proof checks.

use celestia_types::{Blob, ExtendedHeader};

use crate::layer::{InclusionProof, Limits};
use crate::square;
use crate::{Error, Locator, Namespace, Result, ShareCommitment};

/// Size limits of a Celestia-style chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLimits {
    /// Largest original square width. Default: 128 (app v5).
    pub max_square_width: usize,
    /// Largest transaction, which bounds a blob. Default: 2 MiB (app v5).
    pub max_tx_bytes: usize,
}

impl ChainLimits {
    /// Celestia through app v5: 128x128 squares, 2 MiB transactions.
    pub const APP_V5: ChainLimits = ChainLimits {
        max_square_width: 128,
        max_tx_bytes: 2 << 20,
    };
    /// Celestia from app v6: 512x512 squares, 8 MiB transactions.
    pub const APP_V6: ChainLimits = ChainLimits {
        max_square_width: 512,
        max_tx_bytes: 8 << 20,
    };
    /// Bytes of a transaction that are not blob data (signature, PFB fields).
    pub const TX_OVERHEAD: usize = 2048;

    /// The layer limits these imply.
    pub fn limits(&self) -> Limits {
        let shares = self.max_square_width * self.max_square_width;
        Limits {
            max_blob_bytes: self.max_tx_bytes - Self::TX_OVERHEAD,
            max_batch_bytes: square::FIRST_SHARE_PAYLOAD
                + (shares - 1) * square::CONTINUATION_SHARE_PAYLOAD,
        }
    }
}

impl Default for ChainLimits {
    fn default() -> Self {
        Self::APP_V5
    }
}

/// The Celestia share commitment of a version-0 blob.
pub fn share_commitment(namespace: Namespace, data: &[u8]) -> Result<ShareCommitment> {
    if data.is_empty() {
        return Err(Error::EmptyBlob);
    }
    Ok(ShareCommitment::from_bytes(square::share_commitment(
        namespace.as_bytes(),
        data,
    )))
}

pub use modelda_core::square::to_celestia;

/// Verifies that `data` is the blob at the square locator `locator`, with
/// `proof`, against `header`, which the caller fetched from its own node:
/// the header must validate (signature, validator set, DAH hash), the data
/// must hash to the locator's share commitment, and each row's shares must
/// verify against that row's root.
pub fn verify_inclusion(
    locator: &Locator,
    data: &[u8],
    proof: &InclusionProof,
    header: &ExtendedHeader,
) -> Result<()> {
    let (h, ns, c) = locator.square_parts().ok_or_else(|| Error::Locator {
        locator: locator.to_string(),
        reason: "not a data-square locator".into(),
    })?;
    verify_square(locator, h, ns, c, data, proof, header)
}

/// Verifies a square proof of `data` at `(height, namespace, commitment)`
/// against a header the verifier fetched.
pub(crate) fn verify_square(
    locator: &Locator,
    height: u64,
    namespace: Namespace,
    commitment: ShareCommitment,
    data: &[u8],
    proof: &InclusionProof,
    header: &ExtendedHeader,
) -> Result<()> {
    let bad = |reason: String| Error::BadProof {
        locator: locator.to_string(),
        reason,
    };
    let InclusionProof::Square {
        v,
        height: ph,
        first_row,
        proofs,
        rows,
    } = proof
    else {
        return Err(bad("not a data-square proof".into()));
    };
    if *v != InclusionProof::VERSION {
        return Err(bad(format!("proof version {v} is not supported")));
    }
    if *ph != height || header.height() != height {
        return Err(bad(format!(
            "proof is for height {ph}, header for {}",
            header.height()
        )));
    }
    header
        .validate()
        .map_err(|e| bad(format!("header does not validate: {e}")))?;
    if data.is_empty() {
        return Err(bad("an empty blob is never included".into()));
    }
    // The streaming commitment (equal to celestia-types', see its tests),
    // without building an in-memory tree.
    let computed = square::share_commitment(namespace.as_bytes(), data);
    if computed != *commitment.as_bytes() {
        return Err(bad(
            "the data does not hash to the locator's share commitment".into(),
        ));
    }
    let blob = Blob {
        namespace: to_celestia(namespace),
        data: data.to_vec(),
        share_version: 0,
        commitment: celestia_types::Commitment::new(computed),
        index: None,
        signer: None,
    };
    match rows {
        // The rows the proof brings must hash up to the header's data root;
        // the shares are then checked against those rows.
        Some(rows) => {
            let last = usize::from(*first_row) + proofs.len().max(1) - 1;
            if rows.start_row() != *first_row || usize::from(rows.end_row()) != last {
                return Err(bad(format!(
                    "the row proof covers rows {}..={}, the blob rows {first_row}..={last}",
                    rows.start_row(),
                    rows.end_row()
                )));
            }
            rows.verify(header.dah.hash())
                .map_err(|e| bad(format!("the row roots do not prove to the data root: {e}")))?;
            let roots = rows.row_roots();
            square::verify_blob_rows(
                |row| {
                    roots
                        .get(usize::from(row.checked_sub(*first_row)?))
                        .cloned()
                },
                &blob,
                *first_row,
                proofs,
            )
            .map_err(bad)
        }
        None => square::verify_blob(&header.dah, &blob, *first_row, proofs).map_err(bad),
    }
}

/// The roots of rows `first_row..first_row + rows` of `dah`, with their
/// proofs up to its hash (the data root).
pub(crate) fn row_proof(
    dah: &celestia_types::DataAvailabilityHeader,
    height: u64,
    first_row: u16,
    rows: usize,
) -> Result<celestia_types::RowProof> {
    let last =
        u16::try_from(usize::from(first_row) + rows.max(1) - 1).map_err(|_| Error::Square {
            height,
            detail: format!("{rows} rows from row {first_row} overflow the square"),
        })?;
    dah.row_proof(first_row..=last).map_err(|e| Error::Square {
        height,
        detail: format!("row proof of rows {first_row}..={last}: {e}"),
    })
}
