//! A Celestia node client over `celestia-rpc`: `blob.Submit` with a gas
//! price, `blob.Get`/`GetAll`/`GetProof`, `header.GetByHeight`/`NetworkHead`,
//! `state.Balance`. Inclusion is checked with `celestia-types` against the
//! row roots of a header this client fetches itself.

use std::time::Duration;

use async_trait::async_trait;
use celestia_rpc::{BlobClient, Client, HeaderClient, ShareClient, StateClient, TxConfig};
use celestia_types::{Blob, Commitment, ExtendedHeader};

use crate::chain::{row_proof, to_celestia, verify_square, ChainLimits};
use crate::layer::{
    checked_data_root, DaLayer, Follow, InclusionProof, Limits, Receipt, Settlement,
};
use crate::retry::{with_retry, Attempt, RetryPolicy};
use crate::{Error, LayerKind, Locator, Namespace, Result, ShareCommitment};

pub use modelda_core::celestia::{
    batch_weight, batches, estimate_fee, estimate_gas, MIN_GAS_PRICE,
};

/// Blocks a transaction may wait in a Celestia validator's mempool before
/// it is evicted: celestia-app (v6 and later) raises `ttl-num-blocks` to at
/// least 36 and turns the time-based TTL off. A submission whose answer was
/// lost is settled once the head passes the height it was sent at plus
/// this plus one.
pub const DEFAULT_MEMPOOL_TTL_BLOCKS: u64 = 36;

/// Options of [`CelestiaLayer`].
#[derive(Clone)]
pub struct CelestiaOptions {
    /// Node RPC URL. Default: `http://127.0.0.1:26658`.
    pub url: String,
    /// Auth token (JWT). Never logged. Default: none.
    pub token: Option<String>,
    /// Gas price in utia per gas. Default: 0.004.
    pub gas_price: f64,
    /// Key name of the node's keyring to sign with. Default: the node's default.
    pub key_name: Option<String>,
    /// Signer address (`celestia1...`) of the node's keyring to sign with.
    /// Default: the node's default.
    pub signer: Option<String>,
    /// Retries for transport errors and sequence mismatches.
    pub retry: RetryPolicy,
    /// Request timeout. Default: 120 s (submission waits for inclusion).
    pub timeout: Duration,
    /// The chain's size limits. Default: app v5 (2 MiB transactions).
    pub limits: ChainLimits,
    /// The validators' mempool TTL in blocks. Default:
    /// [`DEFAULT_MEMPOOL_TTL_BLOCKS`] (36).
    pub mempool_ttl_blocks: u64,
}

impl std::fmt::Debug for CelestiaOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelestiaOptions")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("gas_price", &self.gas_price)
            .field("key_name", &self.key_name)
            .field("mempool_ttl_blocks", &self.mempool_ttl_blocks)
            .finish()
    }
}

impl Default for CelestiaOptions {
    fn default() -> Self {
        CelestiaOptions {
            url: "http://127.0.0.1:26658".into(),
            token: None,
            gas_price: MIN_GAS_PRICE,
            key_name: None,
            signer: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(120),
            limits: ChainLimits::APP_V5,
            mempool_ttl_blocks: DEFAULT_MEMPOOL_TTL_BLOCKS,
        }
    }
}

/// A Celestia node as a [`DaLayer`].
pub struct CelestiaLayer {
    client: Client,
    opts: CelestiaOptions,
    signer: Option<celestia_types::state::AccAddress>,
    /// Where each blob asked for starts in its original square, by locator.
    starts: std::sync::Mutex<std::collections::HashMap<Locator, u64>>,
}

enum Failure {
    Retry(String),
    Final(Error),
}

impl CelestiaLayer {
    /// Connects to the node at `opts.url` (HTTP makes no request yet).
    pub async fn connect(opts: CelestiaOptions) -> Result<Self> {
        let signer = match &opts.signer {
            Some(s) => Some(s.parse().map_err(|e| Error::Remote {
                endpoint: opts.url.clone(),
                detail: format!("signer {s:?} is not a celestia1... account address: {e}"),
            })?),
            None => None,
        };
        let client = Client::new(
            &opts.url,
            opts.token.as_deref(),
            Some(Duration::from_secs(10)),
            Some(opts.timeout),
        )
        .await
        .map_err(|e| Error::Transport {
            endpoint: opts.url.clone(),
            detail: e.to_string(),
            attempts: 1,
        })?;
        Ok(CelestiaLayer {
            client,
            opts,
            signer,
            starts: Default::default(),
        })
    }

    /// The underlying `celestia-rpc` client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn classify(&self, e: jsonrpsee::core::ClientError, needed: &'static str) -> Failure {
        use jsonrpsee::core::ClientError as C;
        let text = e.to_string();
        let lower = text.to_lowercase();
        match e {
            C::Transport(_) | C::RestartNeeded(_) | C::RequestTimeout if lower.contains("401") => {
                Failure::Final(Error::Unauthorized {
                    endpoint: self.opts.url.clone(),
                    needed,
                })
            }
            C::Transport(_) | C::RestartNeeded(_) | C::RequestTimeout => Failure::Retry(text),
            C::Call(obj) => {
                let msg = obj.message().to_lowercase();
                if msg.contains("unauthorized") || msg.contains("missing permission") {
                    Failure::Final(Error::Unauthorized {
                        endpoint: self.opts.url.clone(),
                        needed,
                    })
                } else if msg.contains("insufficient") {
                    Failure::Final(Error::InsufficientFunds {
                        detail: obj.message().to_string(),
                    })
                } else if msg.contains("outside sampling window") || msg.contains("below tail") {
                    // celestia-node: `availability.ErrOutsideSamplingWindow`,
                    // or a header its pruner dropped.
                    Failure::Final(Error::Pruned {
                        endpoint: self.opts.url.clone(),
                        what: "the height".into(),
                        detail: obj.message().to_string(),
                    })
                } else if msg.contains("sequence") {
                    Failure::Retry(obj.message().to_string())
                } else if msg.contains("not found") {
                    Failure::Final(Error::NotFound {
                        locator: obj.message().to_string(),
                    })
                } else if msg.contains("too large") || msg.contains("exceeds") {
                    Failure::Final(Error::Remote {
                        endpoint: self.opts.url.clone(),
                        detail: format!(
                            "{} (this client assumes {} bytes per transaction; with app v6 limits pass --app-v6)",
                            obj.message(),
                            self.opts.limits.limits().max_blob_bytes
                        ),
                    })
                } else if msg.contains("reserved") || msg.contains("namespace") {
                    Failure::Final(Error::Namespace {
                        namespace: String::new(),
                        reason: obj.message().to_string(),
                    })
                } else {
                    Failure::Final(Error::Remote {
                        endpoint: self.opts.url.clone(),
                        detail: obj.message().to_string(),
                    })
                }
            }
            other => Failure::Final(Error::Remote {
                endpoint: self.opts.url.clone(),
                detail: other.to_string(),
            }),
        }
    }

    /// Classifies a failed `blob.Submit`. Unlike a read, a submission may
    /// not be retried after a failure that can come after the request
    /// reached the node (a dropped connection, a timeout): the blobs may be
    /// in the mempool, and sending them again would post them twice. Only
    /// failures that prove the node did not take the transaction are
    /// retried: the connection was never made, the node answered with an
    /// HTTP error status, or it refused the transaction (sequence mismatch).
    fn classify_submit(&self, e: jsonrpsee::core::ClientError) -> Failure {
        use jsonrpsee::core::ClientError as C;
        let lower = e.to_string().to_lowercase();
        let never_sent = lower.contains("request rejected") || lower.contains("(connect)");
        match e {
            C::Transport(_) | C::RestartNeeded(_) | C::RequestTimeout if !never_sent => {
                Failure::Final(Error::OutcomeUnknown {
                    endpoint: self.opts.url.clone(),
                    detail: e.to_string(),
                })
            }
            e => self.classify(e, "write"),
        }
    }

    async fn call<T, Fut>(&self, needed: &'static str, f: impl Fn() -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T, jsonrpsee::core::ClientError>>,
    {
        self.call_with(|e| self.classify(e, needed), f).await
    }

    async fn call_with<T, Fut>(
        &self,
        classify: impl Fn(jsonrpsee::core::ClientError) -> Failure,
        f: impl Fn() -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T, jsonrpsee::core::ClientError>>,
    {
        with_retry(self.opts.retry, || {
            let fut = f();
            let classify = &classify;
            async move {
                fut.await.map_err(|e| match classify(e) {
                    Failure::Retry(s) => Attempt::Retry(Failure::Retry(s)),
                    f @ Failure::Final(_) => Attempt::Fail(f),
                })
            }
        })
        .await
        .map_err(|(f, attempts)| match f {
            Failure::Retry(detail) => Error::Transport {
                endpoint: self.opts.url.clone(),
                detail,
                attempts,
            },
            Failure::Final(e) => e,
        })
    }

    /// The header at `height`, validated by `celestia-types` on decoding.
    pub async fn header(&self, height: u64) -> Result<ExtendedHeader> {
        self.call("read", || self.client.header_get_by_height(height))
            .await
    }

    /// Blocks until the node has a header at `height`, and returns it.
    pub async fn wait_for_height(&self, height: u64) -> Result<ExtendedHeader> {
        self.call("read", || self.client.header_wait_for_height(height))
            .await
    }

    /// Asks the node whether the blob at `locator` is included (`blob.Included`),
    /// with the first row proof of `proof`.
    pub async fn included(&self, locator: &Locator, proof: &InclusionProof) -> Result<bool> {
        let (h, ns, c) = Self::parts(locator)?;
        let InclusionProof::Square { proofs, .. } = proof else {
            return Err(Error::BadProof {
                locator: locator.to_string(),
                reason: "not a data-square proof".into(),
            });
        };
        let Some(first) = proofs.first() else {
            return Err(Error::BadProof {
                locator: locator.to_string(),
                reason: "the proof holds no rows".into(),
            });
        };
        self.call("read", || {
            self.client
                .blob_included(h, to_celestia(ns), first, Commitment::new(*c.as_bytes()))
        })
        .await
    }

    /// The node account's balance in utia.
    pub async fn balance(&self) -> Result<u64> {
        let c = self.call("read", || self.client.state_balance()).await?;
        Ok(c.amount())
    }

    fn parts(loc: &Locator) -> Result<(u64, Namespace, ShareCommitment)> {
        match loc {
            Locator::Celestia {
                height,
                namespace,
                commitment,
            } => Ok((*height, *namespace, *commitment)),
            _ => Err(Error::Locator {
                locator: loc.to_string(),
                reason: "not a celestia locator".into(),
            }),
        }
    }

    /// Why `what` at height `h` is not found: a pruned node keeps headers
    /// past its storage window but answers "not found" for their data, and
    /// its availability check tells the two apart.
    async fn missing(&self, h: u64, what: String) -> Error {
        match self
            .call("read", || self.client.share_shares_available(h))
            .await
        {
            Err(Error::Pruned {
                endpoint, detail, ..
            }) => Error::Pruned {
                endpoint,
                what: format!("{what} (height {h})"),
                detail,
            },
            _ => Error::NotFound { locator: what },
        }
    }

    async fn blob(&self, loc: &Locator) -> Result<Blob> {
        let (h, ns, c) = Self::parts(loc)?;
        let blob = self
            .call("read", || {
                self.client
                    .blob_get(h, to_celestia(ns), Commitment::new(*c.as_bytes()))
            })
            .await;
        let blob = match blob {
            Ok(b) => b,
            Err(Error::NotFound { .. }) => {
                return Err(self.missing(h, format!("blob {loc}")).await)
            }
            Err(e) => return Err(e),
        };
        blob.validate_with_commitment(&Commitment::new(*c.as_bytes()))
            .map_err(|e| Error::BadProof {
                locator: loc.to_string(),
                reason: format!("the node returned a blob that does not match the commitment: {e}"),
            })?;
        Ok(blob)
    }
}

#[async_trait]
impl DaLayer for CelestiaLayer {
    fn kind(&self) -> LayerKind {
        LayerKind::Celestia
    }

    async fn limits(&self) -> Result<Limits> {
        // One `blob.Submit` is one PayForBlobs transaction: its blobs
        // together must fit the transaction limit.
        let l = self.opts.limits.limits();
        Ok(Limits {
            max_blob_bytes: l.max_blob_bytes,
            max_batch_bytes: l.max_blob_bytes,
        })
    }

    async fn head(&self) -> Result<u64> {
        Ok(self
            .call("read", || self.client.header_network_head())
            .await?
            .height())
    }

    fn settlement(&self) -> Settlement {
        Settlement::WithinBlocks(self.opts.mempool_ttl_blocks)
    }

    fn as_follow(&self) -> Option<&dyn Follow> {
        Some(self)
    }

    #[tracing::instrument(name = "da.submit", skip_all, fields(layer = "celestia", blobs = blobs.len()))]
    async fn submit(&self, namespace: Namespace, blobs: Vec<Vec<u8>>) -> Result<Vec<Receipt>> {
        let limit = self.opts.limits.limits().max_blob_bytes;
        crate::layer::check_blobs("celestia", blobs.iter().map(Vec::len), limit)?;
        let cblobs = blobs
            .iter()
            .map(|b| {
                Blob::new(to_celestia(namespace), b.clone(), None).map_err(|e| Error::Namespace {
                    namespace: namespace.to_string(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sizes: Vec<usize> = blobs.iter().map(Vec::len).collect();
        let gas_price = self.opts.gas_price;
        let key_name = self.opts.key_name.clone();
        let height = self
            .call_with(
                |e| self.classify_submit(e),
                || {
                    let mut cfg = TxConfig::default().with_gas_price(gas_price);
                    if let Some(k) = &key_name {
                        cfg = cfg.with_key_name(k.clone());
                    }
                    if let Some(s) = &self.signer {
                        cfg = cfg.with_signer_address(*s);
                    }
                    self.client.blob_submit(&cblobs, cfg)
                },
            )
            .await?;
        tracing::info!(height, blobs = blobs.len(), "blobs included");
        Ok(cblobs
            .iter()
            .zip(&sizes)
            .map(|(b, &size)| Receipt {
                locator: Locator::Celestia {
                    height,
                    namespace,
                    commitment: ShareCommitment::from_bytes(*b.commitment.hash()),
                },
                size,
                fee: estimate_fee(&[size], gas_price),
            })
            .collect())
    }

    #[tracing::instrument(name = "da.get", skip_all, fields(layer = "celestia", locator = %locator))]
    async fn get(&self, locator: &Locator) -> Result<Vec<u8>> {
        Ok(self.blob(locator).await?.data)
    }

    #[tracing::instrument(name = "da.prove", skip_all, fields(layer = "celestia", locator = %locator))]
    async fn prove(&self, locator: &Locator) -> Result<InclusionProof> {
        let (h, ns, c) = Self::parts(locator)?;
        let blob = self.blob(locator).await?;
        let header = self.header(h).await?;
        let width = u64::from(header.dah.square_width());
        let index = blob.index.ok_or_else(|| Error::BadProof {
            locator: locator.to_string(),
            reason: "the node did not report the blob's share index".into(),
        })?;
        let proofs = self
            .call("read", || {
                self.client
                    .blob_get_proof(h, to_celestia(ns), Commitment::new(*c.as_bytes()))
            })
            .await?;
        let first_row = (index / width) as u16;
        Ok(InclusionProof::Square {
            v: InclusionProof::VERSION,
            height: h,
            first_row,
            rows: Some(row_proof(&header.dah, h, first_row, proofs.len())?),
            proofs,
        })
    }

    #[tracing::instrument(name = "da.verify", skip_all, fields(layer = "celestia", locator = %locator))]
    async fn verify(&self, locator: &Locator, data: &[u8], proof: &InclusionProof) -> Result<()> {
        let (h, ns, c) = Self::parts(locator)?;
        let header = self.header(h).await?;
        verify_square(locator, h, ns, c, data, proof, &header)
    }

    fn proves_shares(&self) -> bool {
        true
    }

    #[tracing::instrument(name = "da.prove_shares", skip_all, fields(layer = "celestia", locator = %locator))]
    async fn prove_shares(
        &self,
        locator: &Locator,
        shares: std::ops::Range<u32>,
    ) -> Result<celestia_types::ShareProof> {
        let (h, _, _) = Self::parts(locator)?;
        let start = self.blob_start(locator).await?;
        let (from, to) = (
            start + u64::from(shares.start),
            start + u64::from(shares.end),
        );
        let range = match self
            .call("read", || self.client.share_get_range(h, from, to))
            .await
        {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => {
                return Err(self.missing(h, format!("shares of blob {locator}")).await)
            }
            Err(e) => return Err(e),
        };
        Ok(range.proof)
    }

    async fn data_root(&self, height: u64) -> Result<Option<[u8; 32]>> {
        checked_data_root(&self.header(height).await?)
    }
}

impl CelestiaLayer {
    /// Index of the first share of the blob at `locator` in its block's
    /// original square (row-major), from the node's `Blob.index` (an index
    /// in the extended square).
    async fn blob_start(&self, locator: &Locator) -> Result<u64> {
        if let Some(s) = self
            .starts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(locator)
        {
            return Ok(*s);
        }
        let (h, _, _) = Self::parts(locator)?;
        let blob = self.blob(locator).await?;
        let eds = u64::from(self.header(h).await?.dah.square_width());
        let bad = |reason: String| Error::BadProof {
            locator: locator.to_string(),
            reason,
        };
        let index = blob
            .index
            .ok_or_else(|| bad("the node did not report the blob's share index".into()))?;
        let k = eds / 2;
        if k == 0 || index % eds >= k {
            return Err(bad(format!(
                "the node places the blob at share {index} of a {eds}-wide square, outside its data"
            )));
        }
        let start = (index / eds) * k + index % eds;
        let mut starts = self.starts.lock().unwrap_or_else(|p| p.into_inner());
        if starts.len() >= 65_536 {
            starts.clear();
        }
        starts.insert(locator.clone(), start);
        Ok(start)
    }
}

#[async_trait]
impl Follow for CelestiaLayer {
    /// celestia-node's availability check (`share.SharesAvailable`)
    /// answers `timestamp outside sampling window` for a pruned height.
    async fn check_available(&self, height: u64) -> Result<()> {
        match self
            .call("read", || self.client.share_shares_available(height))
            .await
        {
            Err(Error::Pruned {
                endpoint, detail, ..
            }) => Err(Error::Pruned {
                endpoint,
                what: format!("the blob data of height {height}"),
                detail,
            }),
            _ => Ok(()),
        }
    }

    async fn wait_for_height(&self, height: u64) -> Result<()> {
        // `header.WaitForHeight` blocks on the node; a request timeout
        // only means the height is not there yet.
        loop {
            match CelestiaLayer::wait_for_height(self, height).await {
                Ok(_) => return Ok(()),
                Err(Error::Transport { .. }) if self.head().await? < height => continue,
                Err(e) => return Err(e),
            }
        }
    }

    #[tracing::instrument(name = "da.list", skip_all, fields(layer = "celestia", namespace = %namespace, height))]
    async fn list(&self, namespace: Namespace, height: u64) -> Result<Vec<(Locator, Vec<u8>)>> {
        let namespaces = [to_celestia(namespace)];
        let blobs = self
            .call("read", || self.client.blob_get_all(height, &namespaces))
            .await?
            .unwrap_or_default();
        Ok(blobs
            .into_iter()
            .map(|b| {
                (
                    Locator::Celestia {
                        height,
                        namespace,
                        commitment: ShareCommitment::from_bytes(*b.commitment.hash()),
                    },
                    b.data,
                )
            })
            .collect())
    }
}
