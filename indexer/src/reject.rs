//! Why a record is refused: stable reason codes that explorers list and
//! scripts match on. A code is never renamed or reused; new failures get
//! new codes.

use modelda_wire::Error as WireError;

/// A stable reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// Not an envelope, or a truncated one.
    EnvelopeMalformed,
    /// An envelope of a version this build does not read.
    EnvelopeVersion,
    /// An envelope whose payload does not match its digest.
    PayloadHash,
    /// A record page (root or numbered) that cannot be decoded.
    RecordMalformed,
    /// A record, page index or count larger than this build reads.
    TooLarge,
    /// A record of a version this build does not read.
    RecordVersion,
    /// A signature that does not verify, or a record not signed by the key
    /// its claims name.
    BadSignature,
    /// Claims whose model id is not the hash of their manifest.
    ModelIdMismatch,
    /// Claims that are otherwise invalid (a leaf list that does not
    /// combine to its file's root, a malformed manifest, ...).
    ClaimsInvalid,
    /// A record whose root page, statement or claims name different models.
    ModelMismatch,
    /// Counts (files, shard places, parity digests) that disagree with the
    /// manifest.
    CountMismatch,
    /// Stripe geometry out of range.
    Geometry,
    /// A structure that contradicts its manifest or itself (shard places
    /// outside the blob list, pages that are not the ones the index names).
    Inconsistent,
    /// A page on another layer than its root, or above its height.
    PagePlace,
    /// A page that is not on the layer.
    PageUnavailable,
    /// A model that names itself as its parent.
    LineageSelf,
    /// A lineage claim that would close a cycle.
    LineageCycle,
    /// A statement envelope whose bundle or statement cannot be read.
    StatementMalformed,
    /// A statement larger than this build reads.
    StatementTooLarge,
    /// An advisory over a size bound (payload, texts, references).
    AdvisoryTooLarge,
    /// An advisory whose statement or predicate cannot be decoded.
    AdvisoryMalformed,
    /// An advisory whose signature does not verify with the key it carries.
    AdvisorySignature,
    /// An advisory whose subject, predicate and envelope name different
    /// models.
    AdvisorySubject,
    /// An OSV document without its required fields, or out of shape.
    AdvisoryOsv,
    /// An advisory id that is not the one its content gives.
    AdvisoryId,
    /// A withdrawal of an advisory that is not indexed, of another model,
    /// or signed by another key than the advisory's.
    AdvisoryWithdrawal,
}

impl Code {
    /// Every code, in a fixed order.
    pub const ALL: [Code; 26] = [
        Code::EnvelopeMalformed,
        Code::EnvelopeVersion,
        Code::PayloadHash,
        Code::RecordMalformed,
        Code::TooLarge,
        Code::RecordVersion,
        Code::BadSignature,
        Code::ModelIdMismatch,
        Code::ClaimsInvalid,
        Code::ModelMismatch,
        Code::CountMismatch,
        Code::Geometry,
        Code::Inconsistent,
        Code::PagePlace,
        Code::PageUnavailable,
        Code::LineageSelf,
        Code::LineageCycle,
        Code::StatementMalformed,
        Code::StatementTooLarge,
        Code::AdvisoryTooLarge,
        Code::AdvisoryMalformed,
        Code::AdvisorySignature,
        Code::AdvisorySubject,
        Code::AdvisoryOsv,
        Code::AdvisoryId,
        Code::AdvisoryWithdrawal,
    ];

    /// The code as stored and served (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::EnvelopeMalformed => "envelope_malformed",
            Code::EnvelopeVersion => "envelope_version",
            Code::PayloadHash => "payload_hash",
            Code::RecordMalformed => "record_malformed",
            Code::TooLarge => "too_large",
            Code::RecordVersion => "record_version",
            Code::BadSignature => "bad_signature",
            Code::ModelIdMismatch => "model_id_mismatch",
            Code::ClaimsInvalid => "claims_invalid",
            Code::ModelMismatch => "model_mismatch",
            Code::CountMismatch => "count_mismatch",
            Code::Geometry => "geometry",
            Code::Inconsistent => "inconsistent",
            Code::PagePlace => "page_place",
            Code::PageUnavailable => "page_unavailable",
            Code::LineageSelf => "lineage_self",
            Code::LineageCycle => "lineage_cycle",
            Code::StatementMalformed => "statement_malformed",
            Code::StatementTooLarge => "statement_too_large",
            Code::AdvisoryTooLarge => "advisory_too_large",
            Code::AdvisoryMalformed => "advisory_malformed",
            Code::AdvisorySignature => "advisory_signature",
            Code::AdvisorySubject => "advisory_subject",
            Code::AdvisoryOsv => "advisory_osv",
            Code::AdvisoryId => "advisory_id",
            Code::AdvisoryWithdrawal => "advisory_withdrawal",
        }
    }

    /// The code named `s`.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What reading a record's failure means for the indexer.
#[derive(Debug)]
pub enum Verdict {
    /// The record is refused, for good: the same bytes on the same chain
    /// fail the same way for every reader.
    Reject(Code, String),
    /// The layer could not be read now (a network or node failure): the
    /// height is not written, and is read again.
    Retry(modelda_da::Error),
}

/// The code of a statement the wire checks refused (`statement_*`,
/// `advisory_*`); every such code is one of [`Code::ALL`].
pub fn refused(r: modelda_wire::advisory::Refused) -> (Code, String) {
    let code = Code::parse(r.code).unwrap_or(Code::StatementMalformed);
    (code, r.reason)
}

/// Sorts a failure to open a record into a rejection or a retry.
pub fn classify(e: WireError) -> Verdict {
    let code = match &e {
        WireError::MalformedEnvelope { .. } => Code::EnvelopeMalformed,
        WireError::UnsupportedVersion { .. } => Code::EnvelopeVersion,
        WireError::PayloadHash { .. } => Code::PayloadHash,
        WireError::Geometry { .. } => Code::Geometry,
        WireError::RecordMalformed { .. } => Code::RecordMalformed,
        WireError::RecordSignature { .. } => Code::BadSignature,
        WireError::RecordVersion { .. } => Code::RecordVersion,
        WireError::RecordTooLarge { .. } => Code::TooLarge,
        WireError::RecordModel { .. } => Code::ModelMismatch,
        WireError::RecordCount { .. } => Code::CountMismatch,
        WireError::RecordInconsistent { .. } => Code::Inconsistent,
        WireError::RecordPagePlace { .. } => Code::PagePlace,
        WireError::RecordClaims { cause, .. } => match **cause {
            modelda_manifest::Error::ModelIdMismatch { .. } => Code::ModelIdMismatch,
            modelda_manifest::Error::BadSignature { .. } | modelda_manifest::Error::Key { .. } => {
                Code::BadSignature
            }
            _ => Code::ClaimsInvalid,
        },
        _ => Code::Inconsistent,
    };
    Verdict::Reject(code, e.to_string())
}

/// Sorts a failure to read a record through the layer into a rejection or
/// a retry.
pub fn classify_read(e: modelda_da::Error) -> Verdict {
    match e {
        modelda_da::Error::Record(w) => classify(*w),
        // A page that is not where its locator says (pages are at or
        // below the root's height, so this holds for every reader), or
        // a locator the layer refuses.
        modelda_da::Error::NotFound { .. } | modelda_da::Error::Locator { .. } => {
            Verdict::Reject(Code::PageUnavailable, e.to_string())
        }
        e => Verdict::Retry(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
        }
        // Pinned: explorers and scripts match on these strings.
        assert_eq!(
            names.join(","),
            "envelope_malformed,envelope_version,payload_hash,record_malformed,too_large,\
             record_version,bad_signature,model_id_mismatch,claims_invalid,model_mismatch,\
             count_mismatch,geometry,inconsistent,page_place,page_unavailable,lineage_self,\
             lineage_cycle,statement_malformed,statement_too_large,advisory_too_large,\
             advisory_malformed,advisory_signature,advisory_subject,advisory_osv,advisory_id,\
             advisory_withdrawal"
        );
    }
}
