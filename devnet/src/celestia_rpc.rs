//! The Celestia-node-compatible JSON-RPC API of the devnet, implemented with
//! the server traits `celestia-rpc` exports, plus `state.Balance` and
//! `share.GetRange`.

use std::sync::Arc;

use celestia_rpc::share::GetRangeResponse;
use celestia_rpc::{BlobRpcServer, HeaderRpcServer, TxConfig};
use celestia_types::hash::Hash;
use celestia_types::nmt::{Namespace as CNamespace, NamespaceProof};
use celestia_types::state::Coin;
use celestia_types::{Blob, Commitment, ExtendedHeader, Share, SyncState};
use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;

use super::Node;
use modelda_da::{Error, Namespace, ShareCommitment};

fn rpc_err(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(1, e.to_string(), None::<()>)
}

/// What a pruned celestia-node answers for a blob whose height is past its
/// storage window (header kept, data gone, no archival peer holds it): the
/// blob service maps the getters' `data not found` to `ErrBlobNotFound`
/// (celestia-node `blob/service.go`).
const PRUNED_BLOB: &str = "blob: not found";

/// What its share getters answer for such a height
/// (`share/shwap/getters/cascade.go` over `store/getter.go`).
const PRUNED_SHARES: &str = "all getters failed: data not found";

/// What `share.SharesAvailable` answers for a height outside the sampling
/// window (`availability.ErrOutsideSamplingWindow`).
const OUTSIDE_WINDOW: &str = "timestamp outside sampling window";

/// The devnet's RPC methods.
#[derive(Clone)]
pub struct Rpc(pub(crate) Arc<Node>);

fn our_ns(ns: CNamespace) -> RpcResult<Namespace> {
    let b: [u8; 29] = ns
        .as_bytes()
        .try_into()
        .map_err(|_| rpc_err("namespace must be 29 bytes"))?;
    Namespace::from_bytes(b).map_err(rpc_err)
}

impl Rpc {
    async fn blob_with_index(
        &self,
        height: u64,
        ns: Namespace,
        stored: modelda_da::local::StoredBlob,
    ) -> RpcResult<Blob> {
        let chain = self.0.chain.clone();
        let sizes = tokio::task::spawn_blocking(move || chain.blob_sizes(height))
            .await
            .map_err(rpc_err)?
            .map_err(rpc_err)?;
        let (k, placements) = modelda_da::square::layout(&sizes);
        let p = placements
            .into_iter()
            .find(|p| p.blob == stored.index as usize)
            .ok_or_else(|| rpc_err("blob missing from its block"))?;
        debug_assert_eq!(stored.namespace, ns);
        Ok(modelda_da::local::stored_blob(
            &stored,
            Some(modelda_da::square::eds_index(k, p)),
        ))
    }

    async fn stored(
        &self,
        height: u64,
        ns: Namespace,
        commitment: &Commitment,
    ) -> RpcResult<Option<modelda_da::local::StoredBlob>> {
        if self.0.pruned(height) {
            return Err(rpc_err(PRUNED_BLOB));
        }
        let c = ShareCommitment::from_bytes(*commitment.hash());
        let chain = self.0.chain.clone();
        tokio::task::spawn_blocking(move || chain.get(height, ns, c))
            .await
            .map_err(rpc_err)?
            .map_err(rpc_err)
    }

    async fn header(&self, height: u64) -> RpcResult<ExtendedHeader> {
        self.0.header(height).await.map_err(rpc_err)
    }

    /// `blob.Included`: whether the blob is stored at `height` and `proofs`
    /// are its row proofs: all of them (the Go API's `blob.Proof`, an
    /// array of NMT proofs) or the first one (what `celestia-rpc` sends).
    async fn included(
        &self,
        height: u64,
        namespace: CNamespace,
        proofs: Vec<NamespaceProof>,
        commitment: Commitment,
    ) -> RpcResult<bool> {
        let ns = our_ns(namespace)?;
        let Some(stored) = self.stored(height, ns, &commitment).await? else {
            return Ok(false);
        };
        let sq = self.0.square(height).await.map_err(rpc_err)?;
        let p = sq
            .placement(stored.index as usize)
            .ok_or_else(|| rpc_err("blob missing from its square"))?;
        let ours = sq.prove(height, p).map_err(rpc_err)?;
        Ok(!proofs.is_empty() && ours.starts_with(&proofs))
    }
}

/// The proof parameter of `blob.Included`: one NMT proof, or an array.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ProofParam {
    One(NamespaceProof),
    Rows(Vec<NamespaceProof>),
}

#[async_trait]
impl BlobRpcServer for Rpc {
    async fn blob_get(
        &self,
        height: u64,
        namespace: CNamespace,
        commitment: Commitment,
    ) -> RpcResult<Blob> {
        let ns = our_ns(namespace)?;
        let stored = self
            .stored(height, ns, &commitment)
            .await?
            .ok_or_else(|| rpc_err("blob: not found"))?;
        self.blob_with_index(height, ns, stored).await
    }

    async fn blob_get_all(
        &self,
        height: u64,
        namespaces: Vec<CNamespace>,
    ) -> RpcResult<Option<Vec<Blob>>> {
        // A pruned height lists nothing: `GetAll` swallows the blob
        // service's not-found (celestia-node `blob/service.go`).
        if self.0.pruned(height) {
            return Ok(None);
        }
        let mut out = Vec::new();
        for n in namespaces {
            let ns = our_ns(n)?;
            let chain = self.0.chain.clone();
            let stored = tokio::task::spawn_blocking(move || chain.blobs(height, Some(ns)))
                .await
                .map_err(rpc_err)?
                .map_err(rpc_err)?;
            for s in stored {
                out.push(self.blob_with_index(height, ns, s).await?);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    async fn blob_get_proof(
        &self,
        height: u64,
        namespace: CNamespace,
        commitment: Commitment,
    ) -> RpcResult<Vec<NamespaceProof>> {
        let ns = our_ns(namespace)?;
        let stored = self
            .stored(height, ns, &commitment)
            .await?
            .ok_or_else(|| rpc_err("blob: not found"))?;
        let sq = self.0.square(height).await.map_err(rpc_err)?;
        let p = sq
            .placement(stored.index as usize)
            .ok_or_else(|| rpc_err("blob missing from its square"))?;
        sq.prove(height, p).map_err(rpc_err)
    }

    async fn blob_included(
        &self,
        height: u64,
        namespace: CNamespace,
        proof: NamespaceProof,
        commitment: Commitment,
    ) -> RpcResult<bool> {
        self.included(height, namespace, vec![proof], commitment)
            .await
    }

    async fn blob_submit(&self, blobs: Vec<Blob>, opts: TxConfig) -> RpcResult<u64> {
        if blobs.is_empty() {
            return Err(rpc_err("no blobs to submit"));
        }
        let limits = self.0.chain.limits().limits();
        let mut total = 0usize;
        let mut checked = Vec::with_capacity(blobs.len());
        for b in blobs {
            let ns = match our_ns(b.namespace) {
                Ok(ns) => ns,
                Err(_) => return Err(rpc_err("blob: namespace is reserved or not version 0")),
            };
            if b.data.is_empty() {
                return Err(rpc_err(Error::EmptyBlob));
            }
            if b.share_version != 0 {
                return Err(rpc_err("only share version 0 blobs are accepted"));
            }
            b.validate()
                .map_err(|e| rpc_err(format!("blob: invalid commitment: {e}")))?;
            total += b.data.len();
            checked.push((ns, b.data));
        }
        if total > limits.max_blob_bytes {
            return Err(rpc_err(format!(
                "tx too large: {total} bytes of blobs exceeds the transaction limit of {} bytes",
                limits.max_blob_bytes
            )));
        }
        let gas_price = opts
            .gas_price
            .unwrap_or(modelda_da::celestia::MIN_GAS_PRICE);
        if gas_price < modelda_da::celestia::MIN_GAS_PRICE {
            return Err(rpc_err(format!(
                "gas price {gas_price} is below the minimum {}",
                modelda_da::celestia::MIN_GAS_PRICE
            )));
        }
        let sizes: Vec<usize> = checked.iter().map(|(_, d)| d.len()).collect();
        let fee = modelda_da::celestia::estimate_fee(&sizes, gas_price);
        self.0.charge(fee).map_err(rpc_err)?;
        self.0.submit(checked).await.map_err(rpc_err)
    }
}

#[async_trait]
impl HeaderRpcServer for Rpc {
    async fn header_get_by_hash(&self, hash: Hash) -> RpcResult<ExtendedHeader> {
        let head = self.0.head();
        for h in (1..=head).rev() {
            let eh = self.header(h).await?;
            if eh.hash() == hash {
                return Ok(eh);
            }
        }
        Err(rpc_err("header: not found"))
    }

    async fn header_get_by_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        let head = self.0.head();
        if height == 0 || height > head {
            return Err(rpc_err(format!(
                "header: given height {height} is from the future (head {head})"
            )));
        }
        self.header(height).await
    }

    async fn header_get_range_by_height(
        &self,
        from: ExtendedHeader,
        to: u64,
    ) -> RpcResult<Vec<ExtendedHeader>> {
        let mut out = Vec::new();
        for h in from.height() + 1..to.min(self.0.head() + 1) {
            out.push(self.header(h).await?);
        }
        Ok(out)
    }

    async fn header_local_head(&self) -> RpcResult<ExtendedHeader> {
        self.header(self.0.head()).await
    }

    async fn header_network_head(&self) -> RpcResult<ExtendedHeader> {
        self.header(self.0.head()).await
    }

    async fn header_sync_state(&self) -> RpcResult<SyncState> {
        let head = self.header(self.0.head()).await?;
        let first = self.header(1).await?;
        Ok(SyncState {
            id: 1,
            height: head.height(),
            from_height: 1,
            to_height: head.height(),
            from_hash: first.hash(),
            to_hash: head.hash(),
            start: first.time(),
            end: head.time(),
            error: None,
        })
    }

    async fn header_sync_wait(&self) -> RpcResult<()> {
        Ok(())
    }

    async fn header_wait_for_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        self.0.wait_for(height).await.map_err(rpc_err)?;
        self.header(height).await
    }
}

/// All methods the devnet serves.
pub fn module(node: Arc<Node>) -> Result<RpcModule<()>, jsonrpsee::core::RegisterMethodError> {
    let rpc = Rpc(node.clone());
    let mut m = RpcModule::new(());
    let mut blob = BlobRpcServer::into_rpc(rpc.clone());
    // `blob.Included` takes the proof in either shape (see `ProofParam`).
    blob.remove_method("blob.Included");
    m.merge(blob)?;
    m.merge(HeaderRpcServer::into_rpc(rpc.clone()))?;
    m.register_async_method("blob.Included", move |params, _c, _e| {
        let rpc = rpc.clone();
        async move {
            let (height, namespace, proof, commitment): (u64, CNamespace, ProofParam, Commitment) =
                params.parse()?;
            let proofs = match proof {
                ProofParam::One(p) => vec![p],
                ProofParam::Rows(v) => v,
            };
            rpc.included(height, namespace, proofs, commitment).await
        }
    })?;
    // `share.GetRange`: shares of the original square with their proof up
    // to the data root, as celestia-node answers (start and end index the
    // original square, row-major, end exclusive).
    let n = node.clone();
    m.register_async_method("share.GetRange", move |params, _c, _e| {
        let n = n.clone();
        async move {
            let (height, start, end): (u64, u64, u64) = params.parse()?;
            if n.pruned(height) {
                return Err(rpc_err(PRUNED_SHARES));
            }
            let chain = n.chain.clone();
            let proof = tokio::task::spawn_blocking(move || {
                let (s, e) = (
                    usize::try_from(start).map_err(rpc_err)?,
                    usize::try_from(end).map_err(rpc_err)?,
                );
                chain.share_proof(height, s..e).map_err(rpc_err)
            })
            .await
            .map_err(rpc_err)??;
            let shares = proof
                .data
                .iter()
                .map(|s| Share::from_raw(s).map_err(rpc_err))
                .collect::<RpcResult<Vec<_>>>()?;
            Ok::<GetRangeResponse, ErrorObjectOwned>(GetRangeResponse { shares, proof })
        }
    })?;
    // `share.SharesAvailable`: how a client tells a pruned height from a
    // missing blob (celestia-node's availability check answers
    // `ErrOutsideSamplingWindow` for heights outside its window).
    let n = node.clone();
    m.register_async_method("share.SharesAvailable", move |params, _c, _e| {
        let n = n.clone();
        async move {
            let (height,): (u64,) = params.parse()?;
            if height == 0 || height > n.head() {
                return Err(rpc_err(format!(
                    "header: given height is from the future: networkHeight: {}, requestedHeight: {height}",
                    n.head()
                )));
            }
            if n.pruned(height) {
                return Err(rpc_err(OUTSIDE_WINDOW));
            }
            Ok::<(), ErrorObjectOwned>(())
        }
    })?;
    let n = node.clone();
    m.register_async_method("state.Balance", move |_p, _c, _e| {
        let n = n.clone();
        async move { Ok::<Coin, ErrorObjectOwned>(Coin::utia(n.balance())) }
    })?;
    Ok(m)
}
