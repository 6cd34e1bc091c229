//! CloudFormation intrinsic functions (`!Ref`, `!Sub`, `!GetAtt`, `!Join`, `!Select`,
//! `!Split`) and pseudo parameters, resolved against values the runner knows locally.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

use super::error::TemplateError;

/// Turns YAML into JSON, rewriting the short tag forms (`!Ref x`, `!Sub s`) into the
/// long forms (`{"Ref": x}`, `{"Fn::Sub": s}`) so that one resolver handles both.
pub(crate) fn yaml_to_json(value: Yaml) -> Value {
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (key_string(k), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" || name == "Condition" {
                name.to_owned()
            } else {
                format!("Fn::{name}")
            };
            let mut map = Map::new();
            map.insert(key, yaml_to_json(tagged.value));
            Value::Object(map)
        }
    }
}

fn key_string(key: Yaml) -> String {
    match key {
        Yaml::String(s) => s,
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// What a `!Ref` or `!GetAtt` to a resource of the template resolves to.
#[derive(Debug, Clone)]
pub(crate) struct ResourceInfo {
    pub(crate) kind: String,
    /// The name and ARN, for functions only.
    pub(crate) function: Option<(String, String)>,
    /// `StageName`, for API resources that set one.
    pub(crate) stage: Option<String>,
    /// The API's own CORS settings, for API resources that set them (`Some(None)`:
    /// turned off, whatever the Globals say).
    pub(crate) cors: Option<Option<std::sync::Arc<super::cors::CorsSpec>>>,
    /// The API's own `Auth`, for HTTP API resources that set it.
    pub(crate) auth: Option<std::sync::Arc<super::auth::ApiAuth>>,
}

/// Everything a reference can point at.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub(crate) parameters: BTreeMap<String, Value>,
    pub(crate) pseudo: BTreeMap<String, Value>,
    pub(crate) resources: BTreeMap<String, ResourceInfo>,
    /// `Globals.Api.StageName` and `Globals.HttpApi.StageName`, by resource type.
    pub(crate) global_stages: BTreeMap<String, String>,
    /// `Globals.Api.Cors` and `Globals.HttpApi.CorsConfiguration`, by resource type.
    pub(crate) global_cors: BTreeMap<String, std::sync::Arc<super::cors::CorsSpec>>,
    /// The Globals' `Auth`, by API kind.
    pub(crate) global_auth: BTreeMap<String, std::sync::Arc<super::auth::ApiAuth>>,
}

fn invalid(at: &str, reason: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        at: at.to_owned(),
        reason: reason.into(),
    }
}

impl Scope {
    /// Resolves every intrinsic inside `value`. `None` means `AWS::NoValue`: the caller
    /// drops the key, as CloudFormation does.
    pub(crate) fn resolve(&self, value: &Value, at: &str) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(v) = self.resolve(item, &format!("{at}[{i}]"))? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                if key == "Ref" || key.starts_with("Fn::") || key == "Condition" {
                    return self.intrinsic(key, arg, &format!("{at}.{key}"));
                }
                self.resolve_map(map, at)
            }
            Value::Object(map) => self.resolve_map(map, at),
            other => Ok(Some(other.clone())),
        }
    }

    fn resolve_map(
        &self,
        map: &Map<String, Value>,
        at: &str,
    ) -> Result<Option<Value>, TemplateError> {
        let mut out = Map::new();
        for (k, v) in map {
            if let Some(v) = self.resolve(v, &format!("{at}.{k}"))? {
                out.insert(k.clone(), v);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn resolved(&self, value: &Value, at: &str) -> Result<Value, TemplateError> {
        self.resolve(value, at)?
            .ok_or_else(|| invalid(at, "AWS::NoValue cannot be used here"))
    }

    fn intrinsic(&self, name: &str, arg: &Value, at: &str) -> Result<Option<Value>, TemplateError> {
        match name {
            "Ref" => {
                let target = arg
                    .as_str()
                    .ok_or_else(|| invalid(at, "!Ref takes a name"))?;
                if target == "AWS::NoValue" {
                    return Ok(None);
                }
                self.reference(target, at).map(Some)
            }
            "Fn::Sub" => self.sub(arg, at).map(|s| Some(Value::String(s))),
            "Fn::GetAtt" => {
                let (resource, attribute) = match arg {
                    Value::String(s) => s.split_once('.').unwrap_or((s, "")),
                    Value::Array(parts) if parts.len() == 2 => (
                        parts[0].as_str().unwrap_or_default(),
                        parts[1].as_str().unwrap_or_default(),
                    ),
                    _ => return Err(invalid(at, "!GetAtt takes Resource.Attribute")),
                };
                self.attribute(resource, attribute, at).map(Some)
            }
            "Fn::Join" => {
                let parts = self.resolved(arg, at)?;
                let (delimiter, items) = match parts.as_array().map(Vec::as_slice) {
                    Some([Value::String(d), Value::Array(items)]) => (d.clone(), items.clone()),
                    _ => return Err(invalid(at, "!Join takes [delimiter, [values]]")),
                };
                let strings: Vec<String> =
                    items
                        .iter()
                        .map(scalar_string)
                        .collect::<Option<_>>()
                        .ok_or_else(|| invalid(at, "!Join joins only scalar values"))?;
                Ok(Some(Value::String(strings.join(&delimiter))))
            }
            "Fn::Select" => {
                let parts = self.resolved(arg, at)?;
                match parts.as_array().map(Vec::as_slice) {
                    Some([index, Value::Array(items)]) => {
                        let i = scalar_string(index).and_then(|s| s.parse::<usize>().ok());
                        i.and_then(|i| items.get(i).cloned())
                            .map(Some)
                            .ok_or_else(|| invalid(at, "!Select index is out of range"))
                    }
                    _ => Err(invalid(at, "!Select takes [index, [values]]")),
                }
            }
            "Fn::Split" => {
                let parts = self.resolved(arg, at)?;
                match parts.as_array().map(Vec::as_slice) {
                    Some([Value::String(d), Value::String(s)]) => Ok(Some(Value::Array(
                        s.split(d.as_str())
                            .map(|p| Value::String(p.to_owned()))
                            .collect(),
                    ))),
                    _ => Err(invalid(at, "!Split takes [delimiter, string]")),
                }
            }
            other => Err(invalid(
                at,
                format!("the intrinsic function {other} is not supported by the runner"),
            )),
        }
    }

    fn reference(&self, target: &str, at: &str) -> Result<Value, TemplateError> {
        if let Some(v) = self
            .parameters
            .get(target)
            .or_else(|| self.pseudo.get(target))
        {
            return Ok(v.clone());
        }
        match self.resources.get(target) {
            Some(ResourceInfo {
                function: Some((name, _)),
                ..
            }) => Ok(Value::String(name.clone())),
            Some(info) => Err(invalid(
                at,
                format!(
                    "!Ref {target} ({}) has no local value; pass the value as a parameter instead",
                    info.kind
                ),
            )),
            None => Err(invalid(
                at,
                format!("!Ref {target}: no such parameter or resource"),
            )),
        }
    }

    fn attribute(&self, resource: &str, attribute: &str, at: &str) -> Result<Value, TemplateError> {
        match (self.resources.get(resource), attribute) {
            (
                Some(ResourceInfo {
                    function: Some((_, arn)),
                    ..
                }),
                "Arn",
            ) => Ok(Value::String(arn.clone())),
            (Some(info), _) => Err(invalid(
                at,
                format!(
                    "!GetAtt {resource}.{attribute} ({}) has no local value",
                    info.kind
                ),
            )),
            (None, _) => Err(invalid(at, format!("!GetAtt {resource}: no such resource"))),
        }
    }

    fn sub(&self, arg: &Value, at: &str) -> Result<String, TemplateError> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(s), Value::Object(vars)] => {
                    let mut resolved = Map::new();
                    for (k, v) in vars {
                        resolved.insert(k.clone(), self.resolved(v, &format!("{at}.{k}"))?);
                    }
                    (s.as_str(), resolved)
                }
                _ => return Err(invalid(at, "!Sub takes a string or [string, {variables}]")),
            },
            _ => return Err(invalid(at, "!Sub takes a string or [string, {variables}]")),
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| invalid(at, "!Sub has an unclosed ${"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = match vars.get(name) {
                    Some(v) => v.clone(),
                    None => match name.split_once('.') {
                        Some((res, attr)) if !self.parameters.contains_key(name) => {
                            self.attribute(res, attr, at)?
                        }
                        _ => self.reference(name, at)?,
                    },
                };
                out.push_str(&scalar_string(&value).ok_or_else(|| {
                    invalid(at, format!("!Sub ${{{name}}} is not a scalar value"))
                })?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A scalar as CloudFormation writes it into a string.
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(scalar_string)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}
