//! Leaves read from another modelda node's `GET /chunks/{commitment}`.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use crate::source::{ChunkSource, Want};
use crate::{Error, Result};

/// Another node, asked for leaves by commitment. It is trusted for
/// nothing: what it answers is checked like any other source's.
pub struct PeerSource {
    base: url::Url,
    client: reqwest::Client,
}

impl PeerSource {
    /// The node at `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<PeerSource> {
        let bad = |reason: String| Error::Spec {
            spec: base.to_string(),
            reason,
        };
        let mut url = url::Url::parse(base).map_err(|e| bad(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("give an http:// or https:// URL".into()));
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| bad(format!("no HTTP client: {e}")))?;
        Ok(PeerSource { base: url, client })
    }

    /// The node's base URL.
    pub fn url(&self) -> &url::Url {
        &self.base
    }

    /// The client, for other reads from the same node.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl PeerSource {
    /// `GET {base}/{path}`: the answer when it is 200, `None` when the node
    /// has nothing there (404, 410), an error otherwise.
    async fn ask(&self, path: &str) -> Result<Option<(reqwest::Response, url::Url)>> {
        let url = self.base.join(path).map_err(|e| Error::Peer {
            url: self.base.to_string(),
            reason: e.to_string(),
        })?;
        let r = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Error::Peer {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        match r.status() {
            StatusCode::OK => Ok(Some((r, url))),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s => Err(Error::Peer {
                url: url.to_string(),
                reason: format!("answered {s}"),
            }),
        }
    }

    /// The blob at `locator` as the node serves it (`GET /blobs/{locator}`),
    /// unchecked, at most `limit` bytes (a longer answer is refused);
    /// `None` when the node has none.
    pub async fn blob(&self, locator: &modelda_da::Locator, limit: u64) -> Result<Option<Bytes>> {
        let Some((mut r, url)) = self.ask(&format!("blobs/{locator}")).await? else {
            return Ok(None);
        };
        let peer = |reason: String| Error::Peer {
            url: url.to_string(),
            reason,
        };
        let mut body = BytesMut::new();
        while let Some(c) = r.chunk().await.map_err(|e| peer(e.to_string()))? {
            if (body.len() + c.len()) as u64 > limit {
                return Err(peer(format!("a blob over {limit} bytes")));
            }
            body.extend_from_slice(&c);
        }
        Ok(Some(body.freeze()))
    }
}

impl PeerSource {
    /// The node's kit of the blob at `locator` (`GET /kits/{locator}`):
    /// read within [`crate::MAX_KIT_BYTES`] and parsed, but trusted for
    /// nothing (its proof is checked against this node's own headers
    /// before use). `None` when the node has none.
    pub async fn kit(&self, locator: &modelda_da::Locator) -> Result<Option<crate::BlobKit>> {
        let Some((mut r, url)) = self.ask(&format!("kits/{locator}")).await? else {
            return Ok(None);
        };
        let mut body = BytesMut::new();
        while let Some(c) = r.chunk().await.map_err(|e| Error::Peer {
            url: url.to_string(),
            reason: e.to_string(),
        })? {
            if (body.len() + c.len()) as u64 > crate::MAX_KIT_BYTES {
                return Err(Error::Peer {
                    url: url.to_string(),
                    reason: format!("a kit over {} bytes", crate::MAX_KIT_BYTES),
                });
            }
            body.extend_from_slice(&c);
        }
        crate::BlobKit::parse(locator, &body).map(Some)
    }
}

#[async_trait]
impl ChunkSource for PeerSource {
    fn name(&self) -> &'static str {
        "peer"
    }

    async fn read(&self, want: &Want) -> Result<Option<Bytes>> {
        let Some((mut r, url)) = self.ask(&format!("chunks/{}", want.key)).await? else {
            return Ok(None);
        };
        let peer = |reason: String| Error::Peer {
            url: url.to_string(),
            reason,
        };
        // The length is the leaf's; one byte more already makes it a lie.
        let limit = want.key.len() as usize + 1;
        let mut body = BytesMut::with_capacity(limit.min(1 << 20));
        while let Some(c) = r.chunk().await.map_err(|e| peer(e.to_string()))? {
            let take = c.len().min(limit - body.len());
            body.extend_from_slice(&c[..take]);
            if body.len() == limit {
                break;
            }
        }
        Ok(Some(body.freeze()))
    }
}
