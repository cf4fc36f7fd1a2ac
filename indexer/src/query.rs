//! Reading the index: look-ups by model id, publisher, tensor hash and
//! chunk commitment; lineage walks with a depth bound; paged listings with
//! stable cursors; rejections; counters; and new publications as they come.
//!
//! A cursor is the key of the last item of a page (hex): a later page
//! starts after it, whatever was indexed in between, because keys never
//! move.

use std::collections::{BTreeMap, HashSet, VecDeque};

use modelda_manifest::{ModelId, TensorHash};
use serde::Serialize;

use crate::schema::{
    self, key, ChunkPlace, EdgeEntry, ModelEntry, PubId, PublicationEntry, PublisherEntry,
    Rejection,
};
use crate::store::Index;
use crate::{Error, Result};

mod advisories;
pub use advisories::{Affected, ModelStatus, Standing, Trust, MAX_AFFECTED_WALK};

/// Most items in one page.
pub const MAX_PAGE: usize = 1000;
/// Deepest lineage walk.
pub const MAX_DEPTH: u32 = 64;
/// Most edges one lineage walk returns.
pub const MAX_WALK_EDGES: usize = 10_000;

/// One page of a listing.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The cursor after the last item, when more may follow.
    pub next: Option<String>,
    /// Each item's cursor: a page that starts after it.
    #[serde(skip)]
    pub cursors: Vec<String>,
}

impl<T> Page<T> {
    fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            next: None,
            cursors: Vec::new(),
        }
    }
}

/// A key and its value, as read.
type Row = (Vec<u8>, Vec<u8>);

/// A page of `rows`; `next` is the cursor after the last row read when more
/// follow (see [`Index::scan_page`]), so `next` is `None` on the last page.
fn page<T>(rows: Vec<(Vec<u8>, T)>, next: Option<String>) -> Page<T> {
    let (cursors, items) = rows.into_iter().map(|(k, v)| (hex::encode(k), v)).unzip();
    Page {
        items,
        next,
        cursors,
    }
}

fn cursor(c: Option<&str>) -> Result<Option<Vec<u8>>> {
    c.map(|c| {
        hex::decode(c)
            .map_err(|_| Error::Unsupported(format!("{c:?} is not a cursor this index made")))
    })
    .transpose()
}

fn limit(n: usize) -> usize {
    n.clamp(1, MAX_PAGE)
}

/// A lineage edge with both ends.
#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    /// The child (the model that claims the parent).
    pub child: ModelId,
    /// The parent.
    pub parent: ModelId,
    /// Relation, status and evidence.
    #[serde(flatten)]
    pub entry: EdgeEntry,
}

/// Which way a lineage walk goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// To parents, grandparents, ...
    Ancestors,
    /// To children, grandchildren, ...
    Descendants,
}

/// A place a chunk is stored, with the blob's locator.
#[derive(Clone, Debug, Serialize)]
pub struct ChunkHit {
    /// The publication whose record lists it.
    pub publication: PubId,
    /// The model.
    pub model_id: ModelId,
    /// File index in the manifest.
    pub file: u32,
    /// Leaf index in the file.
    pub leaf: u64,
    /// Where in the publication's blobs.
    pub place: ChunkPlace,
    /// The blob's locator.
    pub blob: String,
}

/// A model holding a tensor.
#[derive(Clone, Debug, Serialize)]
pub struct TensorHit {
    /// The model.
    pub model_id: ModelId,
    /// File index in the manifest.
    pub file: u32,
    /// File path.
    pub path: String,
    /// Tensor name.
    pub name: String,
    /// Byte range in the file.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
}

/// Everything the index holds about one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelView {
    /// The model.
    #[serde(flatten)]
    pub model: ModelEntry,
    /// Every publication (each signer's first).
    pub publications: Vec<PublicationEntry>,
    /// Key hints of every signer.
    pub signers: Vec<String>,
    /// Edges to the parents it claims.
    pub parents: Vec<Edge>,
    /// Edges from the models that claim it (at most [`MAX_PAGE`]).
    pub children: Vec<Edge>,
    /// Every advisory about it (at most [`MAX_PAGE`]), with whether it is
    /// believed (the publisher's; `index show` trusts no other key).
    pub advisories: Vec<AdvisoryView>,
    /// Its status: the believed advisory that decides it.
    pub status: Option<ModelStatus>,
    /// Believed advisories of its ancestors that reach it.
    pub affected_through: Vec<Affected>,
}

/// An advisory about a model, and whether it is believed.
#[derive(Clone, Debug, Serialize)]
pub struct AdvisoryView {
    /// The advisory.
    #[serde(flatten)]
    pub advisory: crate::schema::AdvisoryEntry,
    /// Whether it is believed, and why.
    pub standing: Standing,
}

/// Counters of what was read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    /// The last height written.
    pub checkpoint: Option<u64>,
    /// Publications indexed.
    pub records: u64,
    /// Records refused.
    pub rejections: u64,
    /// Refusals by reason code.
    pub rejections_by_code: BTreeMap<String, u64>,
    /// Records that repeated a publication.
    pub reposts: u64,
    /// Envelopes of other kinds in the record namespace.
    pub skipped: u64,
    /// Advisories indexed.
    pub advisories: u64,
    /// Advisories withdrawn.
    pub withdrawals: u64,
    /// Advisories and withdrawals posted again.
    pub advisory_reposts: u64,
}

impl Index {
    /// Up to `n` entries after `after` with `prefix`, and the cursor of the
    /// last when more follow (one more is read to know).
    fn scan_page(
        &self,
        cf: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        n: usize,
    ) -> Result<(Vec<Row>, Option<String>)> {
        let mut rows = self.scan(cf, prefix, after, n + 1)?;
        let next = if rows.len() > n {
            rows.truncate(n);
            rows.last().map(|(k, _)| hex::encode(k))
        } else {
            None
        };
        Ok((rows, next))
    }

    /// One page of a column family of JSON values, in key order.
    fn json_page<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        after: Option<&str>,
        n: usize,
        what: &str,
    ) -> Result<Page<T>> {
        let n = limit(n);
        let after = cursor(after)?;
        let (raw, next) = self.scan_page(cf, &[], after.as_deref(), n)?;
        let rows = raw
            .into_iter()
            .map(|(k, v)| Ok((k, self.decode(&v, what)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(page(rows, next))
    }

    /// The models `ids` (each `None` when not indexed), in one batched
    /// read: what a GraphQL data loader asks for.
    pub fn models_many(&self, ids: &[ModelId]) -> Result<Vec<Option<ModelEntry>>> {
        let keys: Vec<&[u8]> = ids.iter().map(|i| i.as_bytes().as_slice()).collect();
        self.get_many_json(schema::CF_MODELS, &keys, "model")
    }

    /// The publications `ids`, in one batched read.
    pub fn publications_many(&self, ids: &[PubId]) -> Result<Vec<Option<PublicationEntry>>> {
        let raw: Vec<[u8; 12]> = ids.iter().map(|i| i.to_bytes()).collect();
        let keys: Vec<&[u8]> = raw.iter().map(|k| k.as_slice()).collect();
        self.get_many_json(schema::CF_PUBS, &keys, "publication")
    }

    /// The publishers with key hints `hints`, in one batched read.
    pub fn publishers_many(&self, hints: &[String]) -> Result<Vec<Option<PublisherEntry>>> {
        let raw: Vec<Option<[u8; 32]>> = hints.iter().map(|h| parse_hint(h)).collect();
        let keys: Vec<&[u8]> = raw
            .iter()
            .map(|k| k.as_ref().map_or(&[][..], |k| k.as_slice()))
            .collect();
        self.get_many_json(schema::CF_PUBLISHERS, &keys, "publisher")
    }

    /// The model `id`, when indexed.
    pub fn model(&self, id: &ModelId) -> Result<Option<ModelEntry>> {
        self.get_json(schema::CF_MODELS, id.as_bytes(), "model")
    }

    /// Everything about model `id`: publications, signers, edges.
    pub fn model_view(&self, id: &ModelId) -> Result<Option<ModelView>> {
        let Some(model) = self.model(id)? else {
            return Ok(None);
        };
        let mut publications = Vec::new();
        for pid in self.model_publication_ids(id)? {
            if let Some(p) = self.publication(pid)? {
                publications.push(p);
            }
        }
        let signers = self.model_signers(id)?;
        let trust = Trust::signers_only();
        let mut advisories = Vec::new();
        for advisory in self.model_advisories(id)? {
            let standing = self.standing(&advisory, &trust)?;
            advisories.push(AdvisoryView { advisory, standing });
        }
        Ok(Some(ModelView {
            model,
            publications,
            signers,
            parents: self.parents(id)?,
            children: self.children(id, None, MAX_PAGE)?.items,
            advisories,
            status: self.model_status(id, &trust)?,
            affected_through: self.affected_through(id, &trust)?,
        }))
    }

    /// Models in id order, after `cursor`.
    pub fn models(&self, after: Option<&str>, n: usize) -> Result<Page<ModelEntry>> {
        self.json_page(schema::CF_MODELS, after, n, "model")
    }

    /// The publication read at `id`.
    pub fn publication(&self, id: PubId) -> Result<Option<PublicationEntry>> {
        self.get_json(schema::CF_PUBS, &id.to_bytes(), "publication")
    }

    /// Publications in the order they were read (height, then index), after
    /// `cursor`. Registered records (height 0) come first.
    pub fn publications(&self, after: Option<&str>, n: usize) -> Result<Page<PublicationEntry>> {
        self.json_page(schema::CF_PUBS, after, n, "publication")
    }

    /// Publications read after `after` (exclusive), waiting until there is
    /// at least one when `wait` (the stream a subscription serves). Returns
    /// at most `n`.
    pub async fn next_publications(
        &self,
        after: Option<PubId>,
        n: usize,
        wait: bool,
    ) -> Result<Vec<PublicationEntry>> {
        let mut rx = self.watch_checkpoint();
        loop {
            let cur = after.map(|a| hex::encode(a.to_bytes()));
            let p = self.publications(cur.as_deref(), n)?;
            if !p.items.is_empty() || !wait {
                return Ok(p.items);
            }
            if rx.changed().await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    /// The publications of model `id` (each signer's first), in the order
    /// they were read.
    pub fn model_publication_ids(&self, id: &ModelId) -> Result<Vec<PubId>> {
        self.scan(schema::CF_MODEL_PUBS, id.as_bytes(), None, usize::MAX)?
            .into_iter()
            .map(|(k, _)| {
                PubId::from_bytes(&k[32..])
                    .ok_or_else(|| self.corrupt("model publication", "bad key"))
            })
            .collect()
    }

    /// The key hints of the keys that signed model `id`.
    pub fn model_signers(&self, id: &ModelId) -> Result<Vec<String>> {
        Ok(self
            .scan(schema::CF_SIGNERS, id.as_bytes(), None, usize::MAX)?
            .into_iter()
            .map(|(k, _)| hex::encode(&k[32..]))
            .collect())
    }

    /// Up to `n` blob locators of publication `id`, in order.
    pub fn publication_blobs(&self, id: PubId, n: usize) -> Result<Vec<String>> {
        Ok(self
            .scan(schema::CF_PUB_BLOBS, &id.to_bytes(), None, n)?
            .into_iter()
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
            .collect())
    }

    /// A blob locator of publication `id`.
    pub fn publication_blob(&self, id: PubId, blob: u32) -> Result<Option<String>> {
        Ok(self
            .get(schema::CF_PUB_BLOBS, &key::pub_blob(id, blob))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The publisher with key hint `hint` (64 hex digits).
    pub fn publisher(&self, hint: &str) -> Result<Option<PublisherEntry>> {
        let Some(h) = parse_hint(hint) else {
            return Ok(None);
        };
        self.get_json(schema::CF_PUBLISHERS, &h, "publisher")
    }

    /// The models a publisher signed, in id order.
    pub fn publisher_models(
        &self,
        hint: &str,
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<ModelId>> {
        match parse_hint(hint) {
            Some(h) => self.id_page(schema::CF_PUBLISHER_MODELS, &h, after, n),
            None => Ok(Page::empty()),
        }
    }

    /// Publishers in hint order.
    pub fn publishers(&self, after: Option<&str>, n: usize) -> Result<Page<PublisherEntry>> {
        self.json_page(schema::CF_PUBLISHERS, after, n, "publisher")
    }

    /// Every model holding a tensor with hash `hash`.
    pub fn tensor_models(
        &self,
        hash: &TensorHash,
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<TensorHit>> {
        let n = limit(n);
        let after = cursor(after)?;
        let mut rows = Vec::new();
        let mut models: BTreeMap<ModelId, Option<ModelEntry>> = BTreeMap::new();
        let (raw, next) =
            self.scan_page(schema::CF_TENSORS, hash.as_bytes(), after.as_deref(), n)?;
        for (k, _) in raw {
            let model = ModelId::from_bytes(k[32..64].try_into().expect("72-byte key"));
            let file = u32::from_be_bytes(k[64..68].try_into().expect("72-byte key"));
            let ti = u32::from_be_bytes(k[68..72].try_into().expect("72-byte key"));
            if let std::collections::btree_map::Entry::Vacant(e) = models.entry(model) {
                e.insert(self.model(&model)?);
            }
            let Some(Some(m)) = models.get(&model) else {
                continue;
            };
            let Some(f) = m.manifest.files.get(file as usize) else {
                continue;
            };
            let Some(t) = f.tensors.get(ti as usize) else {
                continue;
            };
            rows.push((
                k,
                TensorHit {
                    model_id: model,
                    file,
                    path: f.path.clone(),
                    name: t.name.clone(),
                    start: t.start,
                    end: t.end,
                },
            ));
        }
        Ok(page(rows, next))
    }

    /// Every place a chunk with commitment `commitment` (a leaf's chaining
    /// value, or a one-leaf file's root) is stored.
    pub fn chunk_places(
        &self,
        commitment: &[u8; 32],
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<ChunkHit>> {
        let n = limit(n);
        let after = cursor(after)?;
        let mut rows = Vec::new();
        let mut pubs: BTreeMap<PubId, Option<PublicationEntry>> = BTreeMap::new();
        let (raw, next) = self.scan_page(schema::CF_CHUNKS, commitment, after.as_deref(), n)?;
        for (k, v) in raw {
            let id =
                PubId::from_bytes(&k[32..44]).ok_or_else(|| self.corrupt("chunk", "bad key"))?;
            let file = u32::from_be_bytes(k[44..48].try_into().expect("56-byte key"));
            let leaf = u64::from_be_bytes(k[48..56].try_into().expect("56-byte key"));
            let place = ChunkPlace::from_bytes(&v)
                .ok_or_else(|| self.corrupt("chunk place", "not 18 bytes"))?;
            if let std::collections::btree_map::Entry::Vacant(e) = pubs.entry(id) {
                e.insert(self.publication(id)?);
            }
            let Some(Some(p)) = pubs.get(&id) else {
                continue;
            };
            let blob = self.publication_blob(id, place.blob)?.ok_or_else(|| {
                self.corrupt("publication blob", format!("{id} blob {}", place.blob))
            })?;
            rows.push((
                k,
                ChunkHit {
                    publication: id,
                    model_id: p.model_id,
                    file,
                    leaf,
                    place,
                    blob,
                },
            ));
        }
        Ok(page(rows, next))
    }

    /// The signed claims bundle (JSON text, exactly as signed) of
    /// publication `id`.
    pub fn claims(&self, id: PubId) -> Result<Option<String>> {
        Ok(self
            .get(schema::CF_CLAIMS, &id.to_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Where publication `id` stores leaf `leaf` of file `file`, whose
    /// commitment is `commitment`.
    pub fn chunk_place(
        &self,
        commitment: &[u8; 32],
        id: PubId,
        file: u32,
        leaf: u64,
    ) -> Result<Option<ChunkPlace>> {
        self.get(schema::CF_CHUNKS, &key::chunk(commitment, id, file, leaf))?
            .map(|v| {
                ChunkPlace::from_bytes(&v)
                    .ok_or_else(|| self.corrupt("chunk place", "not 18 bytes"))
            })
            .transpose()
    }

    /// The models with name `name` (case ignored), in id order.
    pub fn models_named(&self, name: &str, after: Option<&str>, n: usize) -> Result<Page<ModelId>> {
        self.id_page(schema::CF_NAMES, &key::name_hash(name), after, n)
    }

    /// The models holding a file with root `root`, with the file's index.
    pub fn files_with_root(
        &self,
        root: &[u8; 32],
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<(ModelId, u32)>> {
        let n = limit(n);
        let after = cursor(after)?;
        let (raw, next) = self.scan_page(schema::CF_FILES, root, after.as_deref(), n)?;
        let rows = raw
            .into_iter()
            .map(|(k, _)| {
                let m = ModelId::from_bytes(k[32..64].try_into().expect("68-byte key"));
                let f = u32::from_be_bytes(k[64..68].try_into().expect("68-byte key"));
                (k, (m, f))
            })
            .collect();
        Ok(page(rows, next))
    }

    /// Model ids from keys `prefix (32) ++ model id (32)`.
    fn id_page(
        &self,
        cf: &str,
        prefix: &[u8; 32],
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<ModelId>> {
        let n = limit(n);
        let after = cursor(after)?;
        let (raw, next) = self.scan_page(cf, prefix, after.as_deref(), n)?;
        let rows = raw
            .into_iter()
            .map(|(k, _)| {
                let m = ModelId::from_bytes(k[32..64].try_into().expect("64-byte key"));
                (k, m)
            })
            .collect();
        Ok(page(rows, next))
    }

    /// Edges to the parents model `id` claims.
    pub fn parents(&self, id: &ModelId) -> Result<Vec<Edge>> {
        self.scan(schema::CF_EDGES, id.as_bytes(), None, MAX_PAGE)?
            .into_iter()
            .map(|(k, v)| {
                Ok(Edge {
                    child: *id,
                    parent: ModelId::from_bytes(k[32..64].try_into().expect("64-byte key")),
                    entry: self.decode(&v, "edge")?,
                })
            })
            .collect()
    }

    /// Edges from the models that claim `id` as a parent.
    pub fn children(&self, id: &ModelId, after: Option<&str>, n: usize) -> Result<Page<Edge>> {
        let n = limit(n);
        let after = cursor(after)?;
        let mut rows = Vec::new();
        let (raw, next) =
            self.scan_page(schema::CF_EDGES_REV, id.as_bytes(), after.as_deref(), n)?;
        for (k, _) in raw {
            let child = ModelId::from_bytes(k[32..64].try_into().expect("64-byte key"));
            if let Some(entry) = self.get_json(
                schema::CF_EDGES,
                &key::pair(child.as_bytes(), id.as_bytes()),
                "edge",
            )? {
                rows.push((
                    k,
                    Edge {
                        child,
                        parent: *id,
                        entry,
                    },
                ));
            }
        }
        Ok(page(rows, next))
    }

    /// The lineage of `id` up to `depth` generations (at most
    /// [`MAX_DEPTH`]), breadth first, each edge once, at most
    /// [`MAX_WALK_EDGES`] edges.
    pub fn lineage(&self, id: &ModelId, direction: Direction, depth: u32) -> Result<Vec<Edge>> {
        let depth = depth.min(MAX_DEPTH);
        let mut out = Vec::new();
        let mut seen: HashSet<ModelId> = HashSet::from([*id]);
        let mut todo = VecDeque::from([(*id, 0u32)]);
        while let Some((m, d)) = todo.pop_front() {
            if d >= depth {
                continue;
            }
            let edges = match direction {
                Direction::Ancestors => self.parents(&m)?,
                Direction::Descendants => self.children(&m, None, MAX_PAGE)?.items,
            };
            for e in edges {
                let next = match direction {
                    Direction::Ancestors => e.parent,
                    Direction::Descendants => e.child,
                };
                out.push(e);
                if out.len() >= MAX_WALK_EDGES {
                    return Ok(out);
                }
                if seen.insert(next) {
                    todo.push_back((next, d + 1));
                }
            }
        }
        Ok(out)
    }

    /// Records refused, in the order they were read, after `cursor`;
    /// only those with reason `code` when given.
    pub fn rejections(
        &self,
        code: Option<&str>,
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<Rejection>> {
        self.filtered_page(
            schema::CF_REJECTIONS,
            after,
            n,
            "rejection",
            |r: &Rejection| code.is_none_or(|c| r.code == c),
        )
    }

    /// One page of the JSON values of `cf` that `keep` keeps, in key order
    /// after `after`: reads on past the others, at most 64 reads of `n`.
    fn filtered_page<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        after: Option<&str>,
        n: usize,
        what: &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>> {
        let n = limit(n);
        let mut after = cursor(after)?;
        let mut rows = Vec::new();
        for _ in 0..64 {
            let batch = self.scan(cf, &[], after.as_deref(), n)?;
            let done = batch.len() < n;
            for (k, v) in batch {
                after = Some(k.clone());
                let item: T = self.decode(&v, what)?;
                if keep(&item) && rows.len() < n {
                    rows.push((k, item));
                }
            }
            if done || rows.len() >= n {
                break;
            }
        }
        // Filtered: a full page says more may follow (the next may be empty).
        let next = if rows.len() == n {
            after.map(hex::encode)
        } else {
            None
        };
        Ok(page(rows, next))
    }

    /// Counters: records, rejections (by code), reposts, skipped.
    pub fn counts(&self) -> Result<Counts> {
        let mut c = Counts {
            checkpoint: self.checkpoint(),
            ..Counts::default()
        };
        let prefix = schema::META_COUNT_PREFIX.as_bytes();
        for (k, v) in self.scan(schema::CF_META, prefix, None, usize::MAX)? {
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let n = <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .map_err(|_| self.corrupt("counter", "not 8 bytes"))?;
            match name.as_str() {
                "records" => c.records = n,
                "rejections" => c.rejections = n,
                "reposts" => c.reposts = n,
                "skipped" => c.skipped = n,
                "advisories" => c.advisories = n,
                "withdrawals" => c.withdrawals = n,
                "advisory_reposts" => c.advisory_reposts = n,
                other => {
                    if let Some(code) = other.strip_prefix("rejections/") {
                        c.rejections_by_code.insert(code.to_string(), n);
                    }
                }
            }
        }
        Ok(c)
    }
}

fn parse_hint(hint: &str) -> Option<[u8; 32]> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hint.trim(), &mut b).ok().map(|()| b)
}
