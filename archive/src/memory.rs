//! Leaves in memory: the cache in front of every chain, and the store the
//! tests run the shared test body against.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use crate::source::{ChunkSource, Want};
use crate::{LeafKey, Result};

/// Leaves in memory, least recently kept out first, bounded in bytes.
pub struct MemorySource {
    inner: Mutex<Lru>,
    name: &'static str,
}

struct Lru {
    map: HashMap<LeafKey, Bytes>,
    order: VecDeque<LeafKey>,
    bytes: usize,
    limit: usize,
}

impl MemorySource {
    /// A cache of at most `limit` bytes, named `cache`.
    pub fn new(limit: usize) -> MemorySource {
        MemorySource::named("cache", limit)
    }

    /// A store of at most `limit` bytes, named `name` in logs and metrics.
    pub fn named(name: &'static str, limit: usize) -> MemorySource {
        MemorySource {
            inner: Mutex::new(Lru {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                limit,
            }),
            name,
        }
    }

    /// Stores `bytes` under `key` without checking them (tests: a store
    /// that lies).
    pub fn put_unchecked(&self, key: LeafKey, bytes: Bytes) {
        self.lock().insert(key, bytes);
    }

    /// Leaves held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Lru {
    fn insert(&mut self, key: LeafKey, bytes: Bytes) {
        if bytes.len() > self.limit {
            return;
        }
        if let Some(old) = self.map.insert(key, bytes.clone()) {
            self.bytes -= old.len();
        } else {
            self.order.push_back(key);
        }
        self.bytes += bytes.len();
        while self.bytes > self.limit {
            let Some(k) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.map.remove(&k) {
                self.bytes -= v.len();
            }
        }
    }
}

#[async_trait]
impl ChunkSource for MemorySource {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn read(&self, want: &Want) -> Result<Option<Bytes>> {
        Ok(self.lock().map.get(&want.key).cloned())
    }

    async fn keep(&self, key: &LeafKey, bytes: &Bytes) -> Result<()> {
        self.lock().insert(*key, bytes.clone());
        Ok(())
    }
}
