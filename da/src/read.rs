//! Reading modelda's formats through a layer: the I/O around the wire
//! crate's checks, which do none themselves. A record is read page by page
//! as [`RecordReader`] asks; an inclusion document is checked with the
//! data roots and whole-blob checks [`inclusion::needs`] lists, looked up
//! on this layer (the verifier's own), never taken from the document.

use modelda_manifest::sign::PublicKey;
use modelda_manifest::ModelId;
use modelda_wire::inclusion::{self, InclusionDocument, Need, Verified, Witness};
use modelda_wire::record::{OpenedRecord, RecordReader};

use crate::{DaLayer, Error, Locator, Result};

/// Fetches the record at `locator` from `layer` and checks it (see
/// [`RecordReader`]).
#[tracing::instrument(name = "record.open", skip_all, fields(locator = %locator))]
pub async fn open_record(
    layer: &dyn DaLayer,
    locator: &Locator,
    expected: Option<ModelId>,
    pinned: Option<&PublicKey>,
) -> Result<OpenedRecord> {
    let root_blob = layer.get(locator).await?;
    open_record_blob(layer, locator, &root_blob, expected, pinned).await
}

/// [`open_record`] for a root page already read: `root_blob` is the blob
/// at `locator`. Its pages are read from `layer`.
pub async fn open_record_blob(
    layer: &dyn DaLayer,
    locator: &Locator,
    root_blob: &[u8],
    expected: Option<ModelId>,
    pinned: Option<&PublicKey>,
) -> Result<OpenedRecord> {
    let mut reader = RecordReader::new(locator, root_blob, expected).map_err(Error::record)?;
    while let Some(at) = reader.next_page() {
        let blob = layer.get(at).await?;
        reader.page(&blob).map_err(Error::record)?;
    }
    reader.finish(pinned).map_err(Error::record)
}

/// Verifies an inclusion document against `layer`, the verifier's own
/// access to the DA layer (see [`inclusion::verify`]). What the layer
/// fails to answer is an inclusion error naming the header or blob.
pub async fn verify_inclusion(
    doc: &InclusionDocument,
    layer: &dyn DaLayer,
    pinned: Option<&PublicKey>,
    data: Option<&[u8]>,
) -> modelda_wire::Result<Verified> {
    let mut witness = Witness::default();
    for need in inclusion::needs(doc)? {
        match need {
            Need::DataRoot { height } => {
                let root =
                    layer
                        .data_root(height)
                        .await
                        .map_err(|e| modelda_wire::Error::Inclusion {
                            part: "header",
                            reason: e.to_string(),
                        })?;
                witness.data_root(height, root);
            }
            Need::WholeBlob {
                index,
                locator,
                data,
                proof,
            } => {
                let outcome = layer
                    .verify(&locator, &data, &proof)
                    .await
                    .map_err(|e| e.to_string());
                witness.whole_blob(index, outcome);
            }
        }
    }
    inclusion::verify(doc, &witness, pinned, data)
}

#[cfg(test)]
mod tests;
