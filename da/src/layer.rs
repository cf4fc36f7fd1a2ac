//! The DA layer trait and the types every backend shares.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, LayerKind, Locator, Namespace, Result};

/// Refuses empty blobs and blobs over `max` bytes, before anything is sent.
pub(crate) fn check_blobs(
    layer: &'static str,
    sizes: impl IntoIterator<Item = usize>,
    max: usize,
) -> Result<()> {
    for size in sizes {
        if size == 0 {
            return Err(Error::EmptyBlob);
        }
        if size > max {
            return Err(Error::BlobTooLarge {
                layer,
                size,
                limit: max,
            });
        }
    }
    Ok(())
}

/// An HTTP client for the REST layers (EigenDA's proxy, Avail), with a
/// timeout per request.
pub(crate) fn http_client(endpoint: &str, timeout: std::time::Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Transport {
            endpoint: endpoint.to_string(),
            detail: e.to_string(),
            attempts: 0,
        })
}

/// Posts `blobs` one request each, `concurrency` at a time, with `post`;
/// receipts in the order of `blobs`. Once one fails, those not yet sent
/// are not sent, and this returns only when those in flight have their
/// answer: no submission starts after it returns (a caller settling an
/// unknown outcome reads the head after that). The first error wins.
pub(crate) async fn submit_each<F, Fut>(
    endpoint: &str,
    blobs: Vec<Vec<u8>>,
    concurrency: usize,
    post: F,
) -> Result<Vec<Receipt>>
where
    F: Fn(Vec<u8>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Receipt>> + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let failed = std::sync::Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(blobs.len());
    for b in blobs {
        let (sem, failed, post) = (sem.clone(), failed.clone(), post.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            if failed.load(Ordering::SeqCst) {
                return None;
            }
            let r = post(b).await;
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            Some(r)
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Some(Ok(r))) => out.push(r),
            Ok(Some(Err(e))) => {
                first_err.get_or_insert(e);
            }
            Ok(None) => {}
            Err(e) => {
                first_err.get_or_insert(Error::Remote {
                    endpoint: endpoint.to_string(),
                    detail: format!("submission task failed: {e}"),
                });
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A layer's size limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest blob, in bytes.
    pub max_blob_bytes: usize,
    /// Largest total of blob bytes in one `submit` call (on Celestia, one
    /// PayForBlobs transaction; on the local chain, one block).
    pub max_batch_bytes: usize,
}

/// What a confirmed submission returns for one blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Where the blob lives.
    pub locator: Locator,
    /// Blob size in bytes.
    pub size: usize,
    /// This blob's share of the fee, in the layer's smallest unit (utia for
    /// Celestia-style layers; 0 where the layer charges nothing here).
    pub fee: u64,
}

pub use modelda_core::InclusionProof;

/// When a submission whose outcome is unknown (the client died, or the
/// answer was lost) is settled: either included, or never to be included.
///
/// Only then may its blobs be looked for and, if absent, posted again
/// without posting anything twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "blocks", rename_all = "snake_case")]
pub enum Settlement {
    /// Settled when `submit` returns or the process dies: the embedded
    /// chain writes a block in the submitting process.
    Immediate,
    /// A submission still in the mempool this many blocks after the head
    /// at the time it was sent is evicted, so once the head passes that
    /// height plus one the submission is settled. Celestia's mempool TTL:
    /// [`crate::celestia::DEFAULT_MEMPOOL_TTL_BLOCKS`] by default.
    WithinBlocks(u64),
    /// The layer cannot be listed by height (EigenDA): an unknown
    /// submission stays unknown, and posting again may duplicate it.
    Unlisted,
}

/// One data-availability layer: the embedded local chain, Celestia or EigenDA.
#[async_trait]
pub trait DaLayer: Send + Sync {
    /// Which layer this is.
    fn kind(&self) -> LayerKind;

    /// Size limits.
    async fn limits(&self) -> Result<Limits>;

    /// Height of the newest block (0 for layers without heights).
    async fn head(&self) -> Result<u64>;

    /// How submissions with an unknown outcome settle.
    fn settlement(&self) -> Settlement;

    /// This layer's blocks, to follow in height order, when it has them
    /// (the embedded chain and Celestia; not EigenDA).
    fn as_follow(&self) -> Option<&dyn Follow> {
        None
    }

    /// Submits blobs to `namespace` and waits until they are included.
    /// Receipts come back in the order of `blobs`.
    async fn submit(&self, namespace: Namespace, blobs: Vec<Vec<u8>>) -> Result<Vec<Receipt>>;

    /// The blob at `locator`.
    async fn get(&self, locator: &Locator) -> Result<Vec<u8>>;

    /// A proof that the blob at `locator` is included.
    async fn prove(&self, locator: &Locator) -> Result<InclusionProof>;

    /// Verifies that `data` is the blob at `locator`, with `proof`, against a
    /// header this client fetches itself (never one supplied by the prover).
    async fn verify(&self, locator: &Locator, data: &[u8], proof: &InclusionProof) -> Result<()>;

    /// Whether [`DaLayer::prove_shares`] proves runs of a blob's shares
    /// here (square layers), so that a proof of part of a blob need not
    /// carry the whole blob.
    fn proves_shares(&self) -> bool {
        false
    }

    /// Shares `shares` (indexes within the blob) of the blob at `locator`,
    /// with their proof up to the data root of its block: what
    /// celestia-node's `share.GetRange` answers. Layers that prove only
    /// whole blobs answer [`Error::WholeBlobsOnly`].
    async fn prove_shares(
        &self,
        locator: &Locator,
        shares: std::ops::Range<u32>,
    ) -> Result<celestia_types::ShareProof> {
        let _ = (locator, shares);
        Err(Error::WholeBlobsOnly {
            layer: self.kind().as_str(),
        })
    }

    /// The subtree roots of the share commitment of the blob at `locator`,
    /// encoded as [`crate::square::parts::BlobShares`] carries them, when
    /// the layer keeps them (the embedded chain, from its prepared
    /// heights); `None` when the caller computes them from the blob's
    /// bytes.
    async fn subtree_roots(&self, locator: &Locator) -> Result<Option<std::sync::Arc<String>>> {
        let _ = locator;
        Ok(None)
    }

    /// Gets ready to prove blobs at `height` (the embedded chain builds the
    /// block's square once and keeps what proving needs), so that a later
    /// proof does not. Called in the background by servers; a no-op where
    /// the layer's node does this itself.
    async fn prepare_proofs(&self, height: u64) -> Result<()> {
        let _ = height;
        Ok(())
    }

    /// The data root of the block at `height`, from a header this client
    /// fetches and validates itself; `None` on layers without headers
    /// (EigenDA).
    async fn data_root(&self, height: u64) -> Result<Option<[u8; 32]>> {
        let _ = height;
        Ok(None)
    }
}

/// The data root of a header that validates (signature, validator set, DAH
/// hash).
pub(crate) fn checked_data_root(
    header: &celestia_types::ExtendedHeader,
) -> Result<Option<[u8; 32]>> {
    header.validate().map_err(|e| Error::BadProof {
        locator: format!("header {}", header.height()),
        reason: format!("header does not validate: {e}"),
    })?;
    Ok(match header.header.data_hash {
        Some(tendermint::Hash::Sha256(h)) => Some(h),
        _ => None,
    })
}

/// A layer whose blocks can be followed in height order by namespace: the
/// embedded chain and Celestia. EigenDA has neither heights nor namespaces
/// and does not implement it; [`DaLayer::as_follow`] says which is which.
#[async_trait]
pub trait Follow: DaLayer {
    /// Waits until the head is at least `height`.
    async fn wait_for_height(&self, height: u64) -> Result<()>;

    /// Every blob of `namespace` at `height`, in square order.
    async fn list(&self, namespace: Namespace, height: u64) -> Result<Vec<(Locator, Vec<u8>)>>;

    /// Fails with [`Error::Pruned`] when the layer no longer holds the
    /// blob data of `height` (a pruned node lists nothing there rather
    /// than fail, so a follower asks before it starts). Layers that do
    /// not prune answer `Ok`.
    async fn check_available(&self, height: u64) -> Result<()> {
        let _ = height;
        Ok(())
    }
}
