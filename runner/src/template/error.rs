//! Why a template cannot be served: every refusal names the resource and the key.

use std::path::PathBuf;

/// Why a template cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("{at}: {reason}")]
    Invalid { at: String, reason: String },
}

/// Refuses the first key of `map` that is not `allowed`, at `{at}.{key}`.
pub(super) fn only_keys(
    map: &serde_json::Map<String, serde_json::Value>,
    allowed: &[&str],
    at: &str,
    reason: &str,
) -> Result<(), TemplateError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(invalid(format!("{at}.{key}"), reason)),
        None => Ok(()),
    }
}

pub(super) fn invalid(at: impl Into<String>, reason: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}
