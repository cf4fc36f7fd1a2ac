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

    /// The first place whose envelope holds the leaf (with one place, its
    /// envelope's payload, unchecked: the chain checks it); when none does,
    /// the payload of the last envelope read (to be counted as a lie), or
    /// the last error.
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
                // One place: the chain checks the bytes; hashing them here
                // too would hash every leaf twice.
                Ok(env) if want.places.len() == 1 => return Ok(Some(env.payload.into())),
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

/// Largest blob read from an archive or another node: 32 MiB (every
/// layer's blobs are smaller).
pub const MAX_BLOB_BYTES: u64 = 32 << 20;

/// A DA layer whose blob reads, when the layer fails (it pruned the blob,
/// or cannot be reached), fall back to an archive, then to another node;
/// with `keep`, every blob it reads from the layer is also kept in the
/// archive (the archiver reads record pages through it). Everything else
/// is the layer's.
pub struct ArchivedLayer {
    inner: Arc<dyn DaLayer>,
    archive: Option<crate::Archive>,
    peer: Option<Arc<crate::PeerSource>>,
    keep: bool,
}

impl ArchivedLayer {
    /// `inner`, falling back to `archive` and `peer`; keeping what it reads
    /// in the archive when `keep`.
    pub fn new(
        inner: Arc<dyn DaLayer>,
        archive: Option<crate::Archive>,
        peer: Option<Arc<crate::PeerSource>>,
        keep: bool,
    ) -> ArchivedLayer {
        ArchivedLayer {
            inner,
            archive,
            peer,
            keep,
        }
    }

    /// The layer underneath.
    pub fn inner(&self) -> &Arc<dyn DaLayer> {
        &self.inner
    }
}

#[async_trait]
impl DaLayer for ArchivedLayer {
    fn kind(&self) -> modelda_da::LayerKind {
        self.inner.kind()
    }

    async fn limits(&self) -> modelda_da::Result<modelda_da::Limits> {
        self.inner.limits().await
    }

    async fn head(&self) -> modelda_da::Result<u64> {
        self.inner.head().await
    }

    fn settlement(&self) -> modelda_da::Settlement {
        self.inner.settlement()
    }

    fn as_follow(&self) -> Option<&dyn modelda_da::Follow> {
        self.inner.as_follow()
    }

    async fn submit(
        &self,
        namespace: modelda_da::Namespace,
        blobs: Vec<Vec<u8>>,
    ) -> modelda_da::Result<Vec<modelda_da::Receipt>> {
        self.inner.submit(namespace, blobs).await
    }

    async fn get(&self, locator: &Locator) -> modelda_da::Result<Vec<u8>> {
        let e = match self.inner.get(locator).await {
            Ok(b) => {
                if self.keep {
                    if let Some(a) = &self.archive {
                        a.put_blob(locator, b.clone().into()).await.map_err(|e| {
                            modelda_da::Error::Io {
                                path: crate::store::blob_name(locator).into(),
                                source: std::io::Error::other(e.to_string()),
                            }
                        })?;
                    }
                }
                return Ok(b);
            }
            Err(e) => e,
        };
        if let Some(a) = &self.archive {
            match a.get_blob(locator, MAX_BLOB_BYTES).await {
                Ok(Some(b)) => return Ok(b.into()),
                Ok(None) => {}
                Err(x) => {
                    tracing::warn!(%locator, error = %x, "the archive's copy of a blob is unusable")
                }
            }
        }
        if let Some(p) = &self.peer {
            match p.blob(locator, MAX_BLOB_BYTES).await {
                Ok(Some(b)) if crate::store::blob_matches(locator, &b) != Some(false) => {
                    return Ok(b.into())
                }
                Ok(Some(_)) => {
                    tracing::warn!(%locator, peer = %p.url(), "the node gave a blob that does not match its locator")
                }
                Ok(None) => {}
                Err(x) => tracing::warn!(%locator, error = %x, "the node did not give the blob"),
            }
        }
        Err(e)
    }

    async fn prove(&self, locator: &Locator) -> modelda_da::Result<modelda_da::InclusionProof> {
        self.inner.prove(locator).await
    }

    async fn verify(
        &self,
        locator: &Locator,
        data: &[u8],
        proof: &modelda_da::InclusionProof,
    ) -> modelda_da::Result<()> {
        self.inner.verify(locator, data, proof).await
    }

    fn proves_shares(&self) -> bool {
        self.inner.proves_shares()
    }

    async fn prove_shares(
        &self,
        locator: &Locator,
        shares: std::ops::Range<u32>,
    ) -> modelda_da::Result<celestia_types::ShareProof> {
        self.inner.prove_shares(locator, shares).await
    }

    async fn subtree_roots(&self, locator: &Locator) -> modelda_da::Result<Option<Arc<String>>> {
        self.inner.subtree_roots(locator).await
    }

    async fn prepare_proofs(&self, height: u64) -> modelda_da::Result<()> {
        self.inner.prepare_proofs(height).await
    }

    async fn data_root(&self, height: u64) -> modelda_da::Result<Option<[u8; 32]>> {
        self.inner.data_root(height).await
    }
}
