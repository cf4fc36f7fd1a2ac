//! The producer: reads each stripe once (a reader thread keeps one or two
//! ahead), checks its leaves against the signed commitment, adds parity,
//! and fills blobs, each holding its share of the in-flight budget.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use modelda_da::Receipt;
use modelda_merkle::leaf_cvs_par;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::SignedModel;
use crate::envelope::{Header, Kind};
use crate::plan::{FileStripes, Plan};
use crate::{Error, Result, StripeCoder};

/// A blob built by the producer, holding its share of the in-flight budget.
pub(super) struct Built {
    pub(super) id: u64,
    pub(super) bytes: Vec<u8>,
    pub(super) parity: Vec<[u8; 32]>,
    pub(super) _permit: OwnedSemaphorePermit,
}

/// What the producer sends the submitter.
pub(super) enum Produced {
    /// A blob to post.
    Blob(Built),
    /// A blob already on the layer.
    Found(u64, Receipt, Vec<[u8; 32]>),
}

/// Reads stripes and builds blobs on a blocking thread.
pub(super) struct Producer<'a> {
    pub(super) plan: &'a Plan,
    pub(super) model: &'a SignedModel,
    pub(super) done: &'a std::collections::HashSet<u64>,
    pub(super) on_layer: &'a HashMap<[u8; 32], Receipt>,
    pub(super) sem: &'a Arc<Semaphore>,
    pub(super) rt: &'a tokio::runtime::Handle,
    pub(super) tx: &'a mpsc::Sender<Result<Produced>>,
    pub(super) stop: &'a CancellationToken,
}

/// The blob being filled: id, bytes, parity digests, budget permit.
struct Open {
    id: usize,
    bytes: Vec<u8>,
    parity: Vec<[u8; 32]>,
    permit: OwnedSemaphorePermit,
}

impl Producer<'_> {
    /// The stripes that hold a shard of a blob still to post, in order.
    fn needed(&self) -> Vec<(usize, u64)> {
        let plan = self.plan;
        let own = plan.blobs.len() as u32;
        let mut slot = 0usize;
        let mut out = Vec::new();
        for (fi, entry) in self.model.manifest.files.iter().enumerate() {
            let fs = FileStripes::of(entry, plan.geometry);
            for s in 0..fs.count() {
                let start = plan.stripe_starts[fi][s as usize];
                let mut need = false;
                for r in &plan.refs[fi][start..start + fs.shards_of(s)] {
                    if r.blob < own {
                        need |= !self.done.contains(&(plan.blob_of_slot(slot) as u64));
                        slot += 1;
                    }
                }
                if need {
                    out.push((fi, s));
                }
            }
        }
        out
    }

    /// Reads the `needed` stripes in order on this thread, one or two ahead
    /// of the producer, reusing the buffers it sends back.
    fn read_ahead(
        &self,
        needed: &[(usize, u64)],
        tx: std::sync::mpsc::SyncSender<Result<Vec<u8>>>,
        spare: std::sync::mpsc::Receiver<Vec<u8>>,
    ) {
        let mut file: Option<(usize, File)> = None;
        for &(fi, s) in needed {
            if self.stop.is_cancelled() {
                return;
            }
            let entry = &self.model.manifest.files[fi];
            let fs = FileStripes::of(entry, self.plan.geometry);
            let path = self.model.dir.join(&entry.path);
            let read = (|| {
                if file.as_ref().is_none_or(|(i, _)| *i != fi) {
                    file = Some((fi, open_checked(&path, entry.size, &entry.path)?));
                }
                let f = &file.as_ref().expect("opened").1;
                let bytes = fs.bytes_of(s);
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.resize((bytes.end - bytes.start) as usize, 0);
                f.read_exact_at(&mut buf, bytes.start).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        Error::FileChanged {
                            path: entry.path.clone(),
                            leaf: fs.leaves_of(s).start,
                            offset: bytes.start,
                        }
                    } else {
                        Error::io(&path, e)
                    }
                })?;
                Ok(buf)
            })();
            let failed = read.is_err();
            if tx.send(read).is_err() || failed {
                return;
            }
        }
    }

    pub(super) fn run(&self) -> Result<()> {
        let needed = self.needed();
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| self.read_ahead(&needed, tx, spare_rx));
            let r = self.produce(&rx, &spare_tx);
            drop(rx);
            r
        })
    }

    fn produce(
        &self,
        stripes: &std::sync::mpsc::Receiver<Result<Vec<u8>>>,
        spare: &std::sync::mpsc::Sender<Vec<u8>>,
    ) -> Result<()> {
        let plan = self.plan;
        let g = plan.geometry;
        let coder = StripeCoder::new(usize::from(g.data), usize::from(g.parity))?;
        let own = plan.blobs.len() as u32;
        let mut slot = 0usize;
        let mut open: Option<Open> = None;
        for (fi, entry) in self.model.manifest.files.iter().enumerate() {
            let fs = FileStripes::of(entry, g);
            for s in 0..fs.count() {
                if self.stop.is_cancelled() {
                    return Ok(());
                }
                let start = plan.stripe_starts[fi][s as usize];
                let refs = &plan.refs[fi][start..start + fs.shards_of(s)];
                let mut own_slots = Vec::with_capacity(refs.len());
                for (j, r) in refs.iter().enumerate() {
                    if r.blob < own {
                        own_slots.push((j, slot));
                        slot += 1;
                    }
                }
                if own_slots
                    .iter()
                    .all(|(_, sl)| self.done.contains(&(plan.blob_of_slot(*sl) as u64)))
                {
                    continue;
                }
                // The stripe, read ahead.
                let Ok(buf) = stripes.recv() else {
                    return Ok(()); // the reader stopped
                };
                let buf = buf?;
                let leaves = fs.leaves_of(s);
                let ls = entry.leaf_size.bytes() as usize;
                let digests: Vec<[u8; 32]> = match &self.model.leaves[fi] {
                    Some(signed) => {
                        let now = leaf_cvs_par(entry.leaf_size, leaves.start, &buf);
                        for (i, (a, b)) in now
                            .iter()
                            .zip(&signed[leaves.start as usize..leaves.end as usize])
                            .enumerate()
                        {
                            if a != b {
                                let leaf = leaves.start + i as u64;
                                return Err(Error::FileChanged {
                                    path: entry.path.clone(),
                                    leaf,
                                    offset: leaf * ls as u64,
                                });
                            }
                        }
                        now.iter().map(|c| *c.as_bytes()).collect()
                    }
                    None => {
                        let h = blake3::hash(&buf);
                        if h.as_bytes() != entry.root.as_bytes() {
                            return Err(Error::FileChanged {
                                path: entry.path.clone(),
                                leaf: 0,
                                offset: 0,
                            });
                        }
                        vec![*h.as_bytes()]
                    }
                };
                let leaf_slices: Vec<&[u8]> = buf.chunks(ls).collect();
                let n_data = leaf_slices.len();
                let need_parity = own_slots.iter().any(|(j, sl)| {
                    *j >= n_data && !self.done.contains(&(plan.blob_of_slot(*sl) as u64))
                });
                let parity = if need_parity {
                    coder.encode(&leaf_slices)?
                } else {
                    Vec::new()
                };
                for &(j, sl) in &own_slots {
                    let b = plan.blob_of_slot(sl);
                    if self.done.contains(&(b as u64)) {
                        continue;
                    }
                    let o = match &mut open {
                        Some(o) if o.id == b => o,
                        _ => {
                            let size = plan.blobs[b].size;
                            let permit = self
                                .rt
                                .block_on(
                                    self.sem
                                        .clone()
                                        .acquire_many_owned(size.div_ceil(1024) as u32),
                                )
                                .map_err(|_| Error::Interrupted {
                                    done: 0,
                                    total: own as u64,
                                    reason: "stopped".into(),
                                })?;
                            open.insert(Open {
                                id: b,
                                bytes: Vec::with_capacity(size),
                                parity: Vec::new(),
                                permit,
                            })
                        }
                    };
                    let (kind, payload, digest) = if j < n_data {
                        (fs.data_kind(), leaf_slices[j], digests[j])
                    } else {
                        let p = &parity[j - n_data];
                        let d = *blake3::hash(p).as_bytes();
                        o.parity.push(d);
                        (Kind::Parity, p.as_slice(), d)
                    };
                    let header = Header {
                        kind,
                        model: self.model.id,
                        file: fi as u32,
                        stripe: s,
                        shard: j as u16,
                        data_shards: g.data,
                        parity_shards: g.parity,
                        leaf_size: entry.leaf_size,
                    };
                    debug_assert_eq!(o.bytes.len() as u32, refs[j].offset);
                    header.encode_into(&digest, payload, &mut o.bytes);
                    if sl + 1 == plan.blobs[b].slots.end {
                        let o = open.take().expect("open blob");
                        self.finish(o)?;
                    }
                }
                drop(leaf_slices);
                let _ = spare.send(buf);
            }
        }
        Ok(())
    }

    fn finish(&self, o: Open) -> Result<()> {
        debug_assert_eq!(o.bytes.len(), self.plan.blobs[o.id].size);
        let found = if self.on_layer.is_empty() {
            None
        } else {
            self.on_layer.get(blake3::hash(&o.bytes).as_bytes())
        };
        let msg = match found {
            Some(r) => Produced::Found(o.id as u64, r.clone(), o.parity),
            None => Produced::Blob(Built {
                id: o.id as u64,
                bytes: o.bytes,
                parity: o.parity,
                _permit: o.permit,
            }),
        };
        self.tx
            .blocking_send(Ok(msg))
            .map_err(|_| Error::Interrupted {
                done: 0,
                total: self.plan.blobs.len() as u64,
                reason: "stopped".into(),
            })
    }
}

/// Opens a model file and checks that its size is the committed one.
fn open_checked(path: &Path, size: u64, rel: &str) -> Result<File> {
    let f = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::FileGone {
                path: rel.to_string(),
            }
        } else {
            Error::io(path, e)
        }
    })?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len != size {
        return Err(Error::FileResized {
            path: rel.to_string(),
            was: size,
            now: len,
        });
    }
    Ok(f)
}
