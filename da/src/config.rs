//! Which layer to use and how to reach it, as a command line or a config
//! file states it, and opening it: one place for every binary (publish,
//! fetch, the indexer, the server) to turn settings into a [`DaLayer`].

use std::path::PathBuf;

use crate::avail::{AvailLayer, AvailOptions, MAX_APP_DATA_BYTES};
use crate::celestia::{CelestiaLayer, CelestiaOptions};
use crate::eigenda::{EigenDaLayer, EigenDaOptions, MAX_PAYLOAD_BYTES};
use crate::{ChainLimits, DaLayer, LayerKind, Limits, Result};

/// How a layer is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// To post to it. The embedded chain is opened as its writer (one
    /// process at a time).
    Write,
    /// To read from it. The embedded chain is opened as a reader, which
    /// never locks out a process writing it.
    Read,
}

/// A layer's settings.
#[derive(Clone, Debug)]
pub struct LayerConfig {
    /// Which layer. Default: the embedded local chain.
    pub kind: LayerKind,
    /// Where the embedded chain lives. Default: `.modelda/local`.
    pub data_dir: PathBuf,
    /// Square and transaction limits of the embedded chain and Celestia.
    /// Default: app v5.
    pub limits: ChainLimits,
    /// The Celestia client's settings (its `limits` are set from
    /// [`LayerConfig::limits`] on open).
    pub celestia: CelestiaOptions,
    /// The EigenDA client's settings.
    pub eigenda: EigenDaOptions,
    /// The Avail client's settings.
    pub avail: AvailOptions,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            kind: LayerKind::Local,
            data_dir: PathBuf::from(".modelda/local"),
            limits: ChainLimits::APP_V5,
            celestia: CelestiaOptions::default(),
            eigenda: EigenDaOptions::default(),
            avail: AvailOptions::default(),
        }
    }
}

impl LayerConfig {
    /// Opens the layer. Only the embedded chain touches anything here; the
    /// clients of remote layers make no request until used.
    pub async fn open(&self, access: Access) -> Result<Box<dyn DaLayer>> {
        Ok(match self.kind {
            LayerKind::Local => self.open_local(access)?,
            LayerKind::Celestia => Box::new(
                CelestiaLayer::connect(CelestiaOptions {
                    limits: self.limits,
                    ..self.celestia.clone()
                })
                .await?,
            ),
            LayerKind::Eigenda => Box::new(EigenDaLayer::new(self.eigenda.clone())?),
            LayerKind::Avail => Box::new(AvailLayer::new(self.avail.clone())?),
        })
    }

    #[cfg(feature = "local")]
    fn open_local(&self, access: Access) -> Result<Box<dyn DaLayer>> {
        let chain = match access {
            Access::Write => crate::LocalChain::open(&self.data_dir, self.limits)?,
            Access::Read => crate::LocalChain::open_reader(&self.data_dir, self.limits)?,
        };
        Ok(Box::new(crate::LocalLayer::new(chain)))
    }

    #[cfg(not(feature = "local"))]
    fn open_local(&self, _access: Access) -> Result<Box<dyn DaLayer>> {
        Err(crate::Error::Store {
            path: self.data_dir.clone(),
            detail: "this build has no embedded chain (the `local` feature is off)".into(),
        })
    }

    /// The limits the layer has, as far as is known without asking it (a
    /// dry run posts nothing and may have no network): EigenDA's largest
    /// payload by default (the proxy may state a smaller one), one
    /// PayForBlobs transaction per Celestia submission, one block per local
    /// one.
    pub fn assumed_limits(&self) -> Limits {
        match self.kind {
            LayerKind::Eigenda => Limits {
                max_blob_bytes: MAX_PAYLOAD_BYTES,
                max_batch_bytes: MAX_PAYLOAD_BYTES,
            },
            LayerKind::Celestia => {
                let l = self.limits.limits();
                Limits {
                    max_blob_bytes: l.max_blob_bytes,
                    max_batch_bytes: l.max_blob_bytes,
                }
            }
            LayerKind::Local => self.limits.limits(),
            LayerKind::Avail => Limits {
                max_blob_bytes: MAX_APP_DATA_BYTES,
                max_batch_bytes: MAX_APP_DATA_BYTES,
            },
        }
    }
}
