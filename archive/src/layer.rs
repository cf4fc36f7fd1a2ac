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
    /// Whether a blob from the peer that nothing can place (its locator
    /// does not commit to its bytes, and the layer pruned what would check
    /// its proof) is used all the same, for a reader that checks what it
    /// holds by signatures and commitments (see
    /// [`ArchivedLayer::for_checking_reader`]).
    unplaced_ok: bool,
    /// Blobs rebuilt from kits lately, newest last.
    rebuilt: std::sync::Mutex<std::collections::VecDeque<Arc<Rebuilt>>>,
}

/// A blob rebuilt from its kit.
struct Rebuilt {
    locator: String,
    kit: crate::BlobKit,
    blob: Vec<u8>,
}

/// A blob in hand: rebuilt (and cached), or read.
enum Held {
    Rebuilt(Arc<Rebuilt>),
    Read(Vec<u8>),
}

impl Held {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Rebuilt(r) => &r.blob,
            Held::Read(b) => b,
        }
    }
}

/// Rebuilt blobs kept for the proofs that follow a blob read.
const REBUILT: usize = 4;

/// `e`, a pruning, with what another node said of the same blob.
fn with_peer(e: modelda_da::Error, said: String) -> modelda_da::Error {
    match e {
        modelda_da::Error::Pruned {
            endpoint,
            what,
            detail,
        } => modelda_da::Error::Pruned {
            endpoint,
            what,
            detail: format!("{detail}; {said}"),
        },
        e => e,
    }
}

/// The object name of the data root of block `height` of a `kind` layer.
pub fn root_name(kind: modelda_da::LayerKind, height: u64) -> String {
    format!("roots/{kind}-{height}")
}

fn archive_error(name: String, e: crate::Error) -> modelda_da::Error {
    modelda_da::Error::Io {
        path: name.into(),
        source: std::io::Error::other(e.to_string()),
    }
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
            unplaced_ok: false,
            rebuilt: Default::default(),
        }
    }

    /// For a reader that checks every byte it uses by what was signed
    /// (`fetch`: a record by its signatures and model id, a leaf by its
    /// commitment): a blob from the peer is used even where nothing can
    /// check that it is the one at its locator, because the locator does
    /// not commit to its bytes (an EigenDA cert) and the layer pruned what
    /// would check its proof. Never for an indexer or an archive, which
    /// record where a blob was posted.
    pub fn for_checking_reader(mut self) -> ArchivedLayer {
        self.unplaced_ok = true;
        self
    }

    /// The blob at `locator` rebuilt from its kit in the archive; `None`
    /// without an archive or a kit.
    async fn rebuilt(&self, locator: &Locator) -> modelda_da::Result<Option<Arc<Rebuilt>>> {
        let Some(a) = &self.archive else {
            return Ok(None);
        };
        let text = locator.to_string();
        if let Some(r) = self
            .rebuilt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|r| r.locator == text)
        {
            return Ok(Some(r.clone()));
        }
        let Some((kit, blob)) = a
            .rebuild_blob(locator)
            .await
            .map_err(|e| archive_error(crate::kit_name(locator), e))?
        else {
            return Ok(None);
        };
        let r = Arc::new(Rebuilt {
            locator: text,
            kit,
            blob,
        });
        let mut cache = self.rebuilt.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= REBUILT {
            cache.pop_front();
        }
        cache.push_back(r.clone());
        Ok(Some(r))
    }

    /// The data root of block `height`: the layer's, else the one the
    /// archive kept.
    async fn root_at(&self, height: u64, kept: Option<[u8; 32]>) -> modelda_da::Result<[u8; 32]> {
        match self.inner.data_root(height).await {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(modelda_da::Error::Square {
                height,
                detail: "the layer's header has no data root".into(),
            }),
            Err(e) => kept.ok_or(e),
        }
    }

    /// Checks a blob another node gave for `locator`: against the share
    /// commitment in the locator, or (layers whose locators do not commit
    /// to the bytes) against the node's kit's inclusion proof, verified by
    /// this node's layer client against its own headers.
    async fn peer_blob_checks(
        &self,
        peer: &crate::PeerSource,
        locator: &Locator,
        blob: &[u8],
    ) -> std::result::Result<(), String> {
        match crate::store::blob_matches(locator, blob) {
            Some(true) => return Ok(()),
            Some(false) => return Err("it does not match the locator's share commitment".into()),
            None => {}
        }
        let proof = match peer.kit(locator).await {
            Ok(Some(kit)) => kit.proof.ok_or("its kit has no inclusion proof")?,
            Ok(None) => return Err("it has no kit with the blob's inclusion proof".into()),
            Err(e) => return Err(format!("its kit: {e}")),
        };
        match self.inner.verify(locator, blob, &proof).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_pruned() && self.unplaced_ok => {
                tracing::warn!(
                    %locator,
                    peer = %peer.url(),
                    "the layer pruned what would place this blob: it is used unplaced, its contents checked by their signatures and commitments"
                );
                Ok(())
            }
            Err(e) => Err(format!("its inclusion proof: {e}")),
        }
    }

    /// Another node's kit of `locator`, untrusted (every use checks it);
    /// `None` without a peer, or when it has none or gave junk.
    async fn peer_kit(&self, locator: &Locator) -> Option<crate::BlobKit> {
        let p = self.peer.as_ref()?;
        match p.kit(locator).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(%locator, peer = %p.url(), error = %e, "the node's kit is unusable");
                None
            }
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
            match self.rebuilt(locator).await {
                Ok(Some(r)) => return Ok(r.blob.clone()),
                Ok(None) => {}
                Err(x) => {
                    tracing::warn!(%locator, error = %x, "the blob does not rebuild from the archive")
                }
            }
        }
        if let Some(p) = &self.peer {
            match p.blob(locator, MAX_BLOB_BYTES).await {
                Ok(Some(b)) => match self.peer_blob_checks(p, locator, &b).await {
                    Ok(()) => {
                        if self.keep {
                            if let Some(a) = &self.archive {
                                a.put_blob(locator, b.clone()).await.map_err(|e| {
                                    archive_error(crate::store::blob_name(locator), e)
                                })?;
                            }
                        }
                        return Ok(b.into());
                    }
                    Err(why) => {
                        tracing::warn!(%locator, peer = %p.url(), "the node gave a blob that does not check: {why}");
                        return Err(with_peer(
                            e,
                            format!("{} gave bytes that do not check ({why}), refused", p.url()),
                        ));
                    }
                },
                Ok(None) => return Err(with_peer(e, format!("{} has no copy", p.url()))),
                Err(x) => {
                    tracing::warn!(%locator, error = %x, "the node did not give the blob");
                    return Err(with_peer(e, x.to_string()));
                }
            }
        }
        Err(e)
    }

    async fn prove(&self, locator: &Locator) -> modelda_da::Result<modelda_da::InclusionProof> {
        let e = match self.inner.prove(locator).await {
            Ok(p) => return Ok(p),
            Err(e) => e,
        };
        if let Some(a) = &self.archive {
            match a.get_kit(locator).await {
                Ok(Some(kit)) => {
                    if let Some(p) = kit.proof {
                        return Ok(p);
                    }
                }
                Ok(None) => {}
                Err(x) => tracing::warn!(%locator, error = %x, "the archive's kit is unusable"),
            }
        }
        // Another node's proof: used only once this node's layer client
        // verifies it, with the blob (itself checked), against its own
        // headers.
        if let Some(proof) = self.peer_kit(locator).await.and_then(|k| k.proof) {
            let blob = self.get(locator).await?;
            return match self.inner.verify(locator, &blob, &proof).await {
                Ok(()) => Ok(proof),
                Err(x) => {
                    tracing::warn!(%locator, error = %x, "the node's inclusion proof does not check");
                    Err(e)
                }
            };
        }
        Err(e)
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
        let e = match self.inner.prove_shares(locator, shares.clone()).await {
            Ok(p) => return Ok(p),
            Err(e) => e,
        };
        let Some((height, namespace, _)) = locator.square_parts() else {
            return Err(e);
        };
        // This archive's kit (its kept data root a fallback when the layer
        // no longer gives headers), else another node's, whose proof must
        // check against this node's own header.
        let own = match self.rebuilt(locator).await {
            Ok(r) => r,
            Err(x) => {
                tracing::warn!(%locator, error = %x, "the blob does not rebuild from the archive");
                None
            }
        };
        let (square, blob, kept) = match own {
            Some(r) if r.kit.square.is_some() => {
                let kept = r.kit.data_root();
                let square = r.kit.square.clone();
                (square, Held::Rebuilt(r), kept)
            }
            own => {
                let Some(square) = self.peer_kit(locator).await.and_then(|k| k.square) else {
                    return Err(e);
                };
                let blob = match own {
                    Some(r) => Held::Rebuilt(r),
                    None => Held::Read(self.get(locator).await?),
                };
                (Some(square), blob, None)
            }
        };
        let Some(square) = square else {
            return Err(e);
        };
        let root = self.root_at(height, kept).await?;
        tokio::task::spawn_blocking(move || square.prove(namespace, blob.bytes(), shares, &root))
            .await
            .map_err(|j| modelda_da::Error::BadProof {
                locator: locator.to_string(),
                reason: j.to_string(),
            })?
            .map_err(|reason| modelda_da::Error::BadProof {
                locator: locator.to_string(),
                reason: format!("the kept proof: {reason}"),
            })
    }

    async fn subtree_roots(&self, locator: &Locator) -> modelda_da::Result<Option<Arc<String>>> {
        match self.inner.subtree_roots(locator).await {
            Ok(r) => Ok(r),
            // The caller computes them from the blob, which the archive
            // rebuilds.
            Err(e) => match &self.archive {
                Some(a) if a.has_kit(locator).await.unwrap_or(false) => Ok(None),
                _ => Err(e),
            },
        }
    }

    async fn prepare_proofs(&self, height: u64) -> modelda_da::Result<()> {
        self.inner.prepare_proofs(height).await
    }

    async fn data_root(&self, height: u64) -> modelda_da::Result<Option<[u8; 32]>> {
        let e = match self.inner.data_root(height).await {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        if let Some(a) = &self.archive {
            let name = root_name(self.inner.kind(), height);
            if let Ok(Some(raw)) = a.get_note(&name, 64).await {
                if let Some(r) = std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|t| hex::decode(t.trim()).ok())
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                {
                    return Ok(Some(r));
                }
            }
        }
        Err(e)
    }
}
