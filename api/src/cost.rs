//! What a publication cost: the blobs it posted itself (not those reused
//! from a parent or an earlier publication of the model), their bytes, the
//! model bytes they carry, the overhead, and the fee at the layer's prices.
//!
//! Worked out from the record (read from the layer once and kept): every
//! shard's place and length follow from the stripe geometry, so each own
//! blob's size is the end of its last envelope.

use std::collections::HashSet;

use modelda_da::{DaLayer, FeeParams, LayerKind, Locator};
use modelda_indexer::schema::PublicationEntry;
use modelda_indexer::Index;
use modelda_wire::envelope::{Envelope, HEADER_LEN};
use modelda_wire::record::{OpenedRecord, PageIndex};

use crate::error::{ApiError, Code};

/// Publications of a model whose blob lists are read to tell reused blobs
/// (per model).
const MAX_REUSED_PUBLICATIONS: usize = 16;

/// What one publication posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Blobs of shards it posted itself.
    pub own_blobs: u32,
    /// Bytes of those blobs.
    pub shard_bytes: u64,
    /// Blobs of its record (the root page and any pages).
    pub record_blobs: u32,
    /// Bytes of its record's blobs.
    pub record_bytes: u64,
    /// Model bytes in its own data shards.
    pub payload_bytes: u64,
    /// The fee in utia at the minimum gas price (Celestia and the local
    /// chain), PayForBlobs transactions batched as the publisher sends them.
    pub fee_utia: Option<u64>,
    /// Bytes billed (EigenDA).
    pub billed_bytes: Option<u64>,
    /// The fee in nano-AVAIL before the chain's multipliers (Avail).
    pub fee_nano_avail: Option<u64>,
}

impl Cost {
    /// Everything posted.
    pub fn posted_bytes(&self) -> u64 {
        self.shard_bytes + self.record_bytes
    }

    /// Bytes posted (shards and record) per model byte posted, as
    /// `modelda publish` reports it (none when it posted no model bytes: an
    /// attestation).
    pub fn overhead(&self) -> Option<f64> {
        (self.payload_bytes > 0).then(|| self.posted_bytes() as f64 / self.payload_bytes as f64)
    }
}

/// Which of `blobs` the publication posted itself: those no earlier
/// publication lists (`reused` holds the locators of those it could share:
/// its parents', and earlier publications of the same model, whose blobs
/// an attestation adopts).
pub(crate) fn own_blobs(blobs: &[Locator], reused: &HashSet<String>) -> Vec<bool> {
    blobs
        .iter()
        .map(|b| !reused.contains(&b.to_string()))
        .collect()
}

/// Sizes of the blobs marked `own` (0 for the others), and the model bytes
/// in their data shards, from the record's shard places.
pub(crate) fn own_blob_sizes(rec: &OpenedRecord, own: &[bool]) -> (Vec<u64>, u64) {
    let mut sizes = vec![0u64; own.len()];
    let mut payload = 0u64;
    let header = HEADER_LEN as u64;
    let mut put = |blob: u32, offset: u32, len: u64| -> bool {
        let i = blob as usize;
        match (own.get(i), sizes.get_mut(i)) {
            (Some(true), Some(s)) => {
                *s = (*s).max(u64::from(offset) + header + len);
                true
            }
            _ => false,
        }
    };
    for f in &rec.files {
        let st = &f.stripes;
        for s in 0..st.count() {
            let Some(&start) = f.stripe_starts.get(s as usize) else {
                continue;
            };
            let leaves = st.leaves_of(s);
            let n_data = (leaves.end - leaves.start) as usize;
            for (j, leaf) in leaves.enumerate() {
                let b = st.leaf_size.leaf_bytes(st.size, leaf);
                if let Some(r) = f.refs.get(start + j) {
                    if put(r.blob, r.offset, b.end - b.start) {
                        payload += b.end - b.start;
                    }
                }
            }
            for j in 0..usize::from(st.geometry.parity) {
                if let Some(r) = f.refs.get(start + n_data + j) {
                    put(r.blob, r.offset, st.width(s));
                }
            }
        }
    }
    (sizes, payload)
}

/// Sizes of a record's blobs: the root page, then each page (a paged
/// record's pages share its length evenly: the index keeps only the total).
fn record_sizes(root: &[u8]) -> Vec<u64> {
    let mut sizes = vec![root.len() as u64];
    let Ok(env) = Envelope::decode_at(root, 0) else {
        return sizes;
    };
    if env.payload.first() == Some(&b'P') {
        if let Ok(index) = serde_json::from_slice::<PageIndex>(&env.payload[1..]) {
            let n = index.pages.len() as u64;
            if n > 0 {
                let each = index.len.div_ceil(n) + HEADER_LEN as u64;
                sizes.extend(std::iter::repeat_n(each, index.pages.len()));
            }
        }
    }
    sizes
}

/// The cost of publication `p`, whose record's root blob at `loc` is
/// `root`, on `layer`.
pub(crate) async fn work_out(
    index: &Index,
    layer: &dyn DaLayer,
    loc: &Locator,
    root: &[u8],
    p: &PublicationEntry,
) -> Result<Cost, ApiError> {
    let rec = modelda_da::read::open_record_blob(layer, loc, root, Some(p.model_id), None)
        .await
        .map_err(|e| {
            tracing::warn!(record = %loc, error = %e, "an indexed record no longer opens");
            ApiError::new(
                Code::LayerUnavailable,
                format!("the record at {loc} could not be read again; try again"),
            )
        })?;
    let mut reused = HashSet::new();
    let earlier = index
        .model_publication_ids(&p.model_id)?
        .into_iter()
        .filter(|&pid| pid < p.id);
    let mut sharing: Vec<_> = earlier.take(MAX_REUSED_PUBLICATIONS).collect();
    for m in &p.reused_from {
        sharing.extend(
            index
                .model_publication_ids(m)?
                .into_iter()
                .filter(|&pid| pid != p.id)
                .take(MAX_REUSED_PUBLICATIONS),
        );
    }
    for pid in sharing {
        reused.extend(index.publication_blobs(pid, rec.blobs.len())?);
    }
    let own = own_blobs(&rec.blobs, &reused);
    let (shards, payload_bytes) = own_blob_sizes(&rec, &own);
    let records = record_sizes(root);
    let all: Vec<usize> = shards
        .iter()
        .filter(|&&n| n > 0)
        .chain(&records)
        .map(|&s| usize::try_from(s).unwrap_or(usize::MAX))
        .collect();
    // Blobs batch into transactions up to the layer's batch limit (where
    // it has one); the avail runtime is mainnet's.
    let max_batch_bytes = match loc.kind() {
        LayerKind::Celestia | LayerKind::Local => layer
            .limits()
            .await
            .map(|l| l.max_batch_bytes)
            .unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let fee = loc.kind().fee(
        &all,
        &FeeParams {
            max_batch_bytes,
            ..FeeParams::default()
        },
    );
    Ok(Cost {
        own_blobs: own.iter().filter(|&&o| o).count() as u32,
        shard_bytes: shards.iter().sum(),
        record_blobs: records.len() as u32,
        record_bytes: records.iter().sum(),
        payload_bytes,
        fee_utia: fee.utia(),
        billed_bytes: fee.billed_bytes(),
        fee_nano_avail: fee.nano_avail(),
    })
}
