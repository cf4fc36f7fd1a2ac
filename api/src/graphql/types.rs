//! The GraphQL object types over the index's entries.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, Enum, InputValueError, InputValueResult, Object, Result, Scalar,
    ScalarType, SimpleObject, Value, ID,
};
use modelda_indexer::query::Edge as IndexEdge;
use modelda_indexer::schema::{
    EdgeStatus, Evidence as IndexEvidence, ModelEntry, PubId, PublicationEntry, PublisherEntry,
    Rejection as IndexRejection,
};
use modelda_manifest::{FileEntry, ModelId, Relation as ManifestRelation, TensorInfo};

use super::cursor::{self, Cursor};
use super::loader::{IndexLoader, ParentsOf, PubsOf, SignersOf};
use super::{api, first_of};
use crate::error::{ApiError, Code};

/// An unsigned 64-bit integer, as a decimal string (GraphQL `Int` is 32
/// bits): sizes, offsets, heights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigInt(pub u64);

/// An unsigned 64-bit integer as a decimal string (GraphQL's `Int` holds 32
/// bits). Inputs may also be JSON numbers.
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(BigInt)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a u64"))),
            Value::Number(n) => n
                .as_u64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom(format!("{n} is not a u64"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A publication's id as text: `HEIGHT.INDEX` (height 0: registered).
pub fn pub_id_text(id: PubId) -> String {
    format!("{}.{}", id.height, id.index)
}

/// Reads [`pub_id_text`].
pub fn parse_pub_id(s: &str) -> Result<PubId, ApiError> {
    let (h, i) = s.split_once('.').unwrap_or(("", ""));
    match (h.parse(), i.parse()) {
        (Ok(height), Ok(index)) => Ok(PubId { height, index }),
        _ => Err(ApiError::new(
            Code::BadInput,
            format!("{s:?} is not a publication id (HEIGHT.INDEX)"),
        )),
    }
}

/// Reads a model id (64 hex digits).
pub fn parse_model_id(s: &str) -> Result<ModelId, ApiError> {
    ModelId::from_hex(s.trim()).map_err(|_| {
        ApiError::new(
            Code::BadInput,
            format!("{s:?} is not a model id (64 hex digits)"),
        )
    })
}

/// Reads a 32-byte hash (64 hex digits).
pub fn parse_hash(s: &str, what: &str) -> Result<[u8; 32], ApiError> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut b).map_err(|_| {
        ApiError::new(
            Code::BadInput,
            format!("{s:?} is not a {what} (64 hex digits)"),
        )
    })?;
    Ok(b)
}

/// The relation a child claims to its parent.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Further trained from the parent.
    Finetune,
    /// An adapter (LoRA, ...) over the parent.
    Adapter,
    /// The parent, quantized.
    Quantized,
    /// A merge of parents.
    Merge,
    /// Distilled from the parent.
    Distill,
    /// Something else.
    Other,
}

impl From<ManifestRelation> for Relation {
    fn from(r: ManifestRelation) -> Self {
        match r {
            ManifestRelation::Finetune => Relation::Finetune,
            ManifestRelation::Adapter => Relation::Adapter,
            ManifestRelation::Quantized => Relation::Quantized,
            ManifestRelation::Merge => Relation::Merge,
            ManifestRelation::Distill => Relation::Distill,
            _ => Relation::Other,
        }
    }
}

/// Whether a lineage edge's parent is indexed.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// The parent is indexed and the evidence computed.
    Resolved,
    /// The parent is not indexed (yet).
    Pending,
}

/// Which way a lineage walk goes.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Parents, grandparents, ...
    Ancestors,
    /// Children, grandchildren, ...
    Descendants,
}

/// The model card fields committed to in the manifest.
#[derive(SimpleObject, Clone, Debug)]
pub struct Card {
    /// `license`.
    pub license: Option<String>,
    /// `base_model`: the repositories it derives from.
    pub base_model: Vec<String>,
    /// `base_model_relation`.
    pub base_model_relation: Option<String>,
    /// `datasets`.
    pub datasets: Vec<String>,
}

/// A model: its signed manifest, as first published.
#[derive(Clone)]
pub struct Model(pub Arc<ModelEntry>);

#[Object]
impl Model {
    /// The model id: the BLAKE3 hash of the canonical manifest (hex).
    async fn id(&self) -> ID {
        ID(self.0.model_id.to_hex())
    }

    /// The name the first publication's signed claims give it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Model card fields.
    async fn card(&self) -> Card {
        let c = &self.0.manifest.card;
        Card {
            license: c.license.clone(),
            base_model: c.base_model.clone(),
            base_model_relation: c.base_model_relation.clone(),
            datasets: c.datasets.clone(),
        }
    }

    /// The training manifest, when one was committed (JSON).
    async fn training(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0
            .manifest
            .training
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .map(async_graphql::Json)
    }

    /// Its files, in manifest order.
    async fn files(&self) -> Vec<File> {
        (0..self.0.manifest.files.len())
            .map(|i| File {
                model: self.0.clone(),
                index: i,
            })
            .collect()
    }

    /// The file at `path`.
    async fn file(&self, path: String) -> Option<File> {
        file_of(&self.0, &path)
    }

    /// The tensor `name` (in `file` when given, otherwise the first file
    /// holding one with that name).
    async fn tensor(&self, name: String, file: Option<String>) -> Option<Tensor> {
        tensor_of(&self.0, &name, file.as_deref())
    }

    /// Its publications: each signer's first record of it.
    async fn publications(&self, ctx: &Context<'_>) -> Result<Vec<Publication>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        let ids = loader
            .load_one(PubsOf(self.0.model_id))
            .await?
            .unwrap_or_default();
        let found = loader.load_many(ids.iter().copied()).await?;
        Ok(ids
            .iter()
            .filter_map(|i| found.get(i).cloned().map(Publication))
            .collect())
    }

    /// The first publication.
    async fn first_publication(&self, ctx: &Context<'_>) -> Result<Option<Publication>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(self.0.first).await?.map(Publication))
    }

    /// The keys that published or attested it.
    async fn signers(&self, ctx: &Context<'_>) -> Result<Vec<Publisher>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        let hints = loader
            .load_one(SignersOf(self.0.model_id))
            .await?
            .unwrap_or_default();
        let keys: Vec<super::loader::Hint> = hints.into_iter().map(super::loader::Hint).collect();
        let found = loader.load_many(keys.iter().cloned()).await?;
        Ok(keys
            .iter()
            .filter_map(|k| found.get(k).cloned().map(Publisher))
            .collect())
    }

    /// Edges to the parents it claims, with the evidence.
    async fn parents(&self, ctx: &Context<'_>) -> Result<Vec<LineageEdge>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        let edges = loader
            .load_one(ParentsOf(self.0.model_id))
            .await?
            .unwrap_or_default();
        Ok(edges.into_iter().map(LineageEdge).collect())
    }

    /// Its status: the believed advisory that decides it (its publisher's,
    /// or a key this node trusts), `null` when none stands. Third-party
    /// reports never decide it (see `advisories`).
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<super::ModelStatus>> {
        let a = api(ctx);
        Ok(a.index()
            .model_status(&self.0.model_id, a.advisory_trust())
            .map_err(ApiError::from)?
            .map(Into::into))
    }

    /// Every advisory about it, in the order they were read: believed
    /// ones, third-party reports (`standing: THIRD_PARTY`), replaced and
    /// withdrawn ones (`stands: false`).
    async fn advisories(&self, ctx: &Context<'_>) -> Result<Vec<super::Advisory>> {
        Ok(api(ctx)
            .index()
            .model_advisories(&self.0.model_id)
            .map_err(ApiError::from)?
            .into_iter()
            .map(super::Advisory)
            .collect())
    }

    /// Believed `POISONED_DATA` and `COMPROMISED_KEY` advisories of its
    /// ancestors that reach it: only along lineage edges whose evidence
    /// shows shared tensors or leaves, with the path.
    async fn affected_through(&self, ctx: &Context<'_>) -> Result<Vec<super::AffectedThrough>> {
        let a = api(ctx);
        Ok(a.index()
            .affected_through(&self.0.model_id, a.advisory_trust())
            .map_err(ApiError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Edges from the models that claim it as a parent.
    #[graphql(complexity = "super::complexity(first, child_complexity)")]
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, LineageEdge>> {
        let n = first_of(ctx, first)?;
        let after = cursor::decode(after.as_deref(), "children")?;
        let page = api(ctx)
            .index()
            .children(&self.0.model_id, after.as_deref(), n)
            .map_err(ApiError::from)?;
        Ok(cursor::connection(
            page,
            "children",
            after.is_some(),
            LineageEdge,
        ))
    }
}

pub(crate) fn file_of(m: &Arc<ModelEntry>, path: &str) -> Option<File> {
    m.manifest
        .files
        .iter()
        .position(|f| f.path == path)
        .map(|index| File {
            model: m.clone(),
            index,
        })
}

pub(crate) fn tensor_of(m: &Arc<ModelEntry>, name: &str, file: Option<&str>) -> Option<Tensor> {
    m.manifest
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| file.is_none_or(|p| p == f.path))
        .find_map(|(fi, f)| {
            f.tensors
                .iter()
                .position(|t| t.name == name)
                .map(|ti| Tensor {
                    model: m.clone(),
                    file: fi,
                    tensor: ti,
                })
        })
}

/// A file of a model.
#[derive(Clone)]
pub struct File {
    pub(crate) model: Arc<ModelEntry>,
    pub(crate) index: usize,
}

impl File {
    fn entry(&self) -> &FileEntry {
        &self.model.manifest.files[self.index]
    }
}

#[Object]
impl File {
    /// The model.
    async fn model_id(&self) -> ID {
        ID(self.model.model_id.to_hex())
    }

    /// Index in the manifest.
    async fn index(&self) -> i32 {
        self.index as i32
    }

    /// Path in the model directory.
    async fn path(&self) -> &str {
        &self.entry().path
    }

    /// Size in bytes.
    async fn size(&self) -> BigInt {
        BigInt(self.entry().size)
    }

    /// BLAKE3 root (hex): what `b3sum` prints for the file.
    async fn root(&self) -> String {
        self.entry().root.to_hex()
    }

    /// Leaf size in bytes.
    async fn leaf_size(&self) -> BigInt {
        BigInt(self.entry().leaf_size.bytes())
    }

    /// Number of leaves (chunks).
    async fn leaves(&self) -> BigInt {
        BigInt(self.entry().leaf_size.leaf_count(self.entry().size))
    }

    /// Format (`safetensors`, `gguf`, `config`, ...).
    async fn format(&self) -> String {
        serde_json::to_value(self.entry().format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Number of tensors.
    async fn tensor_count(&self) -> i32 {
        self.entry().tensors.len() as i32
    }

    /// Its tensors, in file order.
    #[graphql(complexity = "super::complexity(first, child_complexity)")]
    async fn tensors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Tensor>> {
        let n = first_of(ctx, first)?;
        let start = match cursor::decode(after.as_deref(), "tensors")? {
            Some(c) => cursor::index_of(&c)? + 1,
            None => 0,
        };
        let all = &self.entry().tensors;
        let end = (start + n).min(all.len());
        let mut conn = Connection::new(start > 0, end < all.len());
        for ti in start.min(end)..end {
            conn.edges.push(Edge::new(
                cursor::encode_index(ti, "tensors"),
                Tensor {
                    model: self.model.clone(),
                    file: self.index,
                    tensor: ti,
                },
            ));
        }
        Ok(conn)
    }

    /// The chunk commitment of leaf `leaf` (its chaining value, or the
    /// root of a file of one leaf), and where its bytes are.
    async fn chunk(&self, ctx: &Context<'_>, leaf: BigInt) -> Result<Option<Chunk>> {
        let f = self.entry();
        if leaf.0 >= f.leaf_size.leaf_count(f.size) {
            return Ok(None);
        }
        let c = crate::proof::leaf_commitment(&self.model, f, leaf.0)?;
        Ok(Some(Chunk::find(ctx, c)?))
    }
}

/// A tensor of a file.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) model: Arc<ModelEntry>,
    pub(crate) file: usize,
    pub(crate) tensor: usize,
}

impl Tensor {
    fn info(&self) -> &TensorInfo {
        &self.model.manifest.files[self.file].tensors[self.tensor]
    }
}

#[Object]
impl Tensor {
    /// The model.
    async fn model_id(&self) -> ID {
        ID(self.model.model_id.to_hex())
    }

    /// The model.
    async fn model(&self) -> Model {
        Model(self.model.clone())
    }

    /// Path of its file.
    async fn file(&self) -> &str {
        &self.model.manifest.files[self.file].path
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.info().name
    }

    /// Element type (`F32`, `BF16`, `Q4_K`, ...).
    async fn dtype(&self) -> &str {
        &self.info().dtype
    }

    /// Shape.
    async fn shape(&self) -> Vec<BigInt> {
        self.info().shape.iter().map(|d| BigInt(*d)).collect()
    }

    /// First byte in the file.
    async fn start(&self) -> BigInt {
        BigInt(self.info().start)
    }

    /// End byte in the file (exclusive).
    async fn end(&self) -> BigInt {
        BigInt(self.info().end)
    }

    /// Size in bytes.
    async fn size(&self) -> BigInt {
        BigInt(self.info().len())
    }

    /// BLAKE3 of its bytes (hex).
    async fn hash(&self) -> String {
        self.info().blake3.to_hex()
    }
}

/// A publication: one key's record of a model on a DA layer.
#[derive(Clone)]
pub struct Publication(pub PublicationEntry);

#[Object]
impl Publication {
    /// Where its record was read: `HEIGHT.INDEX` (height 0: registered by
    /// locator).
    async fn id(&self) -> ID {
        ID(pub_id_text(self.0.id))
    }

    /// Height of the record's root page (0: registered).
    async fn height(&self) -> BigInt {
        BigInt(self.0.id.height)
    }

    /// Index of the root page among the record blobs at its height.
    async fn index(&self) -> i64 {
        i64::from(self.0.id.index)
    }

    /// The model.
    async fn model_id(&self) -> ID {
        ID(self.0.model_id.to_hex())
    }

    /// The model.
    async fn model(&self, ctx: &Context<'_>) -> Result<Option<Model>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(self.0.model_id).await?.map(Model))
    }

    /// The record's locator.
    async fn record(&self) -> &str {
        &self.0.record
    }

    /// Layer of the blobs (`local`, `celestia`, `eigenda`, `avail`).
    async fn layer(&self) -> &str {
        &self.0.layer
    }

    /// Namespace of the data blobs (hex), where the layer has namespaces.
    async fn namespace(&self) -> Option<&str> {
        self.0.namespace.as_deref()
    }

    /// The signing key's hint.
    async fn signer_key(&self) -> &str {
        &self.0.signer
    }

    /// The signer.
    async fn signer(&self, ctx: &Context<'_>) -> Result<Option<Publisher>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader
            .load_one(super::loader::Hint(self.0.signer.clone()))
            .await?
            .map(Publisher))
    }

    /// Data shards per stripe.
    async fn data_shards(&self) -> i32 {
        i32::from(self.0.data_shards)
    }

    /// Parity shards per stripe.
    async fn parity_shards(&self) -> i32 {
        i32::from(self.0.parity_shards)
    }

    /// Number of blobs (its own, then those reused from parents).
    async fn blob_count(&self) -> i64 {
        i64::from(self.0.blobs)
    }

    /// Blob locators, in order (at most `first`).
    #[graphql(complexity = "super::complexity(first, child_complexity)")]
    async fn blobs(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<String>> {
        let n = first_of(ctx, first)?;
        Ok(api(ctx)
            .index()
            .publication_blobs(self.0.id, n)
            .map_err(ApiError::from)?)
    }

    /// Leaves indexed as chunks.
    async fn leaves(&self) -> BigInt {
        BigInt(self.0.leaves)
    }

    /// Models whose blobs it reuses.
    async fn reused_from(&self) -> Vec<ID> {
        self.0.reused_from.iter().map(|m| ID(m.to_hex())).collect()
    }

    /// Later records of the same model by the same key.
    async fn reposts(&self) -> BigInt {
        BigInt(self.0.reposts)
    }

    /// The signed claims bundle it carries (Sigstore bundle JSON, exactly
    /// as signed): the manifest with every tensor, the leaf chaining values
    /// and the signer's key. Check it yourself; the explorer does, in the
    /// browser.
    async fn claims(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(api(ctx)
            .index()
            .claims(self.0.id)
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "publication {} has no claims stored",
                    pub_id_text(self.0.id)
                ))
            })?)
    }

    /// What it posted and what that cost (read from its record on the DA
    /// layer the first time it is asked for).
    async fn cost(&self, ctx: &Context<'_>) -> Result<PublicationCost> {
        Ok(PublicationCost(api(ctx).cost(&self.0).await?))
    }
}

/// What a publication posted and what that cost.
pub struct PublicationCost(Arc<crate::cost::Cost>);

#[Object]
impl PublicationCost {
    /// Blobs of shards it posted itself (the others of its list were
    /// posted by a parent's or an earlier publication: none for an
    /// attestation).
    async fn own_blobs(&self) -> i64 {
        i64::from(self.0.own_blobs)
    }

    /// Bytes of those blobs (data and parity shards, with envelopes).
    async fn shard_bytes(&self) -> BigInt {
        BigInt(self.0.shard_bytes)
    }

    /// Blobs of its record (the root page and any pages).
    async fn record_blobs(&self) -> i64 {
        i64::from(self.0.record_blobs)
    }

    /// Bytes of its record's blobs.
    async fn record_bytes(&self) -> BigInt {
        BigInt(self.0.record_bytes)
    }

    /// Everything it posted: shards and record.
    async fn posted_bytes(&self) -> BigInt {
        BigInt(self.0.posted_bytes())
    }

    /// Model bytes in the data shards it posted.
    async fn payload_bytes(&self) -> BigInt {
        BigInt(self.0.payload_bytes)
    }

    /// Bytes it posted (shards and record) per model byte it posted, as
    /// `modelda publish` reports it: 1.3 is 30% more posted than carried
    /// (null when it posted no model bytes: an attestation).
    async fn overhead(&self) -> Option<f64> {
        self.0.overhead()
    }

    /// Estimated fee in utia at the minimum gas price (Celestia and the
    /// local chain), transactions batched as the publisher sends them.
    async fn fee_utia(&self) -> Option<BigInt> {
        self.0.fee_utia.map(BigInt)
    }

    /// Bytes billed (EigenDA).
    async fn billed_bytes(&self) -> Option<BigInt> {
        self.0.billed_bytes.map(BigInt)
    }

    /// Estimated fee in nano-AVAIL (Avail), before the chain's congestion
    /// multiplier and fee modifier.
    async fn fee_nano_avail(&self) -> Option<BigInt> {
        self.0.fee_nano_avail.map(BigInt)
    }
}

/// A key that signed at least one indexed record.
#[derive(Clone)]
pub struct Publisher(pub PublisherEntry);

#[Object]
impl Publisher {
    /// The key's hint: hex SHA-256 of its PEM.
    async fn key(&self) -> ID {
        ID(self.0.hint.clone())
    }

    /// The public key (PEM).
    async fn public_key(&self) -> &str {
        &self.0.public_key
    }

    /// The first publication it signed.
    async fn first_publication(&self, ctx: &Context<'_>) -> Result<Option<Publication>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(self.0.first).await?.map(Publication))
    }

    /// The models it published or attested, in id order.
    #[graphql(complexity = "super::complexity(first, child_complexity)")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Model>> {
        let n = first_of(ctx, first)?;
        let after = cursor::decode(after.as_deref(), "publisherModels")?;
        let page = api(ctx)
            .index()
            .publisher_models(&self.0.hint, after.as_deref(), n)
            .map_err(ApiError::from)?;
        super::models_of(ctx, page, "publisherModels", after.is_some()).await
    }
}

/// What the indexer found comparing a child with its claimed parent.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct Evidence {
    /// Tensors of the child.
    pub child_tensors: BigInt,
    /// Child tensors whose hash is a tensor of the parent.
    pub identical_tensors: BigInt,
    /// Bytes of those tensors.
    pub identical_bytes: BigInt,
    /// Leaves of the child.
    pub child_leaves: BigInt,
    /// Child leaves that are leaves of the parent.
    pub shared_leaves: BigInt,
    /// Names of child tensors not in the parent (`path:name`, at most 256).
    pub new_tensors: Vec<String>,
    /// How many tensors are new in all.
    pub new_tensor_count: BigInt,
    /// Whether anything backs the claim (an identical tensor or a shared
    /// leaf).
    pub supported: bool,
}

#[ComplexObject]
impl Evidence {
    /// Share of the child's tensors that are identical in the parent (0 to 1).
    async fn identical_tensor_share(&self) -> f64 {
        ratio(self.identical_tensors.0, self.child_tensors.0)
    }

    /// Share of the child's leaves shared with the parent (0 to 1).
    async fn shared_leaf_share(&self) -> f64 {
        ratio(self.shared_leaves.0, self.child_leaves.0)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl From<&IndexEvidence> for Evidence {
    fn from(e: &IndexEvidence) -> Self {
        Evidence {
            child_tensors: BigInt(e.child_tensors),
            identical_tensors: BigInt(e.identical_tensors),
            identical_bytes: BigInt(e.identical_bytes),
            child_leaves: BigInt(e.child_leaves),
            shared_leaves: BigInt(e.shared_leaves),
            new_tensors: e.new_tensors.clone(),
            new_tensor_count: BigInt(e.new_tensor_count),
            supported: e.supported,
        }
    }
}

/// A lineage edge: a child's claim about a parent, with evidence.
#[derive(Clone)]
pub struct LineageEdge(pub IndexEdge);

#[Object]
impl LineageEdge {
    /// The child (the model that makes the claim).
    async fn child_id(&self) -> ID {
        ID(self.0.child.to_hex())
    }

    /// The parent it names.
    async fn parent_id(&self) -> ID {
        ID(self.0.parent.to_hex())
    }

    /// The child.
    async fn child(&self, ctx: &Context<'_>) -> Result<Option<Model>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(self.0.child).await?.map(Model))
    }

    /// The parent (null while it is not indexed).
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Model>> {
        let loader = ctx.data_unchecked::<DataLoader<IndexLoader>>();
        Ok(loader.load_one(self.0.parent).await?.map(Model))
    }

    /// The relation the child claims.
    async fn relation(&self) -> Relation {
        self.0.entry.claim.relation.into()
    }

    /// Whether the parent is indexed.
    async fn status(&self) -> LinkStatus {
        match self.0.entry.status {
            EdgeStatus::Resolved => LinkStatus::Resolved,
            EdgeStatus::Pending => LinkStatus::Pending,
        }
    }

    /// What backs the claim, once the parent is indexed.
    async fn evidence(&self) -> Option<Evidence> {
        self.0.entry.evidence.as_ref().map(Evidence::from)
    }

    /// Whether the evidence supports the claim (false while pending).
    async fn proven(&self) -> bool {
        self.0.entry.evidence.as_ref().is_some_and(|e| e.supported)
    }
}

/// A record the indexer refused.
#[derive(Clone)]
pub struct Rejection(pub IndexRejection);

#[Object]
impl Rejection {
    /// Where it was read: `HEIGHT.INDEX`.
    async fn id(&self) -> ID {
        ID(pub_id_text(self.0.id))
    }

    /// Height (0: offered for registration).
    async fn height(&self) -> BigInt {
        BigInt(self.0.id.height)
    }

    /// Its locator.
    async fn locator(&self) -> &str {
        &self.0.locator
    }

    /// Stable reason code (`signature_invalid`, `envelope_malformed`, ...).
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// What is wrong.
    async fn message(&self) -> &str {
        &self.0.message
    }
}

/// A chunk (a leaf's bytes) by commitment, and every place it is stored.
#[derive(SimpleObject, Clone)]
pub struct Chunk {
    /// The commitment (hex): a leaf chaining value, or the root of a file
    /// of one leaf.
    pub commitment: String,
    /// Where to GET its verified bytes on this server (a path).
    pub url: String,
    /// The places that hold it (at most 100).
    pub places: Vec<ChunkPlace>,
}

impl Chunk {
    pub(crate) fn find(ctx: &Context<'_>, c: [u8; 32]) -> Result<Chunk, ApiError> {
        let page = api(ctx).index().chunk_places(&c, None, 100)?;
        Ok(Chunk {
            commitment: hex::encode(c),
            url: format!("/chunks/{}", hex::encode(c)),
            places: page
                .items
                .into_iter()
                .map(|h| ChunkPlace {
                    publication: ID(pub_id_text(h.publication)),
                    model_id: ID(h.model_id.to_hex()),
                    file_index: h.file as i32,
                    leaf: BigInt(h.leaf),
                    locator: h.blob,
                    offset: BigInt(u64::from(h.place.offset)),
                    stripe: BigInt(h.place.stripe),
                    shard: i32::from(h.place.shard),
                })
                .collect(),
        })
    }
}

/// One place a chunk is stored.
#[derive(SimpleObject, Clone)]
pub struct ChunkPlace {
    /// The publication whose record lists it.
    pub publication: ID,
    /// The model.
    pub model_id: ID,
    /// File index in the manifest.
    pub file_index: i32,
    /// Leaf index in the file.
    pub leaf: BigInt,
    /// The DA locator of the blob holding it.
    pub locator: String,
    /// Byte offset of its envelope in the blob.
    pub offset: BigInt,
    /// Erasure-coding stripe.
    pub stripe: BigInt,
    /// Shard index in the stripe.
    pub shard: i32,
}

/// How far the index has followed its layer.
#[derive(SimpleObject, Clone)]
pub struct Meta {
    /// The last height indexed (null before the first).
    pub height: Option<BigInt>,
    /// The layer followed (`local`, `celestia`, `eigenda`, `avail`).
    pub layer: String,
    /// The record namespace followed (hex), where the layer has one.
    pub namespace: Option<String>,
    /// The layer's head as last read (null when not known).
    pub head: Option<BigInt>,
    /// Heights the index is behind the head (null when not known).
    pub lag: Option<BigInt>,
    /// Publications indexed.
    pub publications: BigInt,
    /// Records refused.
    pub rejections: BigInt,
    /// The archive this node keeps (null: it keeps none).
    pub archive: Option<ArchiveMeta>,
}

/// How far a node's archive is behind its index.
#[derive(SimpleObject, Clone)]
pub struct ArchiveMeta {
    /// Where the archive lives (a directory, or `s3://BUCKET/PREFIX`).
    pub location: String,
    /// The height of the last publication archived (0: none yet).
    pub height: BigInt,
    /// Publications archived.
    pub publications: BigInt,
    /// Publications indexed but not archived yet.
    pub lag: BigInt,
    /// Leaves this node wrote to the archive.
    pub leaves_written: BigInt,
    /// Their bytes.
    pub bytes_written: BigInt,
    /// Leaves the layer had pruned before they could be archived.
    pub leaves_lost: BigInt,
    /// Why the last archiving round stopped, when it did (the archive
    /// unreachable, a full disk); null once a round completes.
    pub last_error: Option<String>,
}

/// An inclusion proof: the parts, and the whole as one JSON document.
#[derive(SimpleObject, Clone)]
pub struct InclusionProof {
    /// The model.
    pub model_id: ID,
    /// The file.
    pub file: String,
    /// First proven byte.
    pub start: BigInt,
    /// End of the proven bytes (exclusive).
    pub end: BigInt,
    /// The tensor, when one was asked for.
    pub tensor: Option<String>,
    /// Leaves covered.
    pub leaves: i32,
    /// The blobs holding them, with the height and data root of each.
    pub blobs: Vec<BlobProof>,
    /// Base64 of the BLAKE3 range proof (null for a file of one leaf).
    pub merkle_proof: Option<String>,
    /// The signed claims bundle (JSON text, exactly as signed).
    pub claims: String,
    /// The whole proof, which `modelda verify-proof --inclusion` checks:
    /// save this field.
    pub document: async_graphql::Json<RawJson>,
}

/// One blob of an inclusion proof.
#[derive(SimpleObject, Clone)]
pub struct BlobProof {
    /// Its locator.
    pub locator: String,
    /// Its height (null on layers without heights).
    pub height: Option<BigInt>,
    /// The data root of the header at that height (hex), as this server
    /// saw it: check it against your own node.
    pub data_root: Option<String>,
    /// Bytes of it the proof carries: the shares that hold the proven
    /// bytes on square layers (the embedded chain, Celestia), the whole blob
    /// on layers that prove only whole blobs (Avail, EigenDA).
    pub carried: BigInt,
    /// Shares of it the proof carries (null where whole blobs travel).
    pub shares: Option<i32>,
}

/// A byte range.
#[derive(async_graphql::InputObject, Clone, Copy, Debug)]
pub struct ByteRange {
    /// First byte.
    pub start: BigInt,
    /// End (exclusive).
    pub end: BigInt,
}

/// An inclusion document's JSON text, written once and carried into
/// answers as it is.
#[derive(Clone)]
pub struct RawJson(pub std::sync::Arc<crate::state::Document>);

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.json.serialize(s)
    }
}
