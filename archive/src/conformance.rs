//! The test body every store runs: the unit tests run it against memory
//! and a directory, the end-to-end tests against a real S3-compatible
//! server. Not part of the API.

use std::sync::Arc;

use bytes::Bytes;
use modelda_merkle::{leaf_cv, LeafSize};

use crate::{ChunkSource, Error, LeafKey, Sources, Want};

/// `n` distinct leaves of the smallest leaf size, with their keys.
pub fn leaves(n: usize) -> Vec<(LeafKey, Bytes)> {
    let ls = LeafSize::MIN;
    (0..n)
        .map(|i| {
            let data: Vec<u8> = (0..ls.bytes() as usize - i)
                .map(|j| (j * 7 + i * 13) as u8)
                .collect();
            let cv = leaf_cv(ls, i as u64, &data);
            let key = LeafKey::leaf(*cv.as_bytes(), ls, i as u64, data.len() as u64)
                .expect("a leaf of its size");
            (key, Bytes::from(data))
        })
        .collect()
}

/// What every store must do: give back what it kept, nothing for what it
/// did not, and (through the chain) never a wrong byte.
pub async fn store_body(store: Arc<dyn ChunkSource>) {
    let ls = leaves(3);
    for (k, b) in &ls[..2] {
        store.keep(k, b).await.unwrap();
    }
    for (k, b) in &ls[..2] {
        assert_eq!(store.read(&Want::key(*k)).await.unwrap().as_ref(), Some(b));
    }
    assert_eq!(store.read(&Want::key(ls[2].0)).await.unwrap(), None);
    // Kept twice: still one leaf, the same bytes.
    store.keep(&ls[0].0, &ls[0].1).await.unwrap();
    let chain = Sources::new().then(store.clone());
    assert_eq!(chain.get(&Want::key(ls[0].0)).await.unwrap().bytes, ls[0].1);
    let e = chain.get(&Want::key(ls[2].0)).await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e}");
    let whole = LeafKey::whole(*blake3::hash(b"").as_bytes(), 0).unwrap();
    store.keep(&whole, &Bytes::new()).await.unwrap();
    assert_eq!(chain.get(&Want::key(whole)).await.unwrap().bytes.len(), 0);
}
