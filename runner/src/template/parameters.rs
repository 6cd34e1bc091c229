//! Template parameters (defaults, overrides, allowed values) and pseudo parameters.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::{TemplateError, invalid};
use super::intrinsics::scalar_string;

/// The deployment facts a real stack would supply.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    pub parameter_overrides: BTreeMap<String, String>,
}

const PARAMETER_KEYS: &[&str] = &[
    "Type",
    "Default",
    "Description",
    "AllowedValues",
    "AllowedPattern",
    "NoEcho",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "ConstraintDescription",
];

pub(super) fn parameters(
    section: Option<&Value>,
    settings: &Settings,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let mut out = BTreeMap::new();
    let declared = section
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for name in settings.parameter_overrides.keys() {
        if !declared.contains_key(name) {
            return Err(invalid(
                format!("--parameter-overrides {name}"),
                "the template declares no such parameter",
            ));
        }
    }
    for (name, decl) in &declared {
        let at = format!("parameter {name}");
        if let Some(key) = decl
            .as_object()
            .and_then(|d| d.keys().find(|k| !PARAMETER_KEYS.contains(&k.as_str())))
        {
            return Err(invalid(format!("{at}, key {key}"), "is unknown"));
        }
        let kind = decl["Type"].as_str().unwrap_or("String");
        let raw = match settings.parameter_overrides.get(name) {
            Some(v) => v.clone(),
            None => scalar_string(&decl["Default"]).ok_or_else(|| {
                invalid(&at, "has no Default; give it with --parameter-overrides")
            })?,
        };
        // A NoEcho value (a secret) is never repeated in an error.
        let shown = if decl["NoEcho"] == true || decl["NoEcho"] == "true" {
            "the value".to_owned()
        } else {
            format!("{raw:?}")
        };
        if let Some(allowed) = decl["AllowedValues"].as_array()
            && !allowed
                .iter()
                .any(|a| scalar_string(a).as_deref() == Some(&raw))
        {
            return Err(invalid(
                &at,
                format!("{shown} is not one of its AllowedValues"),
            ));
        }
        let list = matches!(kind, "CommaDelimitedList" | "List<Number>");
        check_pattern(decl, &raw, list, &shown, &at)?;
        check_bounds(decl, &raw, &at)?;
        let value = match kind {
            "String" => Value::String(raw),
            "Number" => {
                raw.parse::<f64>()
                    .map_err(|_| invalid(&at, format!("{shown} is not a Number")))?;
                Value::String(raw)
            }
            "CommaDelimitedList" | "List<Number>" => Value::Array(
                raw.split(',')
                    .map(|s| Value::String(s.trim().to_owned()))
                    .collect(),
            ),
            other => {
                return Err(invalid(
                    format!("{at}, key Type"),
                    format!("type {other} has no local value; use String"),
                ));
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

pub(super) fn pseudo_parameters(settings: &Settings) -> BTreeMap<String, Value> {
    let s = |v: &str| Value::String(v.to_owned());
    let stack_id = format!(
        "arn:aws:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
        settings.region, settings.account_id, settings.stack_name
    );
    BTreeMap::from([
        ("AWS::Region".to_owned(), s(&settings.region)),
        ("AWS::AccountId".to_owned(), s(&settings.account_id)),
        ("AWS::StackName".to_owned(), s(&settings.stack_name)),
        ("AWS::StackId".to_owned(), s(&stack_id)),
        ("AWS::Partition".to_owned(), s("aws")),
        ("AWS::URLSuffix".to_owned(), s("amazonaws.com")),
        ("AWS::NotificationARNs".to_owned(), Value::Array(Vec::new())),
    ])
}

/// CloudFormation's AllowedPattern, which must match the whole value (each item, for
/// a list). CloudFormation uses Java's regular expressions; a pattern this engine
/// cannot read (a look-around or a back-reference, say) stops the runner rather than
/// go unchecked.
fn check_pattern(
    decl: &Value,
    raw: &str,
    list: bool,
    shown: &str,
    at: &str,
) -> Result<(), TemplateError> {
    let Some(pattern) = scalar_string(&decl["AllowedPattern"]) else {
        return Ok(());
    };
    let unreadable = |e: regex::Error| {
        invalid(
            format!("{at}, key AllowedPattern"),
            format!("the runner cannot check this pattern: {e}"),
        )
    };
    // Read alone first, so that an unbalanced pattern cannot escape the anchors.
    regex::Regex::new(&pattern).map_err(unreadable)?;
    let whole = regex::Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(unreadable)?;
    let matches = if list {
        raw.split(',').all(|item| whole.is_match(item.trim()))
    } else {
        whole.is_match(raw)
    };
    if matches {
        Ok(())
    } else {
        Err(invalid(
            at,
            format!("{shown} does not match its AllowedPattern"),
        ))
    }
}

/// CloudFormation's MinLength/MaxLength/MinValue/MaxValue, which a deploy would
/// enforce too.
fn check_bounds(decl: &Value, raw: &str, at: &str) -> Result<(), TemplateError> {
    let bound = |key: &str| scalar_string(&decl[key]).and_then(|s| s.parse::<f64>().ok());
    let length = raw.chars().count() as f64;
    let number = raw.parse::<f64>().ok();
    let failed = if bound("MinLength").is_some_and(|min| length < min) {
        Some("is shorter than its MinLength")
    } else if bound("MaxLength").is_some_and(|max| length > max) {
        Some("is longer than its MaxLength")
    } else if bound("MinValue").is_some_and(|min| number.is_some_and(|n| n < min)) {
        Some("is below its MinValue")
    } else if bound("MaxValue").is_some_and(|max| number.is_some_and(|n| n > max)) {
        Some("is above its MaxValue")
    } else {
        None
    };
    match failed {
        // The value itself is not echoed: it may be a NoEcho secret.
        Some(reason) => Err(invalid(at, format!("the value {reason}"))),
        None => Ok(()),
    }
}
