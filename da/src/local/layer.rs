//! The embedded chain as a [`DaLayer`] and a [`Follow`] layer.

use std::sync::Arc;

use async_trait::async_trait;

use super::LocalChain;
use crate::chain::{row_proof, verify_square};
use crate::layer::{
    checked_data_root, DaLayer, Follow, InclusionProof, Limits, Receipt, Settlement,
};
use crate::{Error, LayerKind, Locator, Namespace, Result, ShareCommitment};

/// The local chain as a [`DaLayer`]: each `submit` appends one block.
#[derive(Clone)]
pub struct LocalLayer {
    chain: LocalChain,
}

impl LocalLayer {
    /// A layer over `chain`.
    pub fn new(chain: LocalChain) -> Self {
        LocalLayer { chain }
    }

    /// The chain.
    pub fn chain(&self) -> &LocalChain {
        &self.chain
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(LocalChain) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let chain = self.chain.clone();
        tokio::task::spawn_blocking(move || f(chain))
            .await
            .map_err(|e| Error::Store {
                path: self.chain.path().to_path_buf(),
                detail: format!("worker failed: {e}"),
            })?
    }
}

fn square_locator(loc: &Locator, want: LayerKind) -> Result<(u64, Namespace, ShareCommitment)> {
    match loc.square_parts() {
        Some(p) if loc.kind() == want => Ok(p),
        _ => Err(Error::Locator {
            locator: loc.to_string(),
            reason: format!("not a {want} locator"),
        }),
    }
}

/// The index in block `h` of the blob `locator` names (namespace `ns`,
/// commitment `c`).
fn blob_index(
    chain: &LocalChain,
    h: u64,
    ns: Namespace,
    c: ShareCommitment,
    locator: String,
) -> Result<u32> {
    chain.index_of(h, ns, c)?.ok_or(Error::NotFound { locator })
}

#[async_trait]
impl DaLayer for LocalLayer {
    fn kind(&self) -> LayerKind {
        LayerKind::Local
    }

    async fn limits(&self) -> Result<Limits> {
        Ok(self.chain.limits().limits())
    }

    async fn head(&self) -> Result<u64> {
        self.chain.head()
    }

    fn settlement(&self) -> Settlement {
        Settlement::Immediate
    }

    fn as_follow(&self) -> Option<&dyn Follow> {
        Some(self)
    }

    #[tracing::instrument(name = "da.submit", skip_all, fields(layer = "local", blobs = blobs.len()))]
    async fn submit(&self, namespace: Namespace, blobs: Vec<Vec<u8>>) -> Result<Vec<Receipt>> {
        self.blocking(move |chain| {
            let refs: Vec<(Namespace, &[u8])> =
                blobs.iter().map(|b| (namespace, b.as_slice())).collect();
            let (height, commitments) = chain.append(&refs)?;
            Ok(blobs
                .iter()
                .zip(commitments)
                .map(|(b, commitment)| Receipt {
                    locator: Locator::Local {
                        height,
                        namespace,
                        commitment,
                    },
                    size: b.len(),
                    fee: 0,
                })
                .collect())
        })
        .await
    }

    #[tracing::instrument(name = "da.get", skip_all, fields(layer = "local", locator = %locator))]
    async fn get(&self, locator: &Locator) -> Result<Vec<u8>> {
        let (h, ns, c) = square_locator(locator, LayerKind::Local)?;
        let loc = locator.to_string();
        self.blocking(move |chain| match chain.get(h, ns, c)? {
            Some(b) => Ok(b.data),
            None => Err(Error::NotFound { locator: loc }),
        })
        .await
    }

    #[tracing::instrument(name = "da.prove", skip_all, fields(layer = "local", locator = %locator))]
    async fn prove(&self, locator: &Locator) -> Result<InclusionProof> {
        let (h, ns, c) = square_locator(locator, LayerKind::Local)?;
        let loc = locator.to_string();
        self.blocking(move |chain| {
            let Some(b) = chain.get(h, ns, c)? else {
                return Err(Error::NotFound { locator: loc });
            };
            let (sq, _) = chain.square(h)?;
            let p = sq
                .placement(b.index as usize)
                .ok_or(Error::NotFound { locator: loc })?;
            let proofs = sq.prove(h, p)?;
            let first_row = (p.start / sq.k) as u16;
            Ok(InclusionProof::Square {
                v: InclusionProof::VERSION,
                height: h,
                first_row,
                rows: Some(row_proof(&sq.dah, h, first_row, proofs.len())?),
                proofs,
            })
        })
        .await
    }

    #[tracing::instrument(name = "da.verify", skip_all, fields(layer = "local", locator = %locator))]
    async fn verify(&self, locator: &Locator, data: &[u8], proof: &InclusionProof) -> Result<()> {
        let (h, ns, c) = square_locator(locator, LayerKind::Local)?;
        let chain = self.chain.clone();
        let header = self.blocking(move |_| chain.header(h)).await?;
        verify_square(locator, h, ns, c, data, proof, &header)
    }

    fn proves_shares(&self) -> bool {
        true
    }

    #[tracing::instrument(name = "da.prove_shares", skip_all, fields(layer = "local", locator = %locator))]
    async fn prove_shares(
        &self,
        locator: &Locator,
        shares: std::ops::Range<u32>,
    ) -> Result<celestia_types::ShareProof> {
        let (h, ns, c) = square_locator(locator, LayerKind::Local)?;
        let loc = locator.to_string();
        self.blocking(move |chain| {
            let index = blob_index(&chain, h, ns, c, loc)?;
            let (_, p) = chain.placement(h, index)?;
            let (from, to) = (shares.start as usize, shares.end as usize);
            if from >= to || to > p.len {
                return Err(Error::Square {
                    height: h,
                    detail: format!("shares {from}..{to} of a blob of {} shares", p.len),
                });
            }
            chain.share_proof(h, p.start + from..p.start + to)
        })
        .await
    }

    async fn subtree_roots(&self, locator: &Locator) -> Result<Option<Arc<String>>> {
        let (h, ns, c) = square_locator(locator, LayerKind::Local)?;
        let loc = locator.to_string();
        self.blocking(move |chain| {
            let index = blob_index(&chain, h, ns, c, loc)?;
            chain.subtree_roots(h, index).map(Some)
        })
        .await
    }

    async fn prepare_proofs(&self, height: u64) -> Result<()> {
        self.blocking(move |chain| chain.prepare_proofs(height))
            .await
    }

    async fn data_root(&self, height: u64) -> Result<Option<[u8; 32]>> {
        let chain = self.chain.clone();
        let header = self.blocking(move |_| chain.header(height)).await?;
        checked_data_root(&header)
    }
}

#[async_trait]
impl Follow for LocalLayer {
    async fn wait_for_height(&self, height: u64) -> Result<()> {
        // Only another process (the writer, when this is a reader) or this
        // one's own appends move the head: poll it.
        while self.head().await? < height {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(())
    }

    #[tracing::instrument(name = "da.list", skip_all, fields(layer = "local", namespace = %namespace, height))]
    async fn list(&self, namespace: Namespace, height: u64) -> Result<Vec<(Locator, Vec<u8>)>> {
        self.blocking(move |chain| {
            Ok(chain
                .blobs(height, Some(namespace))?
                .into_iter()
                .map(|b| {
                    (
                        Locator::Local {
                            height,
                            namespace,
                            commitment: b.commitment,
                        },
                        b.data,
                    )
                })
                .collect())
        })
        .await
    }
}
