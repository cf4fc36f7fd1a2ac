//! What the archive keeps of a data blob besides its leaves, so that the
//! blob can be given back whole and any part of it proven in its block
//! after the layer pruned it.
//!
//! A kit (`kits/<locator>`) holds:
//!
//! - the blob's length and where each of its leaves' payloads sits, by the
//!   leaf's archive name: the blob is rebuilt from the archived leaves and
//!   its other bytes (envelope headers, and the few parity envelopes of
//!   small files that share a blob with leaves), which the kit carries;
//! - on square layers (the embedded chain, Celestia), a
//!   [`BlobSquareProof`]: what a proof of the blob's shares needs that the
//!   blob cannot give (a few KiB), and the block's data root it was
//!   checked against when kept;
//! - on other layers, the layer's own inclusion proof of the blob (an
//!   EigenDA cert, an Avail data proof).
//!
//! Nothing in a kit is trusted: a rebuilt blob must match its locator's
//! share commitment, every leaf its name, and a rebuilt share proof must
//! verify against the data root before it is given out.

use std::ops::Range;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use modelda_da::square::kept::BlobSquareProof;
use modelda_da::{InclusionProof, Locator};
use serde::{Deserialize, Serialize};

use crate::{Archive, Error, LeafKey, Result, MAX_BLOB_BYTES};

/// Most leaves one kit lists (a 32 MiB blob of 1 KiB leaves).
pub const MAX_KIT_LEAVES: usize = 32 * 1024;

/// Largest kit read: its leaf list, the blob's other bytes and a proof.
pub const MAX_KIT_BYTES: u64 = 16 << 20;

/// One leaf in a kit's blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitLeaf {
    /// Where its payload starts in the blob.
    pub at: u64,
    /// Its archive name, without the `leaves/` directory.
    pub leaf: String,
    /// Its length.
    pub len: u64,
}

/// What the archive keeps of a data blob (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobKit {
    /// Encoding version (1).
    pub v: u8,
    /// The blob.
    pub locator: String,
    /// Its length.
    pub len: u64,
    /// Its leaves, in blob order, not overlapping.
    pub leaves: Vec<KitLeaf>,
    /// Its other bytes, in order, base64.
    pub rest: String,
    /// The data root of its block (hex), as the layer gave it when kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<String>,
    /// Square layers: the proof of its shares, kept compact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub square: Option<BlobSquareProof>,
    /// Other layers: the layer's inclusion proof of the blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<InclusionProof>,
}

/// A leaf at its bytes in a blob.
type Placed = (Range<u64>, LeafKey);

/// The object name of `locator`'s kit.
pub fn kit_name(locator: &Locator) -> String {
    format!("kits/{locator}")
}

fn corrupt(locator: &Locator, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        name: kit_name(locator),
        reason: reason.into(),
    }
}

impl BlobKit {
    /// The version this build writes and reads.
    pub const VERSION: u8 = 1;

    /// The kit of `blob` at `locator`, whose leaves `leaves` (each at its
    /// payload's offset) are archived on their own; and the leaves whose
    /// bytes there are not theirs (left out of the kit: their bytes stay
    /// among the blob's other bytes). Each leaf is hashed here once; an
    /// overlap or a leaf past the blob is an error.
    pub fn new(
        locator: &Locator,
        blob: &[u8],
        mut leaves: Vec<(u64, LeafKey)>,
    ) -> Result<(BlobKit, Vec<(u64, LeafKey)>)> {
        leaves.sort_by_key(|(at, _)| *at);
        leaves.dedup_by_key(|(at, _)| *at);
        let mut rest = Vec::new();
        let mut at = 0u64;
        let mut listed = Vec::with_capacity(leaves.len());
        let mut refused = Vec::new();
        for (start, key) in leaves {
            let end = start + key.len();
            let bytes = blob
                .get(start as usize..end as usize)
                .filter(|_| start >= at)
                .ok_or_else(|| {
                    corrupt(
                        locator,
                        format!("a leaf at {start} overlaps or runs past the blob"),
                    )
                })?;
            if !key.check(bytes) {
                refused.push((start, key));
                continue;
            }
            rest.extend_from_slice(&blob[at as usize..start as usize]);
            listed.push(KitLeaf {
                at: start,
                leaf: key.name().trim_start_matches("leaves/").to_string(),
                len: key.len(),
            });
            at = end;
        }
        rest.extend_from_slice(&blob[at as usize..]);
        let kit = BlobKit {
            v: Self::VERSION,
            locator: locator.to_string(),
            len: blob.len() as u64,
            leaves: listed,
            rest: B64.encode(rest),
            data_root: None,
            square: None,
            proof: None,
        };
        Ok((kit, refused))
    }

    /// The leaves and the gaps between them, checked to tile the blob;
    /// the gaps' total.
    fn plan(&self, locator: &Locator) -> Result<(Vec<Placed>, u64)> {
        if self.v != Self::VERSION {
            return Err(corrupt(
                locator,
                format!("kit version {}; this build reads {}", self.v, Self::VERSION),
            ));
        }
        if self.locator != locator.to_string() {
            return Err(corrupt(locator, "the kit is another blob's"));
        }
        if self.len == 0 || self.len > MAX_BLOB_BYTES || self.leaves.len() > MAX_KIT_LEAVES {
            return Err(corrupt(
                locator,
                format!(
                    "a blob of {} bytes and {} leaves",
                    self.len,
                    self.leaves.len()
                ),
            ));
        }
        let mut at = 0u64;
        let mut gaps = 0u64;
        let mut out = Vec::with_capacity(self.leaves.len());
        for l in &self.leaves {
            let key = LeafKey::from_name(&l.leaf, l.len)
                .ok_or_else(|| corrupt(locator, format!("{:?} is not a leaf's name", l.leaf)))?;
            let end =
                l.at.checked_add(l.len)
                    .filter(|e| *e <= self.len && l.at >= at);
            let Some(end) = end else {
                return Err(corrupt(locator, "the leaves overlap or run past the blob"));
            };
            gaps += l.at - at;
            out.push((l.at..end, key));
            at = end;
        }
        gaps += self.len - at;
        Ok((out, gaps))
    }

    /// Reads a kit of the blob at `locator` (from an archive or another
    /// node: `raw` is bounded by the caller), and checks that its leaves
    /// and length fit the blob.
    pub fn parse(locator: &Locator, raw: &[u8]) -> Result<BlobKit> {
        let kit: BlobKit = modelda_da::untrusted::from_slice(raw)
            .map_err(|e| corrupt(locator, format!("not a kit: {e}")))?;
        kit.plan(locator)?;
        Ok(kit)
    }

    /// The data root kept with the kit.
    pub fn data_root(&self) -> Option<[u8; 32]> {
        let raw = hex::decode(self.data_root.as_deref()?).ok()?;
        raw.try_into().ok()
    }
}

impl Archive {
    /// Writes `kit` (after its leaves: a kit present means its leaves were
    /// written).
    pub async fn put_kit(&self, locator: &Locator, kit: &BlobKit) -> Result<()> {
        let body = serde_json::to_vec(kit).map_err(|e| corrupt(locator, e.to_string()))?;
        self.put_note(&kit_name(locator), body.into()).await
    }

    /// Whether `locator`'s kit is held.
    pub async fn has_kit(&self, locator: &Locator) -> Result<bool> {
        self.has_object(&kit_name(locator)).await
    }

    /// Every kit held, by its blob's locator; objects under `kits/` whose
    /// names are not locators are counted and returned.
    pub async fn kits(&self, mut each: impl FnMut(Locator)) -> Result<u64> {
        use futures::StreamExt as _;
        let mut list = self.list_under("kits");
        let mut foreign = 0;
        while let Some(m) = list.next().await {
            let m = m.map_err(|e| Error::Store {
                name: "kits/".into(),
                source: Box::new(e),
            })?;
            let name = m.location.filename().unwrap_or_default();
            let parsed = name
                .parse::<Locator>()
                .or_else(|_| name.replace("%3A", ":").parse::<Locator>());
            match parsed {
                Ok(l) => each(l),
                Err(_) => foreign += 1,
            }
        }
        Ok(foreign)
    }

    /// Deletes `locator`'s kit (nothing when there is none).
    pub async fn delete_kit(&self, locator: &Locator) -> Result<()> {
        self.delete_object(&kit_name(locator)).await
    }

    /// `locator`'s kit, if held.
    pub async fn get_kit(&self, locator: &Locator) -> Result<Option<BlobKit>> {
        let Some(raw) = self.get_note(&kit_name(locator), MAX_KIT_BYTES).await? else {
            return Ok(None);
        };
        BlobKit::parse(locator, &raw).map(Some)
    }

    /// The blob at `locator`, rebuilt from its kit and its archived
    /// leaves, each checked, and the whole checked against the locator
    /// where it commits to the bytes. `None` when no kit is held; an error
    /// when a leaf is missing or anything fails its check.
    pub async fn rebuild_blob(&self, locator: &Locator) -> Result<Option<(BlobKit, Vec<u8>)>> {
        let Some(kit) = self.get_kit(locator).await? else {
            return Ok(None);
        };
        let (leaves, gaps) = kit.plan(locator)?;
        // Bound the text before decoding it.
        if kit.rest.len() as u64 != gaps.div_ceil(3) * 4 {
            return Err(corrupt(
                locator,
                "its other bytes are not as many as the gaps between leaves",
            ));
        }
        let rest = B64
            .decode(&kit.rest)
            .map_err(|e| corrupt(locator, format!("other bytes: {e}")))?;
        if rest.len() as u64 != gaps {
            return Err(corrupt(
                locator,
                "its other bytes are not as many as the gaps between leaves",
            ));
        }
        let mut blob = Vec::with_capacity(kit.len as usize);
        let mut from_rest = 0usize;
        for (range, key) in leaves {
            let gap = (range.start - blob.len() as u64) as usize;
            blob.extend_from_slice(&rest[from_rest..from_rest + gap]);
            from_rest += gap;
            let bytes: Bytes = self.get_leaf(&key).await?.ok_or_else(|| Error::Corrupt {
                name: key.name(),
                reason: format!("not archived, and the kit of blob {locator} lists it"),
            })?;
            if !key.check(&bytes) {
                return Err(Error::Corrupt {
                    name: key.name(),
                    reason: "the archived leaf fails its check".into(),
                });
            }
            blob.extend_from_slice(&bytes);
        }
        blob.extend_from_slice(&rest[from_rest..]);
        if crate::blob_matches(locator, &blob) == Some(false) {
            return Err(corrupt(
                locator,
                "the rebuilt blob does not match its locator",
            ));
        }
        Ok(Some((kit, blob)))
    }
}
