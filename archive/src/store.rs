//! The archive: leaves kept by content behind `object_store`, in a local
//! directory or any S3-compatible bucket.
//!
//! Layout under the archive's root (a directory, or a bucket's prefix):
//! - `leaves/<commitment hex>-<offset KiB>`: a leaf's bytes; the name is
//!   all that is needed to check them ([`LeafKey::name`]);
//! - `leaves/<root hex>`: a file of one leaf, whole.
//!
//! Only checked bytes are written, each object whole or not at all (a
//! local directory writes a staging file and renames it; an S3 PUT is
//! atomic). Every read is checked again: an object that fails counts as
//! missing, and the chain reads the leaf elsewhere and writes it again.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};

use modelda_da::Locator;

use crate::source::{ChunkSource, Want};
use crate::{Error, LeafKey, Result};

/// Where an archive lives, as a user names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveSpec {
    /// A local directory (created when missing).
    Dir(std::path::PathBuf),
    /// `s3://BUCKET/PREFIX`: an S3-compatible bucket, credentials and
    /// region from the usual AWS variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix inside it (may be empty).
        prefix: String,
        /// The endpoint of an S3-compatible server (`http://host:port`);
        /// `None`: AWS, or `AWS_ENDPOINT`.
        endpoint: Option<String>,
    },
}

impl ArchiveSpec {
    /// Reads `s` (`s3://BUCKET/PREFIX`, or a directory path), with
    /// `endpoint` for S3-compatible servers.
    pub fn parse(s: &str, endpoint: Option<&str>) -> Result<ArchiveSpec> {
        let bad = |reason: &str| Error::Spec {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket: write s3://BUCKET/PREFIX"));
            }
            return Ok(ArchiveSpec::S3 {
                bucket: bucket.into(),
                prefix: prefix.trim_matches('/').into(),
                endpoint: endpoint.map(str::to_string),
            });
        }
        if s.contains("://") {
            return Err(bad("only local directories and s3:// buckets are archives"));
        }
        if s.is_empty() {
            return Err(bad("an empty path"));
        }
        if endpoint.is_some() {
            return Err(bad("an endpoint is for s3:// archives only"));
        }
        Ok(ArchiveSpec::Dir(s.into()))
    }
}

impl std::fmt::Display for ArchiveSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveSpec::Dir(d) => write!(f, "{}", d.display()),
            ArchiveSpec::S3 { bucket, prefix, .. } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            ArchiveSpec::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// What an archive holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// Leaves held.
    pub leaves: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Objects under `leaves/` whose names are not leaves'.
    pub foreign: u64,
}

/// A content-addressed store of leaves. Cheap to clone.
#[derive(Clone)]
pub struct Archive {
    store: Arc<dyn ObjectStore>,
    root: Path,
    spec: ArchiveSpec,
}

impl Archive {
    /// Opens the archive `spec` (a local directory is created).
    pub fn open(spec: ArchiveSpec) -> Result<Archive> {
        let (store, root): (Arc<dyn ObjectStore>, Path) = match &spec {
            ArchiveSpec::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                    path: dir.clone(),
                    source: e,
                })?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| store_error(&spec.to_string(), e))?
                    .with_fsync(true);
                (Arc::new(fs), Path::default())
            }
            ArchiveSpec::S3 {
                bucket,
                prefix,
                endpoint,
            } => {
                // A bucket that does not answer is an error in seconds, not
                // minutes: the archiver reports it and tries again later.
                let retry = object_store::RetryConfig {
                    max_retries: 3,
                    retry_timeout: std::time::Duration::from_secs(20),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5))
                    .with_timeout(std::time::Duration::from_secs(120));
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(e) = endpoint {
                    b = b
                        .with_endpoint(e)
                        .with_allow_http(e.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                let s3 = b.build().map_err(|e| store_error(&spec.to_string(), e))?;
                (Arc::new(s3), Path::from(prefix.as_str()))
            }
        };
        Ok(Archive { store, root, spec })
    }

    /// Where it lives.
    pub fn spec(&self) -> &ArchiveSpec {
        &self.spec
    }

    fn path(&self, name: &str) -> Path {
        name.split('/')
            .fold(self.root.clone(), |p, part| p.clone().join(part))
    }

    /// Writes `bytes` as `key`, after checking them: nothing unchecked is
    /// ever stored.
    pub async fn put_leaf(&self, key: &LeafKey, bytes: Bytes) -> Result<()> {
        if !key.check(&bytes) {
            return Err(Error::Corrupt {
                name: key.name(),
                reason: "refused to store bytes that do not match the commitment".into(),
            });
        }
        let name = key.name();
        self.store
            .put(&self.path(&name), bytes.into())
            .await
            .map_err(|e| store_error(&name, e))?;
        Ok(())
    }

    /// Whether an object is held as `key` (not checked).
    pub async fn has_leaf(&self, key: &LeafKey) -> Result<bool> {
        let name = key.name();
        match self.store.head(&self.path(&name)).await {
            Ok(m) => Ok(m.size == key.len()),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(&name, e)),
        }
    }

    /// The objects under directory `dir`.
    pub(crate) fn list_under(
        &self,
        dir: &str,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.store.list(Some(&self.path(dir)))
    }

    /// Deletes the object `name` (nothing when there is none).
    pub(crate) async fn delete_object(&self, name: &str) -> Result<()> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(name, e)),
        }
    }

    /// Whether any object is held as `name`.
    pub async fn has_object(&self, name: &str) -> Result<bool> {
        match self.store.head(&self.path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(name, e)),
        }
    }

    /// The object held as `key`, unchecked; `None` when there is none.
    /// An object of the wrong size is not read at all.
    pub async fn get_leaf(&self, key: &LeafKey) -> Result<Option<Bytes>> {
        let name = key.name();
        let got = match self.store.get(&self.path(&name)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(&name, e)),
        };
        if got.meta.size != key.len() {
            return Err(Error::Corrupt {
                name,
                reason: format!("{} bytes held, {} expected", got.meta.size, key.len()),
            });
        }
        got.bytes()
            .await
            .map(Some)
            .map_err(|e| store_error(&name, e))
    }

    /// Deletes the object held as `key` (nothing when there is none).
    pub async fn delete_leaf(&self, key: &LeafKey) -> Result<()> {
        let name = key.name();
        match self.store.delete(&self.path(&name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&name, e)),
        }
    }

    /// Every leaf held, with its size, in no particular order; objects
    /// whose names are not leaves' are counted in `foreign`.
    pub async fn leaves(&self, mut each: impl FnMut(LeafKey)) -> Result<Held> {
        let dir = self.path("leaves");
        let mut list = self.store.list(Some(&dir));
        let mut held = Held::default();
        while let Some(m) = list.next().await {
            let m = m.map_err(|e| store_error("leaves/", e))?;
            let key = m
                .location
                .filename()
                .and_then(|n| LeafKey::from_name(n, m.size));
            match key {
                Some(k) => {
                    held.leaves += 1;
                    held.bytes += m.size;
                    each(k);
                }
                None => held.foreign += 1,
            }
        }
        Ok(held)
    }

    /// Writes the blob at `locator` (a record page), after checking it
    /// where its locator allows ([`blob_matches`]).
    pub async fn put_blob(&self, locator: &Locator, bytes: Bytes) -> Result<()> {
        let name = blob_name(locator);
        if blob_matches(locator, &bytes) == Some(false) {
            return Err(Error::Corrupt {
                name,
                reason: "refused to store a blob that does not match its locator".into(),
            });
        }
        self.store
            .put(&self.path(&name), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| store_error(&name, e))
    }

    /// The blob held for `locator`, checked where its locator allows; at
    /// most `limit` bytes. `None` when none is held.
    pub async fn get_blob(&self, locator: &Locator, limit: u64) -> Result<Option<Bytes>> {
        let name = blob_name(locator);
        let Some(b) = self.get_note(&name, limit).await? else {
            return Ok(None);
        };
        if blob_matches(locator, &b) == Some(false) {
            return Err(Error::Corrupt {
                name,
                reason: "the stored blob does not match its locator".into(),
            });
        }
        Ok(Some(b))
    }

    /// Writes `bytes` as the small object `name` (progress, notes).
    pub async fn put_note(&self, name: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.path(name), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| store_error(name, e))
    }

    /// The small object `name`, at most `limit` bytes; `None` when absent.
    pub async fn get_note(&self, name: &str, limit: u64) -> Result<Option<Bytes>> {
        let got = match self.store.get(&self.path(name)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(name, e)),
        };
        if got.meta.size > limit {
            return Err(Error::Corrupt {
                name: name.into(),
                reason: format!("{} bytes, more than {limit}", got.meta.size),
            });
        }
        got.bytes()
            .await
            .map(Some)
            .map_err(|e| store_error(name, e))
    }
}

/// The object name of the blob at `locator`: `blobs/<locator text>`.
pub fn blob_name(locator: &Locator) -> String {
    format!("blobs/{locator}")
}

/// Whether `data` is the blob at `locator`, where the locator commits to
/// its bytes: on square layers (the embedded chain, Celestia) the share
/// commitment is recomputed; on Avail the locator's leaf is the data's
/// Keccak-256. `None` where the locator cannot tell (an EigenDA cert, whose
/// KZG commitment modelda does not recompute).
pub fn blob_matches(locator: &Locator, data: &[u8]) -> Option<bool> {
    // An Avail locator names its submission by the data's Keccak-256.
    if let Locator::Avail { leaf, .. } = locator {
        return Some(!data.is_empty() && modelda_da::avail::proof::leaf_of(data) == *leaf);
    }
    let (_, ns, c) = locator.square_parts()?;
    Some(
        !data.is_empty()
            && modelda_da::square::share_commitment(ns.as_bytes(), data) == *c.as_bytes(),
    )
}

fn store_error(name: &str, e: object_store::Error) -> Error {
    if is_full(&e) {
        return Error::Full {
            name: name.to_string(),
            source: Box::new(e),
        };
    }
    Error::Store {
        name: name.to_string(),
        source: Box::new(e),
    }
}

/// Whether `e` says the disk or quota is full (ENOSPC, EDQUOT).
fn is_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = at {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) {
                return true;
            }
        }
        at = x.source();
    }
    false
}

#[async_trait]
impl ChunkSource for Archive {
    fn name(&self) -> &'static str {
        "archive"
    }

    async fn read(&self, want: &Want) -> Result<Option<Bytes>> {
        self.get_leaf(&want.key).await
    }

    async fn keep(&self, key: &LeafKey, bytes: &Bytes) -> Result<()> {
        self.put_leaf(key, bytes.clone()).await
    }
}
