//! The index's RocksDB: opening it (one writer, any number of readers in
//! other processes), reading values, the per-height write overlay, and the
//! digest of the whole content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch,
    DB,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::schema::{self, Source, COLUMN_FAMILIES, META_CHECKPOINT, META_SCHEMA, META_SOURCE};
use crate::{Error, Result};

/// The block cache shared by every column family (data, index and filter
/// blocks).
const BLOCK_CACHE_BYTES: usize = 32 << 20;

/// An index directory, opened as its writer or as a reader.
pub struct Index {
    db: DB,
    path: PathBuf,
    reader: bool,
    secondary: Option<PathBuf>,
    checkpoint: tokio::sync::watch::Sender<Option<u64>>,
    /// Held by a unit of work from its first read to its commit: a height
    /// and a registration (the API's, in the same process) never interleave,
    /// so counters and first-seen entries are never written from stale
    /// reads, and the index stays a function of what was read.
    pub(crate) writes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("path", &self.path)
            .field("reader", &self.reader)
            .finish()
    }
}

/// Options of every column family: one shared block cache holding the
/// index and filter blocks too, so that memory does not grow with the
/// number of tables on disk.
fn cf_options(cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut opts = Options::default();
    opts.set_block_based_table_factory(&table);
    opts
}

fn db_options(cache: &Cache) -> Options {
    let mut opts = cf_options(cache);
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Memtables of every column family together stay under 64 MiB: the
    // index's memory is flat in the number of records it holds.
    opts.set_db_write_buffer_size(64 << 20);
    opts.set_max_open_files(256);
    opts
}

impl Index {
    /// Opens (or creates) the index in `dir` as its writer, to follow
    /// `source` (`None`: only to register records by hand). Refuses an index
    /// of another layout or source. One writer at a time: a second process
    /// gets a clear error.
    pub fn open(dir: &Path, source: Option<&Source>) -> Result<Index> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Store {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let opts = db_options(&cache);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(&cache)));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|e| Error::Store {
            path: dir.to_path_buf(),
            detail: format!(
                "{e}; is another `modelda index` or `modelda node` using this directory?"
            ),
        })?;
        let index = Index::wrap(db, dir, false);
        index.check_schema()?;
        let mut batch = WriteBatch::default();
        if index.get(schema::CF_META, META_SCHEMA)?.is_none() {
            batch.put_cf(
                index.cf(schema::CF_META),
                META_SCHEMA,
                schema::SCHEMA_VERSION.to_be_bytes(),
            );
        }
        match (index.source()?, source) {
            (Some(found), Some(wanted)) if &found != wanted => {
                return Err(Error::OtherSource {
                    path: dir.to_path_buf(),
                    found: describe(&found),
                    wanted: describe(wanted),
                })
            }
            (None, Some(wanted)) => {
                batch.put_cf(index.cf(schema::CF_META), META_SOURCE, json(wanted));
            }
            _ => {}
        }
        index.write(batch)?;
        index.checkpoint.send_replace(index.read_checkpoint()?);
        Ok(index)
    }

    /// Opens the index in `dir` for reading while another process writes
    /// it (a RocksDB secondary instance under `dir/readers/`).
    /// [`Index::catch_up`] sees what the writer wrote since.
    pub fn open_reader(dir: &Path) -> Result<Index> {
        if !dir.join("CURRENT").exists() {
            return Err(Error::NoIndex {
                path: dir.to_path_buf(),
            });
        }
        sweep_dead_readers(&dir.join("readers"));
        let secondary =
            dir.join("readers")
                .join(format!("{}-{}", std::process::id(), reader_tag()));
        std::fs::create_dir_all(&secondary).map_err(|e| Error::Store {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let mut opts = cf_options(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
        opts.set_max_open_files(-1);
        let db = DB::open_cf_as_secondary(&opts, dir, secondary.as_path(), COLUMN_FAMILIES)
            .map_err(|e| Error::Store {
                path: dir.to_path_buf(),
                detail: e.to_string(),
            })?;
        let mut index = Index::wrap(db, dir, true);
        index.secondary = Some(secondary);
        index.check_schema()?;
        index.checkpoint.send_replace(index.read_checkpoint()?);
        Ok(index)
    }

    fn wrap(db: DB, dir: &Path, reader: bool) -> Index {
        Index {
            db,
            path: dir.to_path_buf(),
            reader,
            secondary: None,
            checkpoint: tokio::sync::watch::channel(None).0,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads what the writer wrote since (readers; a no-op for the writer).
    pub fn catch_up(&self) -> Result<()> {
        if self.reader {
            self.db
                .try_catch_up_with_primary()
                .map_err(|e| self.store_err(e))?;
            self.checkpoint.send_replace(self.read_checkpoint()?);
        }
        Ok(())
    }

    /// RocksDB's sequence number: it moves with every write (heights and
    /// registrations), in a reader after [`Index::catch_up`]. Equal numbers
    /// mean equal contents, so answers may be cached under it.
    pub fn sequence(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    /// Whether this is a reader (which cannot write).
    pub fn is_reader(&self) -> bool {
        self.reader
    }

    /// The index directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_schema(&self) -> Result<()> {
        if let Some(v) = self.get(schema::CF_META, META_SCHEMA)? {
            let found = <[u8; 4]>::try_from(&v[..])
                .map(u32::from_be_bytes)
                .map_err(|_| self.corrupt("layout version", "not 4 bytes"))?;
            if found != schema::SCHEMA_VERSION {
                return Err(Error::Schema {
                    path: self.path.clone(),
                    found,
                    supported: schema::SCHEMA_VERSION,
                });
            }
        }
        Ok(())
    }

    /// The source the index follows (`None` for a new index).
    pub fn source(&self) -> Result<Option<Source>> {
        self.get_json(schema::CF_META, META_SOURCE, "source")
    }

    /// The last height written (`None` before the first).
    pub fn checkpoint(&self) -> Option<u64> {
        *self.checkpoint.borrow()
    }

    /// Notifications of the checkpoint: every written height, in this
    /// process (and every [`Index::catch_up`] of a reader).
    pub fn watch_checkpoint(&self) -> tokio::sync::watch::Receiver<Option<u64>> {
        self.checkpoint.subscribe()
    }

    fn read_checkpoint(&self) -> Result<Option<u64>> {
        match self.get(schema::CF_META, META_CHECKPOINT)? {
            None => Ok(None),
            Some(v) => <[u8; 8]>::try_from(&v[..])
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| self.corrupt("checkpoint", "not 8 bytes")),
        }
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened")
    }

    pub(crate) fn store_err(&self, e: rocksdb::Error) -> Error {
        Error::Store {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    pub(crate) fn corrupt(&self, what: &str, detail: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    /// The value of `key` in column family `cf`.
    pub(crate) fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.cf(cf), key)
            .map_err(|e| self.store_err(e))
    }

    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        cf: &str,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>> {
        self.get(cf, key)?
            .map(|v| self.decode(&v, what))
            .transpose()
    }

    /// The JSON values of `keys` in `cf`, in one batched read.
    pub(crate) fn get_many_json<T: DeserializeOwned>(
        &self,
        cf: &str,
        keys: &[&[u8]],
        what: &str,
    ) -> Result<Vec<Option<T>>> {
        let handle = self.cf(cf);
        self.db
            .batched_multi_get_cf(handle, keys, false)
            .into_iter()
            .map(|r| {
                r.map_err(|e| self.store_err(e))?
                    .map(|v| self.decode(&v, what))
                    .transpose()
            })
            .collect()
    }

    /// A JSON value of the index; a value that does not decode is corrupt.
    pub(crate) fn decode<T: DeserializeOwned>(&self, v: &[u8], what: &str) -> Result<T> {
        serde_json::from_slice(v).map_err(|e| self.corrupt(what, e))
    }

    /// Up to `limit` entries of `cf` whose key starts with `prefix` and is
    /// after `after` (exclusive; `None`: from the start of the prefix), in
    /// key order.
    pub(crate) fn scan(
        &self,
        cf: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let start = after.unwrap_or(prefix);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(start, Direction::Forward))
        {
            let (k, v) = item.map_err(|e| self.store_err(e))?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            if after.is_some_and(|a| &k[..] <= a) {
                continue;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Writes a batch.
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db.write(batch).map_err(|e| self.store_err(e))
    }

    pub(crate) fn set_checkpoint_seen(&self, height: u64) {
        self.checkpoint.send_replace(Some(height));
    }

    /// BLAKE3 of the whole content: every column family in a fixed order,
    /// every entry in key order, each length-prefixed. Two indexes of the
    /// same data at the same checkpoint have the same digest.
    pub fn digest(&self) -> Result<Digest> {
        let mut h = blake3::Hasher::new();
        let mut entries = 0u64;
        for name in COLUMN_FAMILIES {
            h.update(&(name.len() as u32).to_be_bytes());
            h.update(name.as_bytes());
            for item in self.db.iterator_cf(self.cf(name), IteratorMode::Start) {
                let (k, v) = item.map_err(|e| self.store_err(e))?;
                h.update(&(k.len() as u32).to_be_bytes());
                h.update(&k);
                h.update(&(v.len() as u64).to_be_bytes());
                h.update(&v);
                entries += 1;
            }
        }
        Ok(Digest {
            digest: h.finalize().to_hex().to_string(),
            checkpoint: self.read_checkpoint()?,
            entries,
        })
    }

    /// Bytes of the index's files on disk.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(rd) = std::fs::read_dir(p) else {
                return 0;
            };
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => {
                        if e.file_name() == "readers" {
                            0
                        } else {
                            walk(&e.path())
                        }
                    }
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.path)
    }

    /// Flushes memtables to files (for measuring the size on disk).
    pub fn flush(&self) -> Result<()> {
        for name in COLUMN_FAMILIES {
            self.db
                .flush_cf(self.cf(name))
                .map_err(|e| self.store_err(e))?;
        }
        Ok(())
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        if let Some(dir) = &self.secondary {
            // The secondary's own files are of no use to anyone after it.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes the files of readers whose process is gone (killed before they
/// could remove their own).
fn sweep_dead_readers(readers: &Path) {
    let Ok(entries) = std::fs::read_dir(readers) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name.to_string_lossy();
        let Some(pid) = pid.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

static READERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn reader_tag() -> u64 {
    READERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What `modelda index digest` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// BLAKE3 of the content (hex).
    pub digest: String,
    /// The checkpoint it was taken at.
    pub checkpoint: Option<u64>,
    /// Entries hashed.
    pub entries: u64,
}

fn describe(s: &Source) -> String {
    match &s.namespace {
        Some(ns) => format!("{} namespace {ns}", s.layer),
        None => s.layer.clone(),
    }
}

pub(crate) fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("index values always serialize")
}

/// The writes of one height (or one registration), read through before the
/// index: what an earlier record of the same height wrote is seen by the
/// next. Committed as one RocksDB write batch.
pub(crate) struct Overlay<'a> {
    index: &'a Index,
    writes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// Writes never read back in the same batch (chunks, blob lists,
    /// tensors): straight into the batch.
    blind: WriteBatch,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(index: &'a Index) -> Overlay<'a> {
        Overlay {
            index,
            writes: BTreeMap::new(),
            blind: WriteBatch::default(),
        }
    }

    pub(crate) fn index(&self) -> &'a Index {
        self.index
    }

    pub(crate) fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.writes.get(&(cf, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.index.get(cf, key),
        }
    }

    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>> {
        self.get(cf, key)?
            .map(|v| self.index.decode(&v, what))
            .transpose()
    }

    pub(crate) fn contains(&self, cf: &'static str, key: &[u8]) -> Result<bool> {
        Ok(self.get(cf, key)?.is_some())
    }

    pub(crate) fn put(&mut self, cf: &'static str, key: &[u8], value: Vec<u8>) {
        self.writes.insert((cf, key.to_vec()), Some(value));
    }

    pub(crate) fn put_json<T: Serialize>(&mut self, cf: &'static str, key: &[u8], value: &T) {
        self.put(cf, key, json(value));
    }

    /// A write that nothing reads before the batch is committed.
    pub(crate) fn put_blind(&mut self, cf: &'static str, key: &[u8], value: Vec<u8>) {
        self.blind.put_cf(self.index.cf(cf), key, value);
    }

    pub(crate) fn delete(&mut self, cf: &'static str, key: &[u8]) {
        self.writes.insert((cf, key.to_vec()), None);
    }

    /// Every key of `cf` starting with `prefix`, the overlay's writes
    /// applied, in key order; at most `limit`.
    pub(crate) fn keys_with_prefix(
        &self,
        cf: &'static str,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let mut keys: BTreeMap<Vec<u8>, bool> = self
            .index
            .scan(cf, prefix, None, limit)?
            .into_iter()
            .map(|(k, _)| (k, true))
            .collect();
        for ((c, k), v) in self.writes.range((cf, prefix.to_vec())..) {
            if *c != cf || !k.starts_with(prefix) {
                break;
            }
            keys.insert(k.clone(), v.is_some());
        }
        Ok(keys
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(k, _)| k)
            .take(limit)
            .collect())
    }

    /// Adds `by` to counter `name` (`meta_v1`, `count/NAME`).
    pub(crate) fn count(&mut self, name: &str, by: u64) -> Result<()> {
        let key = format!("{}{name}", schema::META_COUNT_PREFIX).into_bytes();
        let now = match self.get(schema::CF_META, &key)? {
            Some(v) => <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .map_err(|_| self.index.corrupt("counter", "not 8 bytes"))?,
            None => 0,
        };
        self.put(schema::CF_META, &key, (now + by).to_be_bytes().to_vec());
        Ok(())
    }

    /// Writes everything, with the checkpoint at `height` when given, in one
    /// batch.
    pub(crate) fn commit(self, height: Option<u64>) -> Result<()> {
        let index = self.index;
        let mut batch = self.blind;
        for ((cf, k), v) in self.writes {
            match v {
                Some(v) => batch.put_cf(index.cf(cf), k, v),
                None => batch.delete_cf(index.cf(cf), k),
            }
        }
        if let Some(h) = height {
            batch.put_cf(index.cf(schema::CF_META), META_CHECKPOINT, h.to_be_bytes());
        }
        index.write(batch)?;
        if let Some(h) = height {
            index.set_checkpoint_seen(h);
        }
        Ok(())
    }
}
