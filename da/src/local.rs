//! The embedded local chain: blocks of blobs under a data directory, with
//! Celestia namespaces and share commitments. Data squares, DAHs, signed
//! headers and NMT proofs are built when asked for, so appending a block
//! costs one append to a segment file and one atomic RocksDB write.
//!
//! Blob bytes live in append-only segment files (`segments/NNNNNNNN.seg`, a
//! new one past 1 GiB); RocksDB holds where they are. A block is appended by
//! writing its blobs to the segment, then one write batch with the block,
//! the blob records and the segment's new end. A crash between the two
//! leaves bytes past the recorded end, which the next open cuts off.
//!
//! Column families (keys fixed-width big-endian):
//!
//! | family | key | value |
//! |---|---|---|
//! | `meta-v1` | `head`, `signer-seed`, `segment` | u64 head height; 32-byte validator seed; segment id u32 and end u64 |
//! | `blocks-v1` | height u64 | time (i64 s, u32 ns), blob count u32, then per blob namespace 29 and length u64 |
//! | `blobs-v2` | height u64, index u32 | namespace 29, commitment 32, segment u32, offset u64, length u64 |
//! | `commitments-v1` | namespace 29, commitment 32, height u64 | index u32 |
//! | `headers-v1` | height u64 | signed `ExtendedHeader` (JSON), cached |
//! | `eigenda-v1` | (unused: the devnet's EigenDA memstore of earlier builds; opened so that their stores still open) | |

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use celestia_types::nmt::Namespace as CNamespace;
use celestia_types::{Blob, Commitment, ExtendedHeader};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};
use tendermint::Time;

pub use crate::chain::{share_commitment, to_celestia, verify_inclusion, ChainLimits};
use crate::header::{next_time, Signer};
use crate::square::{self, Square};
use crate::{Error, Namespace, Result, ShareCommitment};

mod aids;
mod layer;
mod reader;
#[cfg(test)]
mod tests;

pub use layer::LocalLayer;

/// Column family names, versioned.
pub mod cf {
    /// Chain metadata.
    pub const META: &str = "meta-v1";
    /// Block times and blob counts.
    pub const BLOCKS: &str = "blocks-v1";
    /// Blob records by height and index (the bytes are in segment files).
    pub const BLOBS: &str = "blobs-v2";
    /// The family of chains written before segment files (refused on open).
    pub const LEGACY_BLOBS: &str = "blobs-v1";
    /// Blob index by namespace, commitment and height.
    pub const COMMITMENTS: &str = "commitments-v1";
    /// Cached signed headers.
    pub const HEADERS: &str = "headers-v1";
    /// Unused: the devnet's EigenDA payloads in builds before the devnet
    /// crate kept them in files. Still opened, as RocksDB requires for
    /// every family a store holds.
    pub const EIGENDA: &str = "eigenda-v1";
    /// All of them.
    pub const ALL: [&str; 6] = [META, BLOCKS, BLOBS, COMMITMENTS, HEADERS, EIGENDA];
}

/// A blob as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Index in the block.
    pub index: u32,
    /// Namespace.
    pub namespace: Namespace,
    /// Share commitment.
    pub commitment: ShareCommitment,
    /// Bytes.
    pub data: Vec<u8>,
}

/// The chain. Cheap to clone; readers run while a writer appends.
///
/// One process opens a chain as its writer ([`LocalChain::open`]); any
/// number of other processes may follow it as readers
/// ([`LocalChain::open_reader`]): RocksDB secondary instances that catch up
/// with the writer when asked for a height they have not seen, reading the
/// segment files directly.
#[derive(Clone)]
pub struct LocalChain {
    inner: Arc<Inner>,
}

struct Inner {
    db: DB,
    path: PathBuf,
    limits: ChainLimits,
    signer: Signer,
    /// The segment being appended to (its lock serializes appends), or
    /// `None` in a reader.
    append: Option<Mutex<Segment>>,
    /// Open segment files for reading.
    readers: Mutex<HashMap<u32, Arc<File>>>,
    headers: Mutex<()>,
    /// What proving needs, by height (see `aids`).
    aids: Mutex<HashMap<u64, Arc<aids::Aids>>>,
    /// A reader's own state: its secondary directory, the newest head it
    /// has caught up to, and the headers it signed (it cannot cache them in
    /// the store).
    reader: Option<ReaderState>,
}

struct ReaderState {
    dir: PathBuf,
    seen_head: std::sync::atomic::AtomicU64,
    headers: Mutex<HashMap<u64, ExtendedHeader>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(r) = &self.reader {
            let _ = std::fs::remove_dir_all(&r.dir);
        }
    }
}

/// Directory under the chain's data directory where readers keep their
/// RocksDB secondary state, one subdirectory per reader process.
pub const READERS_DIR: &str = "readers";

/// Largest segment file before a new one is started.
pub const SEGMENT_BYTES: u64 = 1 << 30;

/// Length of a blob record in `blobs-v2`.
const BLOB_RECORD_LEN: usize = 29 + 32 + 4 + 8 + 8;

/// The segment file being appended to.
struct Segment {
    id: u32,
    end: u64,
    file: File,
}

fn segment_path(dir: &Path, id: u32) -> PathBuf {
    dir.join("segments").join(format!("{id:08}.seg"))
}

fn h8(h: u64) -> [u8; 8] {
    h.to_be_bytes()
}

/// Key of a blob record in `blobs-v2`: height, index.
fn blob_key(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&h8(height));
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Key of the commitment index in `commitments-v1`: namespace, commitment,
/// height.
fn commitment_key(ns: Namespace, c: ShareCommitment, height: u64) -> [u8; 69] {
    let mut k = [0u8; 69];
    k[..29].copy_from_slice(ns.as_bytes());
    k[29..61].copy_from_slice(c.as_bytes());
    k[61..].copy_from_slice(&h8(height));
    k
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// A stored blob as celestia-types' `Blob`, with the share commitment that
/// was computed when it was appended (not recomputed).
pub fn stored_blob(b: &StoredBlob, index: Option<u64>) -> Blob {
    Blob {
        namespace: to_celestia(b.namespace),
        data: b.data.clone(),
        share_version: 0,
        commitment: Commitment::new(*b.commitment.as_bytes()),
        index,
        signer: None,
    }
}

impl LocalChain {
    /// Opens (or creates) the chain under `dir`.
    pub fn open(dir: &Path, limits: ChainLimits) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let store = |detail: String| Error::Store {
            path: dir.to_path_buf(),
            detail,
        };
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        if DB::list_cf(&opts, dir).is_ok_and(|l| l.iter().any(|n| n == cf::LEGACY_BLOBS)) {
            return Err(store(
                "this chain was written by an older modelda (blob bytes inside RocksDB); start a new data directory".into(),
            ));
        }
        let cfs = cf::ALL
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|e| {
            store(format!(
                "{e}; is another modelda process using this directory?"
            ))
        })?;
        let meta = db.cf_handle(cf::META).expect("created");
        let seed = match db
            .get_cf(meta, b"signer-seed")
            .map_err(|e| store(e.to_string()))?
        {
            Some(s) if s.len() == 32 => <[u8; 32]>::try_from(&s[..]).expect("32 bytes"),
            Some(_) => return Err(store("corrupt validator seed".into())),
            None => {
                let mut s = [0u8; 32];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut s);
                db.put_cf(meta, b"signer-seed", s)
                    .map_err(|e| store(e.to_string()))?;
                s
            }
        };
        // The segment being appended to, cut back to its recorded end.
        let (id, end) = match db
            .get_cf(meta, b"segment")
            .map_err(|e| store(e.to_string()))?
        {
            Some(v) if v.len() == 12 => (
                u32::from_be_bytes(v[..4].try_into().expect("4 bytes")),
                be_u64(&v[4..]),
            ),
            Some(_) => return Err(store("corrupt segment record".into())),
            None => (1, 0),
        };
        let seg_dir = dir.join("segments");
        std::fs::create_dir_all(&seg_dir).map_err(|e| Error::Io {
            path: seg_dir.clone(),
            source: e,
        })?;
        let path = segment_path(dir, id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
        let len = file
            .metadata()
            .map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?
            .len();
        if len < end {
            return Err(store(format!(
                "segment {} holds {len} bytes but the chain records {end}: blob bytes are missing",
                path.display()
            )));
        }
        if len > end {
            tracing::warn!(segment = %path.display(), len, end, "cutting off bytes of an append that never completed");
            file.set_len(end).map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
        }
        Ok(LocalChain {
            inner: Arc::new(Inner {
                db,
                path: dir.to_path_buf(),
                limits,
                signer: Signer::from_seed(seed),
                append: Some(Mutex::new(Segment { id, end, file })),
                readers: Mutex::new(HashMap::new()),
                headers: Mutex::new(()),
                aids: Mutex::new(HashMap::new()),
                reader: None,
            }),
        })
    }

    /// Whether this handle only reads (another process writes the chain).
    pub fn is_reader(&self) -> bool {
        self.inner.reader.is_some()
    }

    fn read_only(&self) -> Error {
        self.store_err("this chain is open as a reader (another process writes it): it cannot be written from here")
    }

    fn store_err(&self, e: impl std::fmt::Display) -> Error {
        Error::Store {
            path: self.inner.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The bytes a blob record points at.
    fn read_blob(&self, record: &[u8]) -> Result<Vec<u8>> {
        let len = usize::try_from(be_u64(&record[73..81]))
            .map_err(|_| self.store_err("corrupt blob length"))?;
        self.read_blob_part(record, 0..len)
    }

    /// Bytes `range` of the blob a record points at (cut at its end).
    fn read_blob_part(&self, record: &[u8], range: std::ops::Range<usize>) -> Result<Vec<u8>> {
        let id = u32::from_be_bytes(record[61..65].try_into().expect("4 bytes"));
        let len = usize::try_from(be_u64(&record[73..81]))
            .map_err(|_| self.store_err("corrupt blob length"))?;
        let (from, to) = (range.start.min(len), range.end.min(len));
        let offset = be_u64(&record[65..73]) + from as u64;
        let len = to.saturating_sub(from);
        let file = {
            let mut readers = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            match readers.get(&id) {
                Some(f) => f.clone(),
                None => {
                    let path = segment_path(&self.inner.path, id);
                    let f = Arc::new(File::open(&path).map_err(|e| Error::Io { path, source: e })?);
                    readers.insert(id, f.clone());
                    f
                }
            }
        };
        let mut data = vec![0u8; len];
        file.read_exact_at(&mut data, offset)
            .map_err(|e| Error::Io {
                path: segment_path(&self.inner.path, id),
                source: e,
            })?;
        Ok(data)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.inner
            .db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    /// Number of live handles to this chain (the store closes when the last
    /// one is dropped).
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Data directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Size limits.
    pub fn limits(&self) -> ChainLimits {
        self.inner.limits
    }

    /// The validator key that signs headers.
    pub fn validator_key(&self) -> tendermint::PublicKey {
        self.inner.signer.public_key()
    }

    /// Height of the newest block (0 before the first). A reader catches
    /// up with the writer first.
    pub fn head(&self) -> Result<u64> {
        if let Some(r) = &self.inner.reader {
            self.inner
                .db
                .try_catch_up_with_primary()
                .map_err(|e| self.store_err(format!("catching up with the writer: {e}")))?;
            let head = self.stored_head()?;
            r.seen_head
                .fetch_max(head, std::sync::atomic::Ordering::SeqCst);
            return Ok(head);
        }
        self.stored_head()
    }

    fn stored_head(&self) -> Result<u64> {
        Ok(self
            .inner
            .db
            .get_cf(self.cf(cf::META), b"head")
            .map_err(|e| self.store_err(e))?
            .map(|v| be_u64(&v))
            .unwrap_or(0))
    }

    /// Checks blobs against the limits before they are accepted.
    pub fn check(&self, blobs: &[(Namespace, &[u8])]) -> Result<()> {
        let l = self.inner.limits.limits();
        crate::layer::check_blobs("local", blobs.iter().map(|b| b.1.len()), l.max_blob_bytes)?;
        let shares: usize = blobs.iter().map(|(_, d)| square::shares_for(d.len())).sum();
        let max = self.inner.limits.max_square_width.pow(2);
        if shares > max {
            // In share payload (what the blobs fill, whole shares each),
            // so the size said is above the limit said.
            return Err(Error::BlobTooLarge {
                layer: "local",
                size: blobs
                    .iter()
                    .map(|b| crate::celestia::batch_weight(b.1.len()))
                    .sum(),
                limit: l.max_batch_bytes,
            });
        }
        Ok(())
    }

    /// Appends one block holding `blobs` (possibly none) in one atomic write.
    /// Returns its height and each blob's share commitment.
    pub fn append(&self, blobs: &[(Namespace, &[u8])]) -> Result<(u64, Vec<ShareCommitment>)> {
        self.check(blobs)?;
        let commitments: Vec<ShareCommitment> = blobs
            .iter()
            .map(|(ns, d)| share_commitment(*ns, d))
            .collect::<Result<_>>()?;
        let Some(append) = &self.inner.append else {
            return Err(self.read_only());
        };
        let mut seg = append.lock().unwrap_or_else(|p| p.into_inner());
        let height = self.head()? + 1;
        // Blob bytes first, past the segment's recorded end.
        let mut places = Vec::with_capacity(blobs.len());
        for (_, data) in blobs {
            if seg.end > 0 && seg.end + data.len() as u64 > SEGMENT_BYTES {
                let id = seg.id + 1;
                let path = segment_path(&self.inner.path, id);
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| Error::Io { path, source: e })?;
                *seg = Segment { id, end: 0, file };
            }
            seg.file
                .write_all_at(data, seg.end)
                .map_err(|e| Error::Io {
                    path: segment_path(&self.inner.path, seg.id),
                    source: e,
                })?;
            places.push((seg.id, seg.end));
            seg.end += data.len() as u64;
        }
        let prev_time = if height > 1 {
            Some(self.block_time(height - 1)?)
        } else {
            None
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let time = next_time(prev_time, now);
        let mut batch = WriteBatch::default();
        let mut block = Vec::with_capacity(16 + 37 * blobs.len());
        block.extend_from_slice(&time.unix_timestamp().to_be_bytes());
        block.extend_from_slice(
            &((time.unix_timestamp_nanos() % 1_000_000_000) as u32).to_be_bytes(),
        );
        block.extend_from_slice(&(blobs.len() as u32).to_be_bytes());
        for (ns, data) in blobs {
            block.extend_from_slice(ns.as_bytes());
            block.extend_from_slice(&(data.len() as u64).to_be_bytes());
        }
        batch.put_cf(self.cf(cf::BLOCKS), h8(height), &block);
        for (i, (((ns, data), c), (seg_id, offset))) in
            blobs.iter().zip(&commitments).zip(&places).enumerate()
        {
            let key = blob_key(height, i as u32);
            let mut val = Vec::with_capacity(BLOB_RECORD_LEN);
            val.extend_from_slice(ns.as_bytes());
            val.extend_from_slice(c.as_bytes());
            val.extend_from_slice(&seg_id.to_be_bytes());
            val.extend_from_slice(&offset.to_be_bytes());
            val.extend_from_slice(&(data.len() as u64).to_be_bytes());
            batch.put_cf(self.cf(cf::BLOBS), key, &val);
            let ck = commitment_key(*ns, *c, height);
            batch.put_cf(self.cf(cf::COMMITMENTS), ck, (i as u32).to_be_bytes());
        }
        batch.put_cf(self.cf(cf::META), b"head", h8(height));
        let mut segment = seg.id.to_be_bytes().to_vec();
        segment.extend_from_slice(&seg.end.to_be_bytes());
        batch.put_cf(self.cf(cf::META), b"segment", segment);
        self.inner.db.write(batch).map_err(|e| self.store_err(e))?;
        tracing::debug!(height, blobs = blobs.len(), "appended block");
        Ok((height, commitments))
    }

    /// The block record of `height`: time, blob count, then each blob's
    /// namespace and length (so layouts need no blob bytes).
    fn block_record(&self, height: u64) -> Result<Vec<u8>> {
        let got = self
            .inner
            .db
            .get_cf(self.cf(cf::BLOCKS), h8(height))
            .map_err(|e| self.store_err(e))?;
        // Only a miss asks for the head: a reader's head catches up with
        // the writer, which costs milliseconds.
        let Some(v) = got else {
            return Err(Error::FutureHeight {
                height,
                head: self.head()?,
            });
        };
        let count = v
            .get(12..16)
            .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")) as usize);
        if count.is_none_or(|n| v.len() != 16 + 37 * n) {
            return Err(self.store_err(format!("corrupt block record at height {height}")));
        }
        Ok(v)
    }

    /// Time of block `height`.
    pub fn block_time(&self, height: u64) -> Result<Time> {
        let v = self.block_record(height)?;
        let secs = i64::from_be_bytes(v[0..8].try_into().expect("8 bytes"));
        let nanos = u32::from_be_bytes(v[8..12].try_into().expect("4 bytes"));
        Time::from_unix_timestamp(secs, nanos).map_err(|e| self.store_err(e))
    }

    fn check_height(&self, height: u64) -> Result<()> {
        // A reader catches up only for heights it has not seen yet.
        let seen = self
            .inner
            .reader
            .as_ref()
            .map(|r| r.seen_head.load(std::sync::atomic::Ordering::SeqCst));
        let head = match seen {
            Some(seen) if height != 0 && height <= seen => seen,
            _ => self.head()?,
        };
        if height == 0 || height > head {
            return Err(Error::FutureHeight { height, head });
        }
        Ok(())
    }

    /// Every blob of block `height`, optionally only those of `namespace`, by index.
    pub fn blobs(&self, height: u64, namespace: Option<Namespace>) -> Result<Vec<StoredBlob>> {
        self.check_height(height)?;
        let prefix = h8(height);
        let mut out = Vec::new();
        let it = self.inner.db.iterator_cf(
            self.cf(cf::BLOBS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in it {
            let (k, v) = item.map_err(|e| self.store_err(e))?;
            if k.len() != 12 || k[..8] != prefix {
                break;
            }
            if v.len() != BLOB_RECORD_LEN {
                return Err(self.store_err(format!("corrupt blob record at height {height}")));
            }
            let ns = Namespace::from_bytes(v[..29].try_into().expect("29 bytes"))?;
            if namespace.is_some_and(|n| n != ns) {
                continue;
            }
            out.push(StoredBlob {
                index: u32::from_be_bytes(k[8..12].try_into().expect("4 bytes")),
                namespace: ns,
                commitment: ShareCommitment::from_bytes(v[29..61].try_into().expect("32 bytes")),
                data: self.read_blob(&v)?,
            });
        }
        Ok(out)
    }

    /// Namespace and size of every blob of block `height`, by index.
    pub fn blob_sizes(&self, height: u64) -> Result<Vec<(CNamespace, usize)>> {
        self.check_height(height)?;
        let v = self.block_record(height)?;
        v[16..]
            .chunks_exact(37)
            .map(|c| {
                let ns = Namespace::from_bytes(c[..29].try_into().expect("29 bytes"))?;
                Ok((to_celestia(ns), be_u64(&c[29..]) as usize))
            })
            .collect()
    }

    /// The index in block `height` of the blob with `commitment` in
    /// `namespace`, without reading its bytes.
    pub fn index_of(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: ShareCommitment,
    ) -> Result<Option<u32>> {
        self.check_height(height)?;
        let ck = commitment_key(namespace, commitment, height);
        let Some(idx) = self
            .inner
            .db
            .get_cf(self.cf(cf::COMMITMENTS), ck)
            .map_err(|e| self.store_err(e))?
        else {
            return Ok(None);
        };
        let idx: [u8; 4] = idx[..]
            .try_into()
            .map_err(|_| self.store_err("corrupt index"))?;
        Ok(Some(u32::from_be_bytes(idx)))
    }

    /// Bytes `range` of blob `index` of block `height` (cut at its end),
    /// with its namespace and length.
    pub fn blob_part(
        &self,
        height: u64,
        index: u32,
        range: std::ops::Range<usize>,
    ) -> Result<(Namespace, usize, Vec<u8>)> {
        let v = self.blob_record(height, index)?;
        let len = usize::try_from(be_u64(&v[73..81]))
            .map_err(|_| self.store_err("corrupt blob length"))?;
        Ok((
            Namespace::from_bytes(v[..29].try_into().expect("29 bytes"))?,
            len,
            self.read_blob_part(&v, range)?,
        ))
    }

    fn blob_record(&self, height: u64, index: u32) -> Result<Vec<u8>> {
        let v = self
            .inner
            .db
            .get_cf(self.cf(cf::BLOBS), blob_key(height, index))
            .map_err(|e| self.store_err(e))?
            .ok_or_else(|| {
                self.store_err(format!("index points at a missing blob at height {height}"))
            })?;
        if v.len() != BLOB_RECORD_LEN {
            return Err(self.store_err(format!("corrupt blob record at height {height}")));
        }
        Ok(v)
    }

    /// Blob `index` of block `height`.
    pub fn blob_at(&self, height: u64, index: u32) -> Result<StoredBlob> {
        let v = self.blob_record(height, index)?;
        Ok(StoredBlob {
            index,
            namespace: Namespace::from_bytes(v[..29].try_into().expect("29 bytes"))?,
            commitment: ShareCommitment::from_bytes(v[29..61].try_into().expect("32 bytes")),
            data: self.read_blob(&v)?,
        })
    }

    /// The blob with `commitment` in `namespace` at `height`.
    pub fn get(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: ShareCommitment,
    ) -> Result<Option<StoredBlob>> {
        match self.index_of(height, namespace, commitment)? {
            Some(index) => self.blob_at(height, index).map(Some),
            None => Ok(None),
        }
    }

    /// Heights at which a blob with `commitment` was included in `namespace`.
    pub fn find(&self, namespace: Namespace, commitment: ShareCommitment) -> Result<Vec<u64>> {
        let mut prefix = namespace.as_bytes().to_vec();
        prefix.extend_from_slice(commitment.as_bytes());
        let mut out = Vec::new();
        let it = self.inner.db.iterator_cf(
            self.cf(cf::COMMITMENTS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in it {
            let (k, _) = item.map_err(|e| self.store_err(e))?;
            if k.len() != 69 || k[..61] != prefix[..] {
                break;
            }
            out.push(be_u64(&k[61..]));
        }
        Ok(out)
    }

    /// The data square of block `height`, built now.
    pub fn square(&self, height: u64) -> Result<(Square, Vec<StoredBlob>)> {
        let stored = self.blobs(height, None)?;
        let blobs: Vec<Blob> = stored.iter().map(|b| stored_blob(b, None)).collect();
        let sq = square::build(height, &blobs, self.inner.limits.max_square_width)?;
        Ok((sq, stored))
    }

    fn cached_header(&self, height: u64) -> Result<Option<ExtendedHeader>> {
        if let Some(r) = &self.inner.reader {
            let mem = r.headers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = mem.get(&height) {
                return Ok(Some(h.clone()));
            }
        }
        match self
            .inner
            .db
            .get_cf(self.cf(cf::HEADERS), h8(height))
            .map_err(|e| self.store_err(e))?
        {
            Some(v) => Ok(Some(
                serde_json::from_slice(&v).map_err(|e| self.store_err(e))?,
            )),
            None => Ok(None),
        }
    }

    /// The signed header of block `height`, built (with every missing header
    /// below it) and cached on first request.
    pub fn header(&self, height: u64) -> Result<ExtendedHeader> {
        self.check_height(height)?;
        if let Some(h) = self.cached_header(height)? {
            return Ok(h);
        }
        let _guard = self.inner.headers.lock().unwrap_or_else(|p| p.into_inner());
        // Walk down to the newest cached header, then sign upwards.
        let mut from = height;
        let mut prev = None;
        while from > 1 {
            if let Some(h) = self.cached_header(from - 1)? {
                prev = Some(h);
                break;
            }
            from -= 1;
        }
        let mut last = None;
        for h in from..=height {
            let (sq, blobs) = self.square(h)?;
            self.keep_aids(h, &sq, &blobs)?;
            let eh = self
                .inner
                .signer
                .sign(prev.as_ref(), h, self.block_time(h)?, sq.dah)
                .map_err(|e| Error::Square {
                    height: h,
                    detail: format!("signing the header: {e}"),
                })?;
            match &self.inner.reader {
                // Signing is deterministic: the writer caches the same header.
                Some(r) => {
                    r.headers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(h, eh.clone());
                }
                None => {
                    let json = serde_json::to_vec(&eh).map_err(|e| self.store_err(e))?;
                    self.inner
                        .db
                        .put_cf(self.cf(cf::HEADERS), h8(h), json)
                        .map_err(|e| self.store_err(e))?;
                }
            }
            prev = Some(eh.clone());
            last = Some(eh);
        }
        Ok(last.expect("at least one header was signed"))
    }
}
