//! Lineage claims: which models this one derives from, and how.

use serde::{Deserialize, Serialize};

use crate::{Error, ModelId, Result};

/// How a model derives from a parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// Further training of all or some weights.
    Finetune,
    /// An adapter (LoRA, ...) applied on top of the parent.
    Adapter,
    /// The parent's weights at lower precision.
    Quantized,
    /// A merge of several parents.
    Merge,
    /// Trained to imitate the parent.
    Distill,
    /// Any other derivation.
    Other,
}

impl Relation {
    /// All relations.
    pub const ALL: [Relation; 6] = [
        Relation::Finetune,
        Relation::Adapter,
        Relation::Quantized,
        Relation::Merge,
        Relation::Distill,
        Relation::Other,
    ];

    /// The relation's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Finetune => "finetune",
            Relation::Adapter => "adapter",
            Relation::Quantized => "quantized",
            Relation::Merge => "merge",
            Relation::Distill => "distill",
            Relation::Other => "other",
        }
    }

    /// Stable code in the canonical encoding.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Relation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Relation::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::Lineage {
                input: s.to_string(),
                reason:
                    "relation must be one of finetune, adapter, quantized, merge, distill, other"
                        .into(),
            })
    }
}

/// A claim that this model derives from `parent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageClaim {
    /// The parent's model id.
    pub parent: ModelId,
    /// How this model derives from it.
    pub relation: Relation,
}

impl std::str::FromStr for LineageClaim {
    type Err = Error;
    /// Parses `MODEL_ID:relation` (the relation defaults to `finetune`).
    fn from_str(s: &str) -> Result<Self> {
        let (id, rel) = s.split_once(':').unwrap_or((s, "finetune"));
        let parent = id.parse::<ModelId>().map_err(|_| Error::Lineage {
            input: s.to_string(),
            reason: "expected MODEL_ID[:RELATION] with a 64-hex model id".into(),
        })?;
        Ok(LineageClaim {
            parent,
            relation: rel.parse()?,
        })
    }
}
