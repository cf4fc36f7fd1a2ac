//! The GraphQL schema: queries, the registration mutation, the publications
//! subscription, and the limits every request is held to.

mod advisories;
mod cursor;
mod limits;
mod loader;
mod types;

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::futures_util::Stream;
use async_graphql::{Context, Object, Result, Schema, Subscription, ID};
use modelda_da::Locator;
use modelda_indexer::query::{Direction as IndexDirection, Page, MAX_DEPTH};
use modelda_indexer::schema::PubId;
use modelda_manifest::{ModelId, TensorHash};
use modelda_wire::inclusion::Evidence;

pub use advisories::{Advisory, AdvisoryStatus, AffectedThrough, ModelStatus};
pub use cursor::Cursor;
pub(crate) use loader::IndexLoader;
pub use types::*;

use crate::error::{ApiError, Code};
use crate::proof::{self, Target};
use crate::state::Api;

/// The schema type.
pub type ApiSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Default page size of a connection.
pub const DEFAULT_PAGE: usize = 20;

/// Builds the schema over `api`, with its limits.
pub fn schema(api: Api) -> ApiSchema {
    let l = api.limits().clone();
    Schema::build(Query, Mutation, SubscriptionRoot)
        .data(api)
        .limit_depth(l.max_depth)
        .limit_complexity(l.max_complexity)
        .extension(limits::Limits {
            max_aliases: l.max_aliases,
        })
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn schema_sdl() -> String {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .finish()
        .sdl()
}

/// Per-request data: a fresh loader (its cache lives as long as the
/// request or the websocket connection).
/// How long a loader gathers keys before it reads: the sibling fields of
/// one list ask within it even on a loaded machine (a shorter delay split
/// a page of 100 models into 43 batches under CI load). Single look-ups
/// (`model(id)`) read directly and do not wait.
const LOADER_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

pub(crate) fn request_loader(api: &Api) -> DataLoader<IndexLoader> {
    DataLoader::new(
        IndexLoader::new(api.clone(), api.inner.loader_batches.clone()),
        tokio::spawn,
    )
    .delay(LOADER_DELAY)
}

pub(crate) fn api<'a>(ctx: &Context<'a>) -> &'a Api {
    ctx.data_unchecked::<Api>()
}

/// The page size `first` asks for, within the limit.
pub(crate) fn first_of(ctx: &Context<'_>, first: Option<i32>) -> Result<usize, ApiError> {
    let max = api(ctx).limits().max_page;
    match first {
        None => Ok(DEFAULT_PAGE.min(max)),
        Some(n) if n < 1 => Err(ApiError::new(Code::BadInput, "first must be at least 1")),
        Some(n) if n as usize > max => Err(ApiError::new(
            Code::PageTooLarge,
            format!("first is {n}; pages hold at most {max}: page with `after`"),
        )),
        Some(n) => Ok(n as usize),
    }
}

/// Models of a page of ids, through the loader.
pub(crate) async fn models_of(
    ctx: &Context<'_>,
    page: Page<ModelId>,
    list: &str,
    has_previous: bool,
) -> Result<Connection<Cursor, Model>> {
    let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
    let found = loader.load_many(page.items.iter().copied()).await?;
    let page = Page {
        next: page.next,
        cursors: page.cursors,
        items: page.items,
    };
    let mut conn = Connection::new(has_previous, page.next.is_some());
    for (c, id) in page.cursors.iter().zip(&page.items) {
        if let Some(m) = found.get(id) {
            conn.edges.push(async_graphql::connection::Edge::new(
                cursor::encode(list, c),
                Model(m.clone()),
            ));
        }
    }
    Ok(conn)
}

/// A connection's complexity: its page size times its children's. A page
/// over the index's own limit counts as that limit, so that it is refused
/// for its size (`PAGE_TOO_LARGE`), not for its complexity.
pub(crate) fn complexity(first: Option<i32>, child: usize) -> usize {
    let n = first.unwrap_or(DEFAULT_PAGE as i32).max(1) as usize;
    n.min(modelda_indexer::query::MAX_PAGE)
        .saturating_mul(child)
}

/// Queries.
pub struct Query;

#[Object]
impl Query {
    /// How far the index has followed its layer.
    #[graphql(name = "_meta")]
    async fn meta(&self, ctx: &Context<'_>) -> Result<Meta> {
        let a = api(ctx);
        let source = a.index().source().map_err(ApiError::from)?;
        let counts = a.index().counts().map_err(ApiError::from)?;
        let height = a.index().checkpoint();
        let head = a.head();
        Ok(Meta {
            height: height.map(BigInt),
            layer: source.as_ref().map(|s| s.layer.clone()).unwrap_or_default(),
            namespace: source.and_then(|s| s.namespace),
            head: head.map(BigInt),
            lag: head.map(|h| BigInt(h.saturating_sub(height.unwrap_or(0)))),
            publications: BigInt(counts.records),
            rejections: BigInt(counts.rejections),
            archive: a.archive_progress().map(|p| ArchiveMeta {
                location: a
                    .archive()
                    .map(|x| x.spec().to_string())
                    .unwrap_or_default(),
                height: BigInt(p.height),
                publications: BigInt(p.publications),
                lag: BigInt(counts.records.saturating_sub(p.publications)),
                leaves_written: BigInt(p.leaves_written),
                bytes_written: BigInt(p.bytes_written),
                leaves_lost: BigInt(p.leaves_lost),
                last_error: p.last_error,
            }),
        })
    }

    /// The model with id `id` (64 hex digits).
    async fn model(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Model>> {
        let id = parse_model_id(&id)?;
        // One model: read now, without a loader's gathering delay.
        Ok(api(ctx).model(&id)?.map(Model))
    }

    /// Models, in id order; filtered by publisher key, name (case ignored),
    /// a relation they claim to a parent, or a tensor they hold.
    #[graphql(complexity = "complexity(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        publisher: Option<String>,
        name: Option<String>,
        relation: Option<Relation>,
        tensor_hash: Option<String>,
    ) -> Result<Connection<Cursor, Model>> {
        let n = first_of(ctx, first)?;
        let index = api(ctx).index();
        // The most selective index reads; the other filters apply to what
        // it returns (a page can come back short, with more to follow).
        let (list, page) = if let Some(h) = &tensor_hash {
            let hash = parse_hash(h, "tensor hash")?;
            let list = "models-tensor";
            let after = cursor::decode(after.as_deref(), list)?;
            let hits = index
                .tensor_models(&TensorHash::from_bytes(hash), after.as_deref(), n)
                .map_err(ApiError::from)?;
            let mut ids = Vec::new();
            let mut cursors = Vec::new();
            for (c, h) in hits.cursors.into_iter().zip(hits.items) {
                if !ids.contains(&h.model_id) {
                    ids.push(h.model_id);
                    cursors.push(c);
                }
            }
            (
                list,
                Page {
                    items: ids,
                    next: hits.next,
                    cursors,
                },
            )
        } else if let Some(p) = &publisher {
            let list = "models-publisher";
            let after = cursor::decode(after.as_deref(), list)?;
            (
                list,
                index
                    .publisher_models(p, after.as_deref(), n)
                    .map_err(ApiError::from)?,
            )
        } else if let Some(name) = &name {
            let list = "models-name";
            let after = cursor::decode(after.as_deref(), list)?;
            (
                list,
                index
                    .models_named(name, after.as_deref(), n)
                    .map_err(ApiError::from)?,
            )
        } else {
            let list = "models";
            let after = cursor::decode(after.as_deref(), list)?;
            let p = index.models(after.as_deref(), n).map_err(ApiError::from)?;
            (
                list,
                Page {
                    items: p.items.iter().map(|m| m.model_id).collect(),
                    next: p.next,
                    cursors: p.cursors,
                },
            )
        };
        let mut conn = models_of(ctx, page, list, after.is_some()).await?;
        let mut keep = Vec::with_capacity(conn.edges.len());
        for e in std::mem::take(&mut conn.edges) {
            let m = &e.node.0;
            if let Some(name) = &name {
                if !m.name.trim().eq_ignore_ascii_case(name.trim()) {
                    continue;
                }
            }
            if let Some(p) = &publisher {
                let signers = index.model_signers(&m.model_id).map_err(ApiError::from)?;
                if !signers.iter().any(|s| s.eq_ignore_ascii_case(p.trim())) {
                    continue;
                }
            }
            if let Some(h) = &tensor_hash {
                let h = h.trim().to_ascii_lowercase();
                let holds = m
                    .manifest
                    .files
                    .iter()
                    .any(|f| f.tensors.iter().any(|t| t.blake3.to_hex() == h));
                if !holds {
                    continue;
                }
            }
            if let Some(r) = relation {
                if !m
                    .manifest
                    .lineage
                    .iter()
                    .any(|c| Relation::from(c.relation) == r)
                {
                    continue;
                }
            }
            keep.push(e);
        }
        conn.edges = keep;
        Ok(conn)
    }

    /// A publisher by key hint (hex SHA-256 of its public key's PEM).
    async fn publisher(&self, ctx: &Context<'_>, key: ID) -> Result<Option<Publisher>> {
        Ok(api(ctx)
            .index()
            .publisher(&key)
            .map_err(ApiError::from)?
            .map(Publisher))
    }

    /// Publishers, in key order.
    #[graphql(complexity = "complexity(first, child_complexity)")]
    async fn publishers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Publisher>> {
        let n = first_of(ctx, first)?;
        let a = cursor::decode(after.as_deref(), "publishers")?;
        let page = api(ctx)
            .index()
            .publishers(a.as_deref(), n)
            .map_err(ApiError::from)?;
        Ok(cursor::connection(
            page,
            "publishers",
            a.is_some(),
            Publisher,
        ))
    }

    /// The publication with id `HEIGHT.INDEX`.
    async fn publication(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Publication>> {
        let id = parse_pub_id(&id)?;
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(id).await?.map(Publication))
    }

    /// Publications in the order they were read (registered ones first).
    #[graphql(complexity = "complexity(first, child_complexity)")]
    async fn publications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Publication>> {
        let n = first_of(ctx, first)?;
        let a = cursor::decode(after.as_deref(), "publications")?;
        let page = api(ctx)
            .index()
            .publications(a.as_deref(), n)
            .map_err(ApiError::from)?;
        Ok(cursor::connection(
            page,
            "publications",
            a.is_some(),
            Publication,
        ))
    }

    /// The lineage of model `id`: every edge up to `depth` generations
    /// (default 3, at most 64) toward its ancestors or its descendants, with
    /// the claimed relation and the evidence on each.
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        direction: Direction,
        #[graphql(default = 3)] depth: i32,
    ) -> Result<Vec<LineageEdge>> {
        let id = parse_model_id(&id)?;
        if depth < 1 || depth as u32 > MAX_DEPTH {
            return Err(ApiError::new(
                Code::BadInput,
                format!("depth is {depth}; it must be 1 to {MAX_DEPTH}"),
            )
            .into());
        }
        let d = match direction {
            Direction::Ancestors => IndexDirection::Ancestors,
            Direction::Descendants => IndexDirection::Descendants,
        };
        let edges = api(ctx)
            .index()
            .lineage(&id, d, depth as u32)
            .map_err(ApiError::from)?;
        Ok(edges.into_iter().map(LineageEdge).collect())
    }

    /// The file `path` of model `model`.
    async fn file(&self, ctx: &Context<'_>, model: ID, path: String) -> Result<Option<File>> {
        let id = parse_model_id(&model)?;
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader
            .load_one(id)
            .await?
            .and_then(|m| types::file_of(&m, &path)))
    }

    /// The tensor `name` of model `model` (in `file` when given).
    async fn tensor(
        &self,
        ctx: &Context<'_>,
        model: ID,
        name: String,
        file: Option<String>,
    ) -> Result<Option<Tensor>> {
        let id = parse_model_id(&model)?;
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader
            .load_one(id)
            .await?
            .and_then(|m| types::tensor_of(&m, &name, file.as_deref())))
    }

    /// Every tensor, in any indexed model, whose bytes hash to `hash`.
    #[graphql(complexity = "complexity(first, child_complexity)")]
    async fn models_with_tensor(
        &self,
        ctx: &Context<'_>,
        hash: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Tensor>> {
        let n = first_of(ctx, first)?;
        let h = parse_hash(&hash, "tensor hash")?;
        let a = cursor::decode(after.as_deref(), "tensorHits")?;
        let page = api(ctx)
            .index()
            .tensor_models(&TensorHash::from_bytes(h), a.as_deref(), n)
            .map_err(ApiError::from)?;
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        let found = loader
            .load_many(page.items.iter().map(|h| h.model_id))
            .await?;
        let mut conn = Connection::new(a.is_some(), page.next.is_some());
        for (c, hit) in page.cursors.iter().zip(&page.items) {
            let Some(m) = found.get(&hit.model_id) else {
                continue;
            };
            if let Some(t) = types::tensor_of(m, &hit.name, Some(&hit.path)) {
                conn.edges.push(async_graphql::connection::Edge::new(
                    cursor::encode("tensorHits", c),
                    t,
                ));
            }
        }
        Ok(conn)
    }

    /// The chunk with commitment `commitment`: a leaf's chaining value (or
    /// a one-leaf file's root); or, with `leaf`, a file root and the index
    /// of a leaf of that file. Lists every DA place holding it and the URL
    /// of its verified bytes.
    async fn chunk(
        &self,
        ctx: &Context<'_>,
        commitment: String,
        leaf: Option<BigInt>,
    ) -> Result<Option<Chunk>> {
        let c = parse_hash(&commitment, "commitment")?;
        let index = api(ctx).index();
        let c = match leaf {
            None => c,
            Some(leaf) => {
                let holders = index.files_with_root(&c, None, 1).map_err(ApiError::from)?;
                let Some((model, fi)) = holders.items.first().copied() else {
                    return Ok(None);
                };
                let Some(m) = api(ctx).model(&model)? else {
                    return Ok(None);
                };
                let f = &m.manifest.files[fi as usize];
                let n = f.leaf_size.leaf_count(f.size);
                if leaf.0 >= n {
                    return Err(ApiError::new(
                        Code::BadInput,
                        format!("the file has {n} leaves; leaf {} is past them", leaf.0),
                    )
                    .into());
                }
                proof::leaf_commitment(&m, f, leaf.0)?
            }
        };
        let chunk = Chunk::find(ctx, c)?;
        Ok((!chunk.places.is_empty()).then_some(chunk))
    }

    /// The advisory with id `id` (`x_MDA-...`; `MDA-...` is read the same).
    async fn advisory(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Advisory>> {
        Ok(api(ctx)
            .index()
            .advisory(&id)
            .map_err(ApiError::from)?
            .map(Advisory))
    }

    /// Advisories in the order they were read (third-party reports,
    /// replaced and withdrawn ones included: their fields say so); only
    /// those with `status` when given.
    #[graphql(complexity = "complexity(first, child_complexity)")]
    async fn advisories(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<AdvisoryStatus>,
    ) -> Result<Connection<Cursor, Advisory>> {
        let n = first_of(ctx, first)?;
        let a = cursor::decode(after.as_deref(), "advisories")?;
        let page = api(ctx)
            .index()
            .advisories(status.map(Into::into), a.as_deref(), n)
            .map_err(ApiError::from)?;
        Ok(cursor::connection(
            page,
            "advisories",
            a.is_some(),
            Advisory,
        ))
    }

    /// Records the indexer refused, in the order they were read; only
    /// those with reason `code` when given.
    #[graphql(complexity = "complexity(first, child_complexity)")]
    async fn rejections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        code: Option<String>,
    ) -> Result<Connection<Cursor, Rejection>> {
        let n = first_of(ctx, first)?;
        let a = cursor::decode(after.as_deref(), "rejections")?;
        let page = api(ctx)
            .index()
            .rejections(code.as_deref(), a.as_deref(), n)
            .map_err(ApiError::from)?;
        Ok(cursor::connection(
            page,
            "rejections",
            a.is_some(),
            Rejection,
        ))
    }

    /// A proof that a leaf, a byte range or a tensor of file `file` of
    /// model `model` is what its signer committed to and is available on
    /// the DA layer (give exactly one of `leaf`, `range`, `tensor`). Save
    /// `document` and check it with `modelda verify-proof --inclusion`.
    #[allow(clippy::too_many_arguments)]
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        model: ID,
        file: String,
        leaf: Option<BigInt>,
        range: Option<ByteRange>,
        tensor: Option<String>,
        publication: Option<ID>,
    ) -> Result<InclusionProof> {
        let id = parse_model_id(&model)?;
        let target = match (leaf, range, tensor) {
            (Some(l), None, None) => Target::Leaf(l.0),
            (None, Some(r), None) => Target::Range(r.start.0..r.end.0),
            (None, None, Some(t)) => Target::Tensor(t),
            _ => {
                return Err(ApiError::new(
                    Code::BadInput,
                    "give exactly one of leaf, range and tensor",
                )
                .into())
            }
        };
        let publication = publication.map(|p| parse_pub_id(&p)).transpose()?;
        let built = api(ctx)
            .inclusion_document(id, file, target, publication)
            .await?;
        let doc = &built.doc;
        Ok(InclusionProof {
            model_id: ID(doc.model_id.to_hex()),
            file: doc.file.clone(),
            start: BigInt(doc.bytes[0]),
            end: BigInt(doc.bytes[1]),
            tensor: doc.tensor.clone(),
            leaves: doc.leaves.len() as i32,
            blobs: doc
                .blobs
                .iter()
                .map(|b| BlobProof {
                    locator: b.locator.clone(),
                    height: b
                        .locator
                        .parse::<Locator>()
                        .ok()
                        .and_then(|l| l.square_parts().map(|(h, _, _)| BigInt(h))),
                    data_root: b.data_root.clone(),
                    carried: BigInt(carried(&b.evidence)),
                    shares: match &b.evidence {
                        Evidence::Shares(s) => {
                            Some(s.runs.iter().map(|r| r.square.data.len() as i32).sum())
                        }
                        Evidence::Whole { .. } => None,
                    },
                })
                .collect(),
            merkle_proof: doc.merkle.clone(),
            claims: doc.claims.clone(),
            document: async_graphql::Json(types::RawJson(built.clone())),
        })
    }
}

/// Bytes of a blob a document carries: its shares, or the whole blob.
fn carried(e: &Evidence) -> u64 {
    match e {
        Evidence::Shares(s) => s
            .runs
            .iter()
            .map(|r| (r.square.data.len() * modelda_da::square::parts::SHARE_BYTES) as u64)
            .sum(),
        Evidence::Whole { data, .. } => (data.len() / 4 * 3) as u64,
    }
}

/// Mutations.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Registers the record at `locator` (an EigenDA cert, which no
    /// namespace lists) through the indexer's validation. Idempotent.
    async fn register_publication(
        &self,
        ctx: &Context<'_>,
        locator: String,
    ) -> Result<Registration> {
        let a = api(ctx);
        let loc: Locator = locator
            .trim()
            .parse()
            .map_err(|e| ApiError::new(Code::BadInput, format!("not a locator: {e}")))?;
        if a.index().is_reader() {
            return Err(ApiError::new(
                Code::BadInput,
                "this server serves a read-only index; register through `modelda node` or \
                 `modelda index register`",
            )
            .into());
        }
        let layer = a.layer_for(&loc)?;
        let report = modelda_indexer::register(a.index(), layer.as_ref(), &loc)
            .await
            .map_err(|e| match e {
                // The layer's answer is about the client's locator, not
                // about this server.
                modelda_indexer::Error::Da(modelda_da::Error::NotFound { .. }) => ApiError::new(
                    Code::NotFound,
                    format!("the layer holds nothing at {loc}: check the locator"),
                ),
                modelda_indexer::Error::Da(modelda_da::Error::DropCert { .. }) => ApiError::new(
                    Code::BadInput,
                    format!("the layer refused the cert of {loc} as invalid"),
                ),
                modelda_indexer::Error::Da(modelda_da::Error::Remote { detail, .. })
                    if detail.starts_with("HTTP 4") =>
                {
                    ApiError::new(
                        Code::BadInput,
                        format!(
                            "the layer refused {loc} ({}): check the locator",
                            detail.split(':').next().unwrap_or("HTTP 4xx")
                        ),
                    )
                }
                modelda_indexer::Error::Da(e) => {
                    tracing::warn!(locator = %loc, error = %e, "registration read failed");
                    ApiError::new(
                        Code::LayerUnavailable,
                        format!(
                            "the layer did not return {loc} (an unknown cert, or the layer \
                             is down): check the locator, or try again"
                        ),
                    )
                }
                e => ApiError::from(e),
            })?;
        if let Some(x) = report.rejected.first() {
            return Err(ApiError::new(
                Code::Rejected,
                format!("refused ({}): {}", x.code, x.message),
            )
            .into());
        }
        let publication = match report.indexed.first() {
            Some(i) => a
                .index()
                .publication(i.id)
                .map_err(ApiError::from)?
                .map(Publication),
            None => None,
        };
        let advisory = match report.advisories.first().or(report.withdrawals.first()) {
            Some(id) => a
                .index()
                .advisory(id)
                .map_err(ApiError::from)?
                .map(Advisory),
            None => None,
        };
        Ok(Registration {
            repost: publication.is_none() && advisory.is_none() && report.reposts > 0,
            publication,
            advisory,
        })
    }
}

/// What a registration did.
#[derive(async_graphql::SimpleObject)]
pub struct Registration {
    /// The publication (null for a repost: the same model by the same key
    /// as an earlier record, which adds nothing).
    pub publication: Option<Publication>,
    /// The advisory, when the locator holds one (or the withdrawal of
    /// one): records on EigenDA are registered by cert, and so are
    /// advisories posted there.
    pub advisory: Option<Advisory>,
    /// Whether the record repeats a publication.
    pub repost: bool,
}

/// Subscriptions.
pub struct SubscriptionRoot;

/// A stream of what `next` reads after a start, each batch queued: the
/// shape of every subscription here.
fn follow_index<T, F, Fut>(
    a: Api,
    start: PubId,
    next: F,
    at: fn(&T) -> PubId,
) -> impl Stream<Item = T> + use<T, F, Fut>
where
    T: Send + 'static,
    F: Fn(Api, PubId) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = modelda_indexer::Result<Vec<T>>> + Send,
{
    async_graphql::futures_util::stream::unfold(
        (a, start, std::collections::VecDeque::<T>::new(), next),
        move |(a, mut after, mut queue, next)| async move {
            loop {
                if let Some(item) = queue.pop_front() {
                    return Some((item, (a, after, queue, next)));
                }
                match next(a.clone(), after).await {
                    Ok(items) if items.is_empty() => return None,
                    Ok(items) => {
                        after = items.last().map(at).unwrap_or(after);
                        queue = items.into();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "subscription read failed");
                        return None;
                    }
                }
            }
        },
    )
}

/// Where a subscription starts: after everything indexed so far.
fn subscription_start(a: &Api) -> PubId {
    PubId {
        height: a.index().checkpoint().unwrap_or(0),
        index: u32::MAX,
    }
}

#[Subscription]
impl SubscriptionRoot {
    /// Publications indexed from now on, as each height is written.
    async fn publications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Publication> + use<>> {
        let a = api(ctx).clone();
        let start = subscription_start(&a);
        let items = follow_index(
            a,
            start,
            |a: Api, after| async move { a.index().next_publications(Some(after), 100, true).await },
            |p: &modelda_indexer::schema::PublicationEntry| p.id,
        );
        Ok(async_graphql::futures_util::StreamExt::map(
            items,
            Publication,
        ))
    }

    /// Advisories indexed from now on, as each height is written
    /// (third-party reports included: `standing` says which).
    async fn advisories(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Advisory> + use<>> {
        let a = api(ctx).clone();
        let start = subscription_start(&a);
        let items = follow_index(
            a,
            start,
            |a: Api, after| async move { a.index().next_advisories(Some(after), 100, true).await },
            |e: &modelda_indexer::schema::AdvisoryEntry| e.at,
        );
        Ok(async_graphql::futures_util::StreamExt::map(items, Advisory))
    }
}
