//! Readers of the embedded chain: RocksDB secondary instances that follow
//! the process writing the chain (see [`LocalChain::open_reader`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rocksdb::{Options, DB};

use super::{cf, ChainLimits, Inner, LocalChain, ReaderState, READERS_DIR};
use crate::header::Signer;
use crate::{Error, Result};

impl LocalChain {
    /// Opens the chain under `dir` as a reader that follows the process
    /// writing it (or a chain nobody writes). A reader never writes to the
    /// chain: appends are refused.
    pub fn open_reader(dir: &Path, limits: ChainLimits) -> Result<Self> {
        let store = |detail: String| Error::Store {
            path: dir.to_path_buf(),
            detail,
        };
        if !dir.join("CURRENT").exists() {
            return Err(store(
                "there is no chain here yet: publish or submit something first".into(),
            ));
        }
        let readers = dir.join(READERS_DIR);
        sweep_dead_readers(&readers);
        let mut tag = [0u8; 4];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut tag);
        let own = readers.join(format!("{}-{}", std::process::id(), hex::encode(tag)));
        std::fs::create_dir_all(&own).map_err(|e| Error::Io {
            path: own.clone(),
            source: e,
        })?;
        let mut opts = Options::default();
        // RocksDB requires secondaries to keep every file open.
        opts.set_max_open_files(-1);
        let listed = DB::list_cf(&opts, dir).map_err(|e| store(e.to_string()))?;
        if listed.iter().any(|n| n == cf::LEGACY_BLOBS) {
            return Err(store(
                "this chain was written by an older modelda (blob bytes inside RocksDB); start a new data directory".into(),
            ));
        }
        let cfs: Vec<&str> = cf::ALL
            .iter()
            .copied()
            .filter(|n| listed.iter().any(|l| l == n))
            .collect();
        if cfs.len() != cf::ALL.len() {
            let _ = std::fs::remove_dir_all(&own);
            return Err(store("the chain is still being created: try again".into()));
        }
        let db = DB::open_cf_as_secondary(&opts, dir, &own, cfs).map_err(|e| {
            let _ = std::fs::remove_dir_all(&own);
            store(format!("opening as a reader: {e}"))
        })?;
        let seed = match db
            .get_cf(db.cf_handle(cf::META).expect("opened"), b"signer-seed")
            .map_err(|e| store(e.to_string()))?
        {
            Some(s) if s.len() == 32 => <[u8; 32]>::try_from(&s[..]).expect("32 bytes"),
            _ => {
                return Err(store(
                    "the chain has no validator key yet: try again".into(),
                ))
            }
        };
        let chain = LocalChain {
            inner: Arc::new(Inner {
                db,
                path: dir.to_path_buf(),
                limits,
                signer: Signer::from_seed(seed),
                append: None,
                readers: Mutex::new(HashMap::new()),
                headers: Mutex::new(()),
                aids: Mutex::new(HashMap::new()),
                reader: Some(ReaderState {
                    dir: own,
                    seen_head: std::sync::atomic::AtomicU64::new(0),
                    headers: Mutex::new(HashMap::new()),
                }),
            }),
        };
        chain.head()?;
        Ok(chain)
    }
}

/// Removes reader directories of processes that no longer run.
fn sweep_dead_readers(readers: &Path) {
    let Ok(entries) = std::fs::read_dir(readers) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.split('-').next()?.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
