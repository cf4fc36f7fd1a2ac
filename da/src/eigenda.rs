//! A client of the EigenDA proxy's REST API in standard commitment mode.
//!
//! `POST /put?commitment_mode=standard` with the raw payload returns the cert
//! (a version byte, then the RLP cert), which modelda treats as opaque;
//! `GET /get/0x<cert hex>?commitment_mode=standard` returns the payload;
//! `GET /health`; `GET /config` (proxy v2.5+) gives `max_payload_size_bytes`.
//! Status codes map to typed errors: 400 (too large or bad cert), 418 (drop
//! the cert), 429 (back off and retry), 503 (failover: retry later), 500.
//!
//! The proxy is a sidecar reached over plain HTTP (no TLS in this client).

use std::time::Duration;

use async_trait::async_trait;

use crate::layer::{DaLayer, InclusionProof, Limits, Receipt, Settlement};
use crate::retry::{with_retry, Attempt, RetryPolicy};
use crate::{Cert, Error, LayerKind, Locator, Namespace, Result};

pub use modelda_core::eigenda::{billed_bytes, MAX_PAYLOAD_BYTES};

/// Options of [`EigenDaLayer`].
#[derive(Clone, Debug)]
pub struct EigenDaOptions {
    /// Proxy base URL. Default: `http://127.0.0.1:3100`.
    pub url: String,
    /// Retries for 429, 503 and transport errors. Default: [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// Timeout of one request. Default: 60 s.
    pub timeout: Duration,
    /// Concurrent puts within one `submit`. Default: 4.
    pub concurrency: usize,
}

impl Default for EigenDaOptions {
    fn default() -> Self {
        EigenDaOptions {
            url: "http://127.0.0.1:3100".into(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            concurrency: 4,
        }
    }
}

/// The EigenDA proxy as a [`DaLayer`].
#[derive(Clone)]
pub struct EigenDaLayer {
    http: reqwest::Client,
    opts: EigenDaOptions,
}

impl EigenDaLayer {
    /// A client of the proxy at `opts.url`. No request is made yet.
    pub fn new(opts: EigenDaOptions) -> Result<Self> {
        let http = crate::layer::http_client(&opts.url, opts.timeout)?;
        Ok(EigenDaLayer { http, opts })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.url.trim_end_matches('/'))
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<()> {
        let url = self.url("/health");
        self.request(&url, || self.http.get(&url)).await.map(|_| ())
    }

    /// The proxy's largest payload from `GET /config`, or the EigenDA v2
    /// default when the proxy predates `/config`.
    pub async fn max_payload(&self) -> Result<usize> {
        let url = self.url("/config");
        match self.request(&url, || self.http.get(&url)).await {
            Ok(body) => {
                let v: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| Error::Remote {
                        endpoint: url.clone(),
                        detail: format!("/config is not JSON: {e}"),
                    })?;
                Ok(v.get("max_payload_size_bytes")
                    .and_then(|x| x.as_u64())
                    .map(|x| x as usize)
                    .unwrap_or(MAX_PAYLOAD_BYTES))
            }
            Err(Error::NotFound { .. }) => Ok(MAX_PAYLOAD_BYTES),
            Err(e) => Err(e),
        }
    }

    /// `POST /put?commitment_mode=standard`.
    pub async fn put(&self, payload: Vec<u8>) -> Result<Cert> {
        if payload.is_empty() {
            return Err(Error::EmptyBlob);
        }
        let url = self.url("/put?commitment_mode=standard");
        let body = self
            .request(&url, || {
                self.http
                    .post(&url)
                    .header("content-type", "application/octet-stream")
                    .body(payload.clone())
            })
            .await?;
        if body.is_empty() {
            return Err(Error::Remote {
                endpoint: url,
                detail: "empty cert in a 200 response".into(),
            });
        }
        Ok(Cert::new(body)?)
    }

    /// `GET /get/0x<cert>?commitment_mode=standard`.
    ///
    /// A 500 that says "not found" is [`Error::Pruned`]: the relays no
    /// longer hold the blob. The proxy answers the same for a cert it
    /// never issued, so the error names both; modelda reads only certs
    /// from signed records, which the proxy did issue.
    pub async fn fetch(&self, cert: &Cert) -> Result<Vec<u8>> {
        let url = self.url(&format!("/get/{cert}?commitment_mode=standard"));
        match self.request(&url, || self.http.get(&url)).await {
            Err(Error::Remote { endpoint, detail })
                if detail.starts_with("HTTP 500") && detail.contains("not found") =>
            {
                Err(Error::Pruned {
                    endpoint,
                    what: "the blob".into(),
                    detail: format!(
                        "the proxy answered {detail:.200}; EigenDA keeps a blob about 14 days \
                         after dispersal, so it has expired (or the cert is one the proxy never \
                         issued)"
                    ),
                })
            }
            r => r,
        }
    }

    async fn request(
        &self,
        url: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>> {
        let endpoint = url.split('?').next().unwrap_or(url).to_string();
        let res = with_retry(self.opts.retry, || {
            let req = make();
            let endpoint = endpoint.clone();
            async move {
                let resp = match req.send().await {
                    Ok(r) => r,
                    Err(e) => return Err(Attempt::Retry(Failure::Transport(e.to_string()))),
                };
                let status = resp.status().as_u16();
                let body = match resp.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => return Err(Attempt::Retry(Failure::Transport(e.to_string()))),
                };
                let text = || String::from_utf8_lossy(&body).trim().to_string();
                match status {
                    200 => Ok(body),
                    429 => Err(Attempt::Retry(Failure::RateLimited)),
                    503 => Err(Attempt::Retry(Failure::Unavailable)),
                    400 if text().contains("too large") || text().contains("exceeds") => {
                        Err(Attempt::Fail(Failure::Final(Error::BlobTooLarge {
                            layer: "eigenda",
                            size: 0,
                            limit: MAX_PAYLOAD_BYTES,
                        })))
                    }
                    404 => Err(Attempt::Fail(Failure::Final(Error::NotFound {
                        locator: endpoint,
                    }))),
                    418 => Err(Attempt::Fail(Failure::Final(Error::DropCert {
                        detail: text(),
                    }))),
                    _ => Err(Attempt::Fail(Failure::Final(Error::Remote {
                        endpoint,
                        detail: format!("HTTP {status}: {}", text()),
                    }))),
                }
            }
        })
        .await;
        res.map_err(|(f, attempts)| match f {
            Failure::Transport(detail) => Error::Transport {
                endpoint: endpoint.clone(),
                detail,
                attempts,
            },
            Failure::RateLimited => Error::RateLimited {
                endpoint: endpoint.clone(),
                attempts,
            },
            Failure::Unavailable => Error::Unavailable {
                endpoint: endpoint.clone(),
                attempts,
            },
            Failure::Final(e) => e,
        })
    }
}

enum Failure {
    Transport(String),
    RateLimited,
    Unavailable,
    Final(Error),
}

fn cert_of(loc: &Locator) -> Result<&Cert> {
    match loc {
        Locator::Eigenda { cert } => Ok(cert),
        _ => Err(Error::Locator {
            locator: loc.to_string(),
            reason: "not an eigenda locator".into(),
        }),
    }
}

#[async_trait]
impl DaLayer for EigenDaLayer {
    fn kind(&self) -> LayerKind {
        LayerKind::Eigenda
    }

    async fn limits(&self) -> Result<Limits> {
        let max = self.max_payload().await?;
        Ok(Limits {
            max_blob_bytes: max,
            max_batch_bytes: max.saturating_mul(self.opts.concurrency.max(1)),
        })
    }

    async fn head(&self) -> Result<u64> {
        Ok(0)
    }

    fn settlement(&self) -> Settlement {
        Settlement::Unlisted
    }

    #[tracing::instrument(name = "da.submit", skip_all, fields(layer = "eigenda", blobs = blobs.len()))]
    async fn submit(&self, _namespace: Namespace, blobs: Vec<Vec<u8>>) -> Result<Vec<Receipt>> {
        crate::layer::check_blobs("eigenda", blobs.iter().map(Vec::len), MAX_PAYLOAD_BYTES)?;
        let me = self.clone();
        crate::layer::submit_each(&self.opts.url, blobs, self.opts.concurrency, move |b| {
            let me = me.clone();
            async move {
                let size = b.len();
                me.put(b).await.map(|cert| Receipt {
                    locator: Locator::Eigenda { cert },
                    size,
                    fee: 0,
                })
            }
        })
        .await
    }

    #[tracing::instrument(name = "da.get", skip_all, fields(layer = "eigenda", locator = %locator))]
    async fn get(&self, locator: &Locator) -> Result<Vec<u8>> {
        self.fetch(cert_of(locator)?).await
    }

    #[tracing::instrument(name = "da.prove", skip_all, fields(layer = "eigenda", locator = %locator))]
    async fn prove(&self, locator: &Locator) -> Result<InclusionProof> {
        Ok(InclusionProof::Eigenda {
            v: InclusionProof::VERSION,
            cert: cert_of(locator)?.clone(),
        })
    }

    #[tracing::instrument(name = "da.verify", skip_all, fields(layer = "eigenda", locator = %locator))]
    async fn verify(&self, locator: &Locator, data: &[u8], proof: &InclusionProof) -> Result<()> {
        let bad = |reason: String| Error::BadProof {
            locator: locator.to_string(),
            reason,
        };
        let InclusionProof::Eigenda { cert, .. } = proof else {
            return Err(bad("not an EigenDA proof".into()));
        };
        if cert != cert_of(locator)? {
            return Err(bad("the proof's cert is not the locator's".into()));
        }
        // The proxy is the only judge of a cert modelda has: past the
        // window it can no longer say that these are the cert's bytes.
        let stored = self.fetch(cert).await.map_err(|e| match e {
            Error::Pruned {
                endpoint, detail, ..
            } => Error::Pruned {
                endpoint,
                what: format!("the blob of {locator}, which checking an EigenDA proof re-reads"),
                detail: format!(
                    "{detail}. Past the window an EigenDA proof cannot be checked here \
                     (modelda does not recompute the cert's KZG commitment); the bytes' \
                     commitments and signatures still check (`modelda fetch --index`)"
                ),
            },
            e => e,
        })?;
        if stored != data {
            return Err(bad("the proxy returns different bytes for this cert".into()));
        }
        Ok(())
    }
}
