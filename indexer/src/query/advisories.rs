//! Reading advisories, and deciding which are believed.
//!
//! An advisory changes a model's status only when it is *believed*: its key
//! published the model (signed its first publication on the layer), or the
//! reader trusts the key ([`Trust`]: `modelda node --trust-advisories-from`).
//! Any other advisory is a third-party report: listed, never deciding.
//!
//! A key that attested the model (signed a later record of it) is not
//! believed by that alone: anyone can attest any model at the cost of one
//! blob, so an attester that could revoke would be what Notary's threat
//! model calls a denial-of-service key. A reader who trusts an attester
//! says so with its key.
//!
//! Through lineage: a believed `poisoned-data` or `compromised-key`
//! advisory on a model makes its descendants *affected through lineage*,
//! but only along edges whose evidence shows shared tensors or leaves. An
//! unsupported lineage claim carries nothing.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use modelda_manifest::sign::PublicKey;
use modelda_manifest::ModelId;
use modelda_wire::advisory::Status;
use serde::Serialize;

use super::{parse_hint, Page};
use crate::schema::{self, key, AdvisoryEntry, EdgeEntry, EdgeStatus, PubId};
use crate::store::Index;
use crate::Result;

/// Most models a walk up the lineage visits for one model's
/// [`Index::affected_through`].
pub const MAX_AFFECTED_WALK: usize = 10_000;

/// Keys a reader believes about any model, besides each model's own
/// signers.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    hints: BTreeSet<String>,
}

impl Trust {
    /// Trusts nobody beyond each model's signers.
    pub fn signers_only() -> Trust {
        Trust::default()
    }

    /// Also trusts `keys`.
    pub fn with_keys<'a>(keys: impl IntoIterator<Item = &'a PublicKey>) -> Trust {
        Trust {
            hints: keys.into_iter().map(PublicKey::hint).collect(),
        }
    }

    /// Whether the key with hint `hint` is trusted for every model.
    pub fn trusts(&self, hint: &str) -> bool {
        self.hints.contains(hint)
    }

    /// The trusted keys' hints.
    pub fn hints(&self) -> impl Iterator<Item = &str> {
        self.hints.iter().map(String::as_str)
    }
}

/// Why an advisory is believed, or that it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Its key published the model (signed its first publication).
    Publisher,
    /// The reader trusts its key.
    Trusted,
    /// Neither: a third-party report.
    ThirdParty,
}

impl Standing {
    /// Whether it is believed (changes the model's status).
    pub fn believed(self) -> bool {
        self != Standing::ThirdParty
    }
}

/// A model's status: the believed advisory that decides it.
#[derive(Clone, Debug, Serialize)]
pub struct ModelStatus {
    /// What it says.
    pub status: Status,
    /// The advisory.
    pub advisory: AdvisoryEntry,
    /// Why it is believed.
    pub standing: Standing,
}

/// A model affected through lineage by an ancestor's advisory.
#[derive(Clone, Debug, Serialize)]
pub struct Affected {
    /// The ancestor's advisory.
    pub advisory: AdvisoryEntry,
    /// Why it is believed (about the ancestor).
    pub standing: Standing,
    /// The path from the model up to the ancestor, both included; every
    /// edge on it is supported by evidence.
    pub path: Vec<ModelId>,
}

/// The order in which statuses decide a model's status: the ones that deny
/// use first.
fn rank(s: Status) -> usize {
    Status::ALL
        .iter()
        .position(|x| *x == s)
        .unwrap_or(usize::MAX)
}

impl Index {
    /// The advisory with id `id` (`x_MDA-...` or `MDA-...`).
    pub fn advisory(&self, id: &str) -> Result<Option<AdvisoryEntry>> {
        let Ok(id) = modelda_wire::advisory::normalize_id(id) else {
            return Ok(None);
        };
        match self.get(schema::CF_ADVISORY_IDS, id.as_bytes())? {
            Some(v) => {
                let at = PubId::from_bytes(&v)
                    .ok_or_else(|| self.corrupt("advisory id", "not 12 bytes"))?;
                self.advisory_at(at)
            }
            None => Ok(None),
        }
    }

    /// The advisory read at `at`.
    pub fn advisory_at(&self, at: PubId) -> Result<Option<AdvisoryEntry>> {
        self.get_json(schema::CF_ADVISORIES, &at.to_bytes(), "advisory")
    }

    /// The signed bundle of the statement read at `at` (an advisory or a
    /// withdrawal), as signed.
    pub fn statement(&self, at: PubId) -> Result<Option<String>> {
        Ok(self
            .get(schema::CF_STATEMENTS, &at.to_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every advisory about `model` (standing, replaced, withdrawn), in the
    /// order they were read; at most [`super::MAX_PAGE`].
    pub fn model_advisories(&self, model: &ModelId) -> Result<Vec<AdvisoryEntry>> {
        let mut out = Vec::new();
        for (k, _) in self.scan(
            schema::CF_MODEL_ADVISORIES,
            model.as_bytes(),
            None,
            super::MAX_PAGE,
        )? {
            let at = PubId::from_bytes(&k[32..])
                .ok_or_else(|| self.corrupt("model advisory", "bad key"))?;
            if let Some(a) = self.advisory_at(at)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The believed advisories about `model` that stand (each believed
    /// key's latest, unless withdrawn), in the order they were read: looked
    /// up key by key (the model's publisher, then the trusted keys), so
    /// reports by any number of other keys cost nothing here.
    pub fn believed_advisories(
        &self,
        model: &ModelId,
        trust: &Trust,
    ) -> Result<Vec<(AdvisoryEntry, Standing)>> {
        let publisher = self.model_publisher(model)?;
        let trusted = trust.hints().filter(|h| publisher.as_deref() != Some(*h));
        let keys = publisher
            .iter()
            .map(|h| (h.as_str(), Standing::Publisher))
            .chain(trusted.map(|h| (h, Standing::Trusted)));
        let mut out = Vec::new();
        for (hint, standing) in keys {
            let Some(h) = parse_hint(hint) else { continue };
            let Some(v) = self.get(
                schema::CF_ADVISORY_CURRENT,
                &key::pair(model.as_bytes(), &h),
            )?
            else {
                continue;
            };
            let at = PubId::from_bytes(&v)
                .ok_or_else(|| self.corrupt("standing advisory", "not 12 bytes"))?;
            if let Some(a) = self.advisory_at(at)? {
                out.push((a, standing));
            }
        }
        out.sort_by_key(|(a, _)| a.at);
        Ok(out)
    }

    /// The key hint of the publisher of `model`: the signer of its first
    /// publication. `None` when the model is not indexed. Reads only the
    /// `first` field of the model's entry (its manifest and leaves, which
    /// may be megabytes, are skipped, not decoded).
    pub fn model_publisher(&self, model: &ModelId) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct First {
            first: PubId,
        }
        let Some(m) = self.get_json::<First>(schema::CF_MODELS, model.as_bytes(), "model")? else {
            return Ok(None);
        };
        Ok(self.publication(m.first)?.map(|p| p.signer))
    }

    /// Whether `a` waits for its model: the model is not indexed yet.
    pub fn advisory_pending(&self, a: &AdvisoryEntry) -> Result<bool> {
        Ok(self
            .get(schema::CF_MODELS, a.model_id.as_bytes())?
            .is_none())
    }

    /// Whether `a` is believed about its model, and why.
    pub fn standing(&self, a: &AdvisoryEntry, trust: &Trust) -> Result<Standing> {
        Ok(
            if self.model_publisher(&a.model_id)?.as_deref() == Some(&a.signer) {
                Standing::Publisher
            } else if trust.trusts(&a.signer) {
                Standing::Trusted
            } else {
                Standing::ThirdParty
            },
        )
    }

    /// The model's own status: of its standing, believed advisories, the
    /// one whose status ranks first (revoked, compromised-key,
    /// poisoned-data, vulnerable, superseded), the latest among equals.
    /// `None` when no believed advisory stands.
    pub fn model_status(&self, model: &ModelId, trust: &Trust) -> Result<Option<ModelStatus>> {
        let mut best: Option<ModelStatus> = None;
        for (a, standing) in self.believed_advisories(model, trust)? {
            let better = best
                .as_ref()
                .is_none_or(|b| rank(a.status) <= rank(b.status));
            if better {
                best = Some(ModelStatus {
                    status: a.status,
                    advisory: a,
                    standing,
                });
            }
        }
        Ok(best)
    }

    /// The believed `poisoned-data` and `compromised-key` advisories of
    /// `model`'s ancestors that reach it: walking up only edges whose
    /// evidence is supported, breadth first (the shortest path to each
    /// ancestor), at most [`MAX_AFFECTED_WALK`] models.
    pub fn affected_through(&self, model: &ModelId, trust: &Trust) -> Result<Vec<Affected>> {
        let mut out = Vec::new();
        let mut came_from: HashMap<ModelId, ModelId> = HashMap::new();
        let mut seen: HashSet<ModelId> = HashSet::from([*model]);
        let mut todo = VecDeque::from([*model]);
        while let Some(m) = todo.pop_front() {
            if m != *model {
                for (a, standing) in self.believed_advisories(&m, trust)? {
                    if a.status.reaches_descendants() {
                        let mut path = vec![m];
                        let mut at = m;
                        while let Some(child) = came_from.get(&at) {
                            path.push(*child);
                            at = *child;
                        }
                        path.reverse();
                        out.push(Affected {
                            advisory: a,
                            standing,
                            path,
                        });
                    }
                }
            }
            for e in self.parents(&m)? {
                if !supported(&e.entry) || !seen.insert(e.parent) {
                    continue;
                }
                if seen.len() > MAX_AFFECTED_WALK {
                    return Ok(out);
                }
                came_from.insert(e.parent, m);
                todo.push_back(e.parent);
            }
        }
        Ok(out)
    }

    /// Advisories in the order they were read, after `after`; only those
    /// with `status` when given. Replaced and withdrawn ones included
    /// (their fields say so).
    pub fn advisories(
        &self,
        status: Option<Status>,
        after: Option<&str>,
        n: usize,
    ) -> Result<Page<AdvisoryEntry>> {
        self.filtered_page(
            schema::CF_ADVISORIES,
            after,
            n,
            "advisory",
            |a: &AdvisoryEntry| status.is_none_or(|s| a.status == s),
        )
    }

    /// Advisories read after `after` (exclusive), waiting until there is at
    /// least one when `wait` (the stream a subscription serves).
    pub async fn next_advisories(
        &self,
        after: Option<PubId>,
        n: usize,
        wait: bool,
    ) -> Result<Vec<AdvisoryEntry>> {
        let mut rx = self.watch_checkpoint();
        loop {
            let cur = after.map(|a| hex::encode(a.to_bytes()));
            let p = self.advisories(None, cur.as_deref(), n)?;
            if !p.items.is_empty() || !wait {
                return Ok(p.items);
            }
            if rx.changed().await.is_err() {
                return Ok(Vec::new());
            }
        }
    }
}

/// Whether a lineage edge carries an advisory: its parent is indexed and
/// the evidence shows shared tensors or leaves.
fn supported(e: &EdgeEntry) -> bool {
    e.status == EdgeStatus::Resolved && e.evidence.as_ref().is_some_and(|ev| ev.is_supported())
}
