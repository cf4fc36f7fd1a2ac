//! Model card metadata: the YAML front matter of a Hugging Face `README.md`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The model card fields modelda commits to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Hugging Face `base_model`: the repositories this model derives from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_model: Vec<String>,
    /// Hugging Face `base_model_relation` (`adapter`, `merge`, `quantized`, `finetune`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_relation: Option<String>,
    /// Hugging Face `datasets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// `license`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

impl ModelCard {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &ModelCard::default()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct RawCard {
    base_model: Option<OneOrMany>,
    base_model_relation: Option<String>,
    datasets: Option<OneOrMany>,
    license: Option<String>,
}

/// Parses the front matter of the model card text `text` read from `path`.
///
/// No front matter gives an empty card. Front matter that opens with `---`
/// but never closes, is not a YAML mapping, or gives a field the wrong type
/// is an error naming the line.
pub fn parse(path: &Path, text: &str) -> Result<ModelCard> {
    let bad = |line: Option<usize>, reason: String| Error::FrontMatter {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    match lines.next() {
        Some(first) if first.trim_end() == "---" => {}
        _ => return Ok(ModelCard::default()),
    }
    let mut yaml = String::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            closed = true;
            break;
        }
        yaml.push_str(line);
    }
    if !closed {
        return Err(bad(
            Some(1),
            "the opening '---' has no closing '---'".into(),
        ));
    }
    if yaml.trim().is_empty() {
        return Ok(ModelCard::default());
    }
    let value: serde_norway::Value = serde_norway::from_str(&yaml).map_err(|e| {
        // The YAML starts on line 2 of the file.
        bad(e.location().map(|l| l.line() + 1), e.to_string())
    })?;
    if !value.is_mapping() {
        return Err(bad(
            Some(2),
            "front matter must be a YAML mapping of keys to values".into(),
        ));
    }
    let raw: RawCard = serde_norway::from_value(value).map_err(|e| bad(None, e.to_string()))?;
    let relation = raw.base_model_relation;
    if let Some(r) = &relation {
        if !["adapter", "merge", "quantized", "finetune"].contains(&r.as_str()) {
            return Err(bad(
                None,
                format!(
                    "base_model_relation {r:?} is not one of adapter, merge, quantized, finetune"
                ),
            ));
        }
    }
    Ok(ModelCard {
        base_model: raw.base_model.map(OneOrMany::into_vec).unwrap_or_default(),
        base_model_relation: relation,
        datasets: raw.datasets.map(OneOrMany::into_vec).unwrap_or_default(),
        license: raw.license,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hugging_face_front_matter() {
        let text = "---\nlicense: apache-2.0\nbase_model: org/base\nbase_model_relation: finetune\ndatasets:\n  - a/b\n  - c/d\ntags: [x]\n---\n# Model\n";
        let c = parse(Path::new("README.md"), text).unwrap();
        assert_eq!(c.base_model, vec!["org/base"]);
        assert_eq!(c.datasets.len(), 2);
        assert_eq!(c.license.as_deref(), Some("apache-2.0"));
        assert!(parse(Path::new("README.md"), "# no front matter\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rejects_malformed_front_matter() {
        let p = Path::new("README.md");
        assert!(parse(p, "---\nlicense: x\n").is_err());
        assert!(parse(p, "---\nlicense: [unclosed\n---\n").is_err());
        assert!(parse(p, "---\n- a\n- b\n---\n").is_err());
        assert!(parse(p, "---\nbase_model: {a: 1}\n---\n").is_err());
        assert!(parse(p, "---\nbase_model_relation: cousin\n---\n").is_err());
    }
}
