//! Settling submissions whose outcome is unknown, and adopting blobs that
//! are already on the layer: what makes a publish post nothing twice.

use std::collections::HashMap;
use std::path::Path;

use modelda_da::{DaLayer, Namespace, Receipt, Settlement};

use super::PublishProgress;
use crate::journal::{Entry, Journal};
use crate::Result;

/// Journals of the same plan begun with other keys (in the journal
/// directory): the blobs they confirmed are the same bytes (the plan does
/// not depend on the key), so they are journaled as this publication's and
/// only what is missing, at least this key's record, is posted. Returns the
/// blobs and bytes adopted, and the lowest head of their submissions still
/// unsettled (their blobs may be on the layer: settled and looked for
/// before anything is posted).
pub(super) fn adopt_from_other_keys(
    journal: &mut Journal,
    dir: &Path,
    plan: &str,
    hint: &str,
    n_blobs: u64,
) -> Result<(u64, u64, Option<u64>)> {
    let (mut blobs, mut bytes, mut scan_from) = (0u64, 0u64, None::<u64>);
    if journal.state().record.is_some() {
        return Ok((blobs, bytes, scan_from));
    }
    for (path, other) in Journal::of_other_keys(dir, plan, hint)? {
        let mut entries = Vec::new();
        for i in 0..n_blobs {
            if journal.state().done.contains_key(&i) {
                continue;
            }
            if let Some((receipt, parity)) = other.done.get(&i) {
                bytes += receipt.size as u64;
                entries.push(Entry::Done {
                    id: i,
                    receipt: receipt.clone(),
                    parity: parity.clone(),
                });
            }
        }
        if !entries.is_empty() {
            tracing::info!(from = %path.display(), blobs = entries.len(), "adopting blobs another key's publication of this model confirmed");
            blobs += entries.len() as u64;
            journal.append(entries)?;
        }
        if let Some(h) = other.scan_from() {
            scan_from = Some(scan_from.map_or(h, |s| s.min(h)));
        }
    }
    Ok((blobs, bytes, scan_from))
}

/// Rounds of settling lost answers a publish goes through before it gives
/// up (each round waits out the layer's mempool TTL).
pub(super) const MAX_SETTLE_ROUNDS: u32 = 8;

/// Every blob of `ns` that may hold a blob the journal does not know:
/// waits until submissions whose outcome is unknown are settled (see
/// [`Settlement`]), then lists every height after `from` (the head before
/// the oldest such submission), keyed by the BLAKE3 of the blob's bytes.
pub(super) async fn find_unjournaled(
    layer: &dyn DaLayer,
    namespaces: &[Namespace],
    from: u64,
    progress: &dyn PublishProgress,
) -> Result<HashMap<[u8; 32], Receipt>> {
    let mut found = HashMap::new();
    let head = layer.head().await?;
    let follow = layer.as_follow();
    let until = match (layer.settlement(), follow) {
        (Settlement::Unlisted, _) | (_, None) => {
            tracing::warn!("this layer cannot be listed: blobs whose submission had no answer are posted again");
            return Ok(found);
        }
        (Settlement::Immediate, _) => head,
        (Settlement::WithinBlocks(ttl), Some(follow)) => {
            // A submission in flight entered the mempool at or below
            // `head`, so it is included or evicted by `head + ttl + 1`.
            let until = head.saturating_add(ttl).saturating_add(1);
            progress.settling(until);
            let _span = tracing::info_span!("settle", until, ttl).entered();
            follow.wait_for_height(until).await?;
            until
        }
    };
    let Some(follow) = follow else {
        return Ok(found);
    };
    let mut namespaces = namespaces.to_vec();
    namespaces.dedup();
    if !layer.kind().has_namespaces() {
        // One listing holds every blob (Avail: the app id's).
        namespaces.truncate(1);
    }
    for h in from.saturating_add(1)..=until {
        for ns in &namespaces {
            for (loc, data) in follow.list(*ns, h).await? {
                found
                    .entry(*blake3::hash(&data).as_bytes())
                    .or_insert(Receipt {
                        locator: loc,
                        size: data.len(),
                        fee: 0,
                    });
            }
        }
    }
    Ok(found)
}
