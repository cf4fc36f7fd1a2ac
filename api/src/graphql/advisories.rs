//! Advisories in the schema: `Advisory`, a model's `status` (the believed
//! advisory that decides it), its `advisories` (third-party reports
//! included, marked) and what reaches it `affectedThrough` lineage.
//!
//! Belief is this node's: the model's publisher, and the keys of
//! `modelda node --trust-advisories-from`. A reader that does not trust
//! the node checks each advisory's `statement` (the signed bundle) itself.

use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use modelda_indexer::query::{Affected, ModelStatus as IndexStatus, Standing as IndexStanding};
use modelda_indexer::schema::AdvisoryEntry;
use modelda_wire::advisory::Status;

use super::api;
use super::types::{pub_id_text, Model};
use crate::error::ApiError;

/// What an advisory says of a model.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvisoryStatus {
    /// Do not use: the publisher takes it back.
    Revoked,
    /// The key that signed it is compromised.
    CompromisedKey,
    /// Trained on poisoned data.
    PoisonedData,
    /// A known vulnerability (see the details and severity).
    Vulnerable,
    /// A newer model replaces it (`supersededBy`).
    Superseded,
}

impl From<Status> for AdvisoryStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Revoked => AdvisoryStatus::Revoked,
            Status::CompromisedKey => AdvisoryStatus::CompromisedKey,
            Status::PoisonedData => AdvisoryStatus::PoisonedData,
            Status::Vulnerable => AdvisoryStatus::Vulnerable,
            Status::Superseded => AdvisoryStatus::Superseded,
        }
    }
}

impl From<AdvisoryStatus> for Status {
    fn from(s: AdvisoryStatus) -> Self {
        match s {
            AdvisoryStatus::Revoked => Status::Revoked,
            AdvisoryStatus::CompromisedKey => Status::CompromisedKey,
            AdvisoryStatus::PoisonedData => Status::PoisonedData,
            AdvisoryStatus::Vulnerable => Status::Vulnerable,
            AdvisoryStatus::Superseded => Status::Superseded,
        }
    }
}

/// Whether an advisory is believed about its model, and why.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvisoryStanding {
    /// Its key published the model (signed its first publication).
    Publisher,
    /// This node trusts its key (`--trust-advisories-from`).
    Trusted,
    /// Neither: a third-party report, shown apart, deciding nothing.
    ThirdParty,
}

impl From<IndexStanding> for AdvisoryStanding {
    fn from(s: IndexStanding) -> Self {
        match s {
            IndexStanding::Publisher => AdvisoryStanding::Publisher,
            IndexStanding::Trusted => AdvisoryStanding::Trusted,
            IndexStanding::ThirdParty => AdvisoryStanding::ThirdParty,
        }
    }
}

/// A signed advisory about a model, or its withdrawal.
#[derive(Clone)]
pub struct Advisory(pub AdvisoryEntry);

#[Object]
impl Advisory {
    /// Its id (the OSV `id`, `x_MDA-...`).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The model it is about.
    async fn model_id(&self) -> ID {
        ID(self.0.model_id.to_hex())
    }

    /// The model, when indexed (an advisory may come before its model).
    async fn model(&self, ctx: &Context<'_>) -> Result<Option<Model>> {
        Ok(api(ctx).model(&self.0.model_id)?.map(Model))
    }

    /// What it says.
    async fn status(&self) -> AdvisoryStatus {
        self.0.status.into()
    }

    /// Whether `fetch --deny-advisories` refuses a model with this status
    /// (revoked, compromised-key, poisoned-data).
    async fn denies(&self) -> bool {
        self.0.status.denies()
    }

    /// Whether this node believes it about its model, and why.
    async fn standing(&self, ctx: &Context<'_>) -> Result<AdvisoryStanding> {
        let a = api(ctx);
        Ok(a.index()
            .standing(&self.0, a.advisory_trust())
            .map_err(ApiError::from)?
            .into())
    }

    /// Hint of the signing key (hex SHA-256 of its PEM).
    async fn signer_key(&self) -> &str {
        &self.0.signer
    }

    /// The signing key (PEM).
    async fn public_key(&self) -> &str {
        &self.0.public_key
    }

    /// One line.
    async fn summary(&self) -> Option<&str> {
        self.0.osv.summary.as_deref()
    }

    /// The details (Markdown, as OSV says).
    async fn details(&self) -> Option<&str> {
        self.0.osv.details.as_deref()
    }

    /// The CVSS vector, when given.
    async fn severity(&self) -> Option<&str> {
        self.0.osv.severity.first().map(|s| s.score.as_str())
    }

    /// Reference URLs.
    async fn references(&self) -> Vec<&str> {
        self.0
            .osv
            .references
            .iter()
            .map(|r| r.url.as_str())
            .collect()
    }

    /// The successor, for `SUPERSEDED`.
    async fn superseded_by(&self) -> Option<ID> {
        self.0.superseded_by.map(|m| ID(m.to_hex()))
    }

    /// When it was published (RFC 3339, as signed).
    async fn published(&self) -> Option<&str> {
        self.0.osv.published.as_deref()
    }

    /// When its withdrawal says it was withdrawn.
    async fn withdrawn(&self) -> Option<&str> {
        self.0.withdrawn.as_deref()
    }

    /// Whether it stands: neither replaced by a later advisory of its key
    /// nor withdrawn.
    async fn stands(&self) -> bool {
        self.0.stands()
    }

    /// The later advisory of the same key that replaces it (where it was
    /// read: `HEIGHT.INDEX`).
    async fn replaced_by(&self) -> Option<String> {
        self.0.replaced_by.map(pub_id_text)
    }

    /// Whether its model is not indexed yet.
    async fn pending(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(api(ctx)
            .index()
            .advisory_pending(&self.0)
            .map_err(ApiError::from)?)
    }

    /// Where it was read (`HEIGHT.INDEX`).
    async fn read_at(&self) -> String {
        pub_id_text(self.0.at)
    }

    /// Its blob's locator.
    async fn locator(&self) -> &str {
        &self.0.locator
    }

    /// The OSV 1.7 document, as signed.
    async fn osv(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::to_value(&self.0.osv).unwrap_or_default())
    }

    /// The signed statement (a Sigstore bundle's JSON), to check without
    /// trusting this node: its DSSE signature, with the key it carries.
    async fn statement(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(api(ctx)
            .index()
            .statement(self.0.at)
            .map_err(ApiError::from)?
            .unwrap_or_default())
    }

    /// The signed withdrawal, when withdrawn.
    async fn withdrawal(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match self.0.withdrawn_by {
            Some(w) => Ok(api(ctx).index().statement(w).map_err(ApiError::from)?),
            None => Ok(None),
        }
    }
}

/// A model's status: the believed advisory that decides it.
#[derive(SimpleObject, Clone)]
pub struct ModelStatus {
    /// What it says.
    pub status: AdvisoryStatus,
    /// Whether `--deny-advisories` refuses it.
    pub denies: bool,
    /// Why it is believed.
    pub standing: AdvisoryStanding,
    /// The advisory.
    pub advisory: Advisory,
}

impl From<IndexStatus> for ModelStatus {
    fn from(s: IndexStatus) -> Self {
        ModelStatus {
            status: s.status.into(),
            denies: s.status.denies(),
            standing: s.standing.into(),
            advisory: Advisory(s.advisory),
        }
    }
}

/// An ancestor's advisory that reaches a model through lineage.
#[derive(SimpleObject, Clone)]
pub struct AffectedThrough {
    /// The ancestor's advisory (poisoned-data or compromised-key).
    pub advisory: Advisory,
    /// Why it is believed (about the ancestor).
    pub standing: AdvisoryStanding,
    /// The model ids from this model up to the ancestor, both included;
    /// every edge on it shares tensors or leaves.
    pub path: Vec<ID>,
}

impl From<Affected> for AffectedThrough {
    fn from(a: Affected) -> Self {
        AffectedThrough {
            advisory: Advisory(a.advisory),
            standing: a.standing.into(),
            path: a.path.into_iter().map(|m| ID(m.to_hex())).collect(),
        }
    }
}
