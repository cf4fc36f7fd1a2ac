//! Leaves read from a DA layer: the envelope at a place in a blob.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use modelda_da::{DaLayer, Locator};
use modelda_wire::Envelope;

use crate::source::{ChunkSource, Want};
use crate::{Error, Result};

/// Reads whole blobs (a reader may cache them, and read each once however
/// many ask at the same time).
#[async_trait]
pub trait BlobReader: Send + Sync {
    /// The blob at `locator`.
    async fn blob(&self, locator: &Locator) -> modelda_da::Result<Arc<Vec<u8>>>;
}

#[async_trait]
impl BlobReader for Arc<dyn DaLayer> {
    async fn blob(&self, locator: &Locator) -> modelda_da::Result<Arc<Vec<u8>>> {
        self.get(locator).await.map(Arc::new)
    }
}

/// Leaves from the blobs of a DA layer, at the places the caller knows
/// (from the index, or from a publication record).
pub struct LayerSource<R> {
    reader: R,
}

impl<R: BlobReader> LayerSource<R> {
    /// Leaves read through `reader`.
    pub fn new(reader: R) -> LayerSource<R> {
        LayerSource { reader }
    }
}

#[async_trait]
impl<R: BlobReader> ChunkSource for LayerSource<R> {
    fn name(&self) -> &'static str {
        "layer"
    }

    /// The first place whose envelope holds the leaf; when none does, the
    /// payload of the last envelope read (to be counted as a lie), or the
    /// last error.
    async fn read(&self, want: &Want) -> Result<Option<Bytes>> {
        let mut last: Result<Option<Bytes>> = Ok(None);
        for place in &want.places {
            let blob = match self.reader.blob(&place.locator).await {
                Ok(b) => b,
                Err(e) => {
                    last = Err(Error::Layer {
                        locator: place.locator.to_string(),
                        source: Box::new(e),
                    });
                    continue;
                }
            };
            match Envelope::decode_at(&blob, place.offset as usize) {
                Ok(env) if want.key.check(&env.payload) => return Ok(Some(env.payload.into())),
                Ok(env) => last = Ok(Some(env.payload.into())),
                Err(e) => {
                    last = Err(Error::Corrupt {
                        name: format!("{}@{}", place.locator, place.offset),
                        reason: format!("no envelope there: {e}"),
                    })
                }
            }
        }
        last
    }
}
