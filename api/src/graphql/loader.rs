//! One data loader for the index: models, publications and publishers
//! asked for while one response is built are read in one batched read per
//! kind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use modelda_indexer::schema::{ModelEntry, PubId, PublicationEntry, PublisherEntry};
use modelda_manifest::ModelId;

use crate::error::ApiError;
use crate::state::Api;

/// The publications of a model (a list read per model, batched).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PubsOf(pub ModelId);

/// The signers of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignersOf(pub ModelId);

/// The parent edges of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParentsOf(pub ModelId);

/// A publisher's key hint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hint(pub String);

/// Reads the index in batches.
pub struct IndexLoader {
    api: Api,
    /// Batched reads made (for tests and `/metrics`).
    pub batches: Arc<AtomicU64>,
}

impl IndexLoader {
    /// A loader over `api`'s index, counting its batches in `batches`.
    pub fn new(api: Api, batches: Arc<AtomicU64>) -> IndexLoader {
        IndexLoader { api, batches }
    }

    /// One batch of per-key list reads.
    fn lists<K: Clone + Eq + std::hash::Hash, V>(
        &self,
        keys: &[K],
        read: impl Fn(&K) -> modelda_indexer::Result<V>,
    ) -> Result<HashMap<K, V>, ApiError> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        keys.iter().map(|k| Ok((k.clone(), read(k)?))).collect()
    }

    fn batch<K: Clone + Eq + std::hash::Hash, V>(
        &self,
        keys: &[K],
        read: impl FnOnce(&[K]) -> modelda_indexer::Result<Vec<Option<V>>>,
    ) -> Result<HashMap<K, V>, ApiError> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let values = read(keys)?;
        Ok(keys
            .iter()
            .cloned()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

impl Loader<ModelId> for IndexLoader {
    type Value = Arc<ModelEntry>;
    type Error = ApiError;

    async fn load(&self, keys: &[ModelId]) -> Result<HashMap<ModelId, Arc<ModelEntry>>, ApiError> {
        let (mut found, missing) = self.api.cached_models(keys);
        if !missing.is_empty() {
            let read = self.batch(&missing, |k| self.api.index().models_many(k))?;
            let read: Vec<Arc<ModelEntry>> = read.into_values().map(Arc::new).collect();
            self.api.remember_models(read.iter().cloned());
            found.extend(read.into_iter().map(|m| (m.model_id, m)));
        }
        Ok(found)
    }
}

impl Loader<PubId> for IndexLoader {
    type Value = PublicationEntry;
    type Error = ApiError;

    async fn load(&self, keys: &[PubId]) -> Result<HashMap<PubId, PublicationEntry>, ApiError> {
        self.batch(keys, |k| self.api.index().publications_many(k))
    }
}

impl Loader<Hint> for IndexLoader {
    type Value = PublisherEntry;
    type Error = ApiError;

    async fn load(&self, keys: &[Hint]) -> Result<HashMap<Hint, PublisherEntry>, ApiError> {
        let hints: Vec<String> = keys.iter().map(|h| h.0.clone()).collect();
        self.batch(keys, |_| self.api.index().publishers_many(&hints))
    }
}

impl Loader<PubsOf> for IndexLoader {
    type Value = Vec<PubId>;
    type Error = ApiError;

    async fn load(&self, keys: &[PubsOf]) -> Result<HashMap<PubsOf, Vec<PubId>>, ApiError> {
        self.lists(keys, |k| self.api.index().model_publication_ids(&k.0))
    }
}

impl Loader<SignersOf> for IndexLoader {
    type Value = Vec<String>;
    type Error = ApiError;

    async fn load(&self, keys: &[SignersOf]) -> Result<HashMap<SignersOf, Vec<String>>, ApiError> {
        self.lists(keys, |k| self.api.index().model_signers(&k.0))
    }
}

impl Loader<ParentsOf> for IndexLoader {
    type Value = Vec<modelda_indexer::query::Edge>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ParentsOf],
    ) -> Result<HashMap<ParentsOf, Vec<modelda_indexer::query::Edge>>, ApiError> {
        self.lists(keys, |k| self.api.index().parents(&k.0))
    }
}
