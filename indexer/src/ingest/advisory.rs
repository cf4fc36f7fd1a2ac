//! The handler of advisories (statements of type
//! [`ADVISORY_PREDICATE_TYPE`](modelda_wire::advisory::ADVISORY_PREDICATE_TYPE)):
//! checked with [`modelda_wire::advisory::parse`], then kept per model, per
//! id and per (model, key).
//!
//! What the index keeps is a function of the layer's data alone:
//! - the first advisory with an id owns it; the same id again (the same
//!   key, since the id covers the key) is a repost;
//! - from one key about one model, a later advisory replaces the earlier
//!   one (`replaced_by`), so each key has at most one standing advisory per
//!   model;
//! - a withdrawal retracts the advisory it names, only when signed by that
//!   advisory's key and about the same model (else `advisory_withdrawal`);
//! - an advisory about a model not indexed yet is kept like any other: it
//!   is *pending* (a reader's view, [`crate::Index::advisory_pending`]) until the
//!   model's first record comes.
//!
//! Who is *believed* (the signer published or attested the model, or the
//! reader trusts the key) is not decided here: it changes with later
//! records and with the reader, so [`crate::query`] decides it when asked.

use modelda_da::Locator;
use modelda_manifest::ModelId;
use modelda_wire::advisory::{self, Advisory};

use super::{hint_bytes, reject, HeightReport, Read};
use crate::reject::{refused, Code};
use crate::schema::{self, key, AdvisoryEntry, PubId};
use crate::store::Overlay;
use crate::Result;

/// An advisory that checked, with its signed bundle as read.
pub struct Opened {
    /// The parsed advisory.
    pub advisory: Advisory,
    /// The bundle (the envelope's payload), kept for readers to check.
    pub bundle: Vec<u8>,
}

/// Checks the payload of a statement envelope about `model` as an
/// advisory.
pub(super) fn read(model: &ModelId, payload: &[u8]) -> Read {
    match advisory::parse(model, payload) {
        Ok(advisory) => Read::Advisory(Box::new(Opened {
            advisory,
            bundle: payload.to_vec(),
        })),
        Err(r) => {
            let (code, message) = refused(r);
            Read::Reject(code, message)
        }
    }
}

/// Indexes the advisory (or withdrawal) read at `at`.
pub(super) fn apply(
    ov: &mut Overlay<'_>,
    at: PubId,
    locator: &Locator,
    opened: &Opened,
    report: &mut HeightReport,
) -> Result<()> {
    let a = &opened.advisory;
    let id = a.id().to_string();
    let known: Option<AdvisoryEntry> = match ov.get(schema::CF_ADVISORY_IDS, id.as_bytes())? {
        Some(v) => {
            let first = PubId::from_bytes(&v)
                .ok_or_else(|| ov.index().corrupt("advisory id", "not 12 bytes"))?;
            Some(
                ov.get_json(schema::CF_ADVISORIES, &first.to_bytes(), "advisory")?
                    .ok_or_else(|| {
                        ov.index()
                            .corrupt("advisory", format!("{id} at {first} is missing"))
                    })?,
            )
        }
        None => None,
    };
    if a.predicate.withdraws.is_some() {
        return withdraw(ov, at, locator, opened, known, report);
    }
    if known.is_some() {
        // The id covers the content and the key: the same advisory again.
        ov.count("advisory_reposts", 1)?;
        report.reposts += 1;
        return Ok(());
    }
    let model = a.model;
    let hint = a.key.hint();
    let osv = &a.predicate.osv;
    let entry = AdvisoryEntry {
        at,
        id: id.clone(),
        model_id: model,
        signer: hint.clone(),
        public_key: a.predicate.public_key.clone(),
        status: osv.database_specific.status,
        superseded_by: osv.database_specific.superseded_by,
        locator: locator.to_string(),
        osv: osv.clone(),
        replaced_by: None,
        withdrawn_by: None,
        withdrawn: None,
    };
    // The key's earlier advisory about this model, replaced.
    let current = key::pair(model.as_bytes(), &hint_bytes(&hint));
    if let Some(prev) = ov.get(schema::CF_ADVISORY_CURRENT, &current)? {
        let prev = PubId::from_bytes(&prev)
            .ok_or_else(|| ov.index().corrupt("standing advisory", "not 12 bytes"))?;
        let mut p: AdvisoryEntry = ov
            .get_json(schema::CF_ADVISORIES, &prev.to_bytes(), "advisory")?
            .ok_or_else(|| ov.index().corrupt("advisory", format!("{prev} is missing")))?;
        p.replaced_by = Some(at);
        ov.put_json(schema::CF_ADVISORIES, &prev.to_bytes(), &p);
    }
    ov.put(
        schema::CF_ADVISORY_CURRENT,
        &current,
        at.to_bytes().to_vec(),
    );
    ov.put_json(schema::CF_ADVISORIES, &at.to_bytes(), &entry);
    ov.put(
        schema::CF_ADVISORY_IDS,
        id.as_bytes(),
        at.to_bytes().to_vec(),
    );
    ov.put(
        schema::CF_MODEL_ADVISORIES,
        &key::model_pub(model.as_bytes(), at),
        Vec::new(),
    );
    ov.put_blind(schema::CF_STATEMENTS, &at.to_bytes(), opened.bundle.clone());
    ov.count("advisories", 1)?;
    report.advisories.push(id);
    Ok(())
}

/// A withdrawal: only of an indexed advisory, by its key, of its model.
fn withdraw(
    ov: &mut Overlay<'_>,
    at: PubId,
    locator: &Locator,
    opened: &Opened,
    known: Option<AdvisoryEntry>,
    report: &mut HeightReport,
) -> Result<()> {
    let a = &opened.advisory;
    let id = a.id();
    let hint = a.key.hint();
    let Some(mut entry) = known else {
        let message = format!(
            "withdraws {id}, which this index does not hold (an advisory is withdrawn \
             after it is posted, by the key that signed it)"
        );
        return reject(ov, at, locator, Code::AdvisoryWithdrawal, message, report);
    };
    if entry.signer != hint {
        let message = format!(
            "withdraws {id}, signed by key {}, with key {hint}: only the key that signed \
             an advisory may withdraw it",
            entry.signer
        );
        return reject(ov, at, locator, Code::AdvisoryWithdrawal, message, report);
    }
    if entry.model_id != a.model {
        let message = format!(
            "withdraws {id}, which is about model {}, as if it were about {}",
            entry.model_id, a.model
        );
        return reject(ov, at, locator, Code::AdvisoryWithdrawal, message, report);
    }
    if entry.withdrawn_by.is_some() {
        ov.count("advisory_reposts", 1)?;
        report.reposts += 1;
        return Ok(());
    }
    entry.withdrawn_by = Some(at);
    entry.withdrawn = a.predicate.osv.withdrawn.clone();
    ov.put_json(schema::CF_ADVISORIES, &entry.at.to_bytes(), &entry);
    let current = key::pair(entry.model_id.as_bytes(), &hint_bytes(&hint));
    if ov.get(schema::CF_ADVISORY_CURRENT, &current)?.as_deref() == Some(&entry.at.to_bytes()[..]) {
        ov.delete(schema::CF_ADVISORY_CURRENT, &current);
    }
    ov.put_blind(schema::CF_STATEMENTS, &at.to_bytes(), opened.bundle.clone());
    ov.count("withdrawals", 1)?;
    report.withdrawals.push(id.to_string());
    Ok(())
}
