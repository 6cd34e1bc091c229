//! Loads an AWS SAM template into the functions and routes the runner serves.
//!
//! Anything the runner cannot honour is an error naming the resource and the key;
//! keys with no effect on one machine (IAM, tags, architectures …) are accepted and
//! listed in the README.

mod events;
mod function;
mod intrinsics;
mod parameters;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use function::{EventSpec, FunctionSpec, PayloadVersion};
use intrinsics::{ResourceInfo, Scope, yaml_to_json};
use parameters::{parameters, pseudo_parameters};

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

/// The deployment facts a real stack would supply.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    pub parameter_overrides: BTreeMap<String, String>,
}

/// What the runner serves from a template.
#[derive(Debug)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    /// Resources that are not functions, as (logical id, type): left to the developer.
    pub other_resources: Vec<(String, String)>,
}

const TOP_LEVEL: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Transform",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Globals",
    "Resources",
    "Outputs",
];

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// Reads and interprets the template at `path`; `CodeUri`s are relative to its folder.
pub fn load(path: &Path, settings: &Settings) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base, settings)
}

/// Interprets template text.
pub fn parse(text: &str, base: &Path, settings: &Settings) -> Result<Template, TemplateError> {
    let root = yaml_to_json(serde_yaml_ng::from_str(text)?);
    let root = root
        .as_object()
        .ok_or_else(|| invalid("template", "is not a mapping"))?;
    if let Some(key) = root.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(invalid(
            format!("template key {key}"),
            "is not a template section",
        ));
    }
    let empty = Map::new();
    let resources = match root.get("Resources") {
        Some(Value::Object(map)) => map,
        _ => {
            return Err(invalid(
                "Resources",
                "the template has no Resources mapping",
            ));
        }
    };
    let mut scope = Scope {
        parameters: parameters(root.get("Parameters"), settings)?,
        pseudo: pseudo_parameters(settings),
        resources: BTreeMap::new(),
        global_stages: BTreeMap::new(),
    };
    for section in ["Api", "HttpApi"] {
        let settings = &root.get("Globals").cloned().unwrap_or_default()[section];
        let at = format!("Globals, key {section}");
        if let Some(stage) = string_property(settings, "StageName", &at, &scope)? {
            scope
                .global_stages
                .insert(format!("AWS::Serverless::{section}"), stage);
        }
    }
    let partition = "aws";
    let mut infos = Vec::new();
    for (id, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
        let (properties, at) = (
            &resource["Properties"],
            format!("resource {id}, key Properties"),
        );
        let stage = if matches!(
            kind.as_str(),
            "AWS::Serverless::Api" | "AWS::Serverless::HttpApi"
        ) {
            string_property(properties, "StageName", &at, &scope)?
        } else {
            None
        };
        let function = if kind == function::FUNCTION_TYPE {
            // Names are often built from parameters (`!Sub ${AWS::StackName}-orders`);
            // other resources are not known yet, so they cannot appear here.
            let name = string_property(properties, "FunctionName", &at, &scope)?
                .unwrap_or_else(|| id.clone());
            let arn = format!(
                "arn:{partition}:lambda:{}:{}:function:{name}",
                settings.region, settings.account_id
            );
            Some((name, arn))
        } else {
            None
        };
        infos.push((
            id.clone(),
            ResourceInfo {
                kind,
                function,
                stage,
            },
        ));
    }
    scope.resources.extend(infos);
    let globals = globals(root.get("Globals"), &scope)?;
    let mut functions = Vec::new();
    let mut other_resources = Vec::new();
    for (id, resource) in resources {
        let resource = resource
            .as_object()
            .ok_or_else(|| invalid(format!("resource {id}"), "is not a mapping"))?;
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != function::FUNCTION_TYPE {
            check_api_resource(id, kind, resource)?;
            other_resources.push((id.clone(), kind.to_owned()));
            continue;
        }
        for key in resource.keys() {
            match key.as_str() {
                // Connectors only grant permissions.
                "Type"
                | "Properties"
                | "Metadata"
                | "DependsOn"
                | "DeletionPolicy"
                | "UpdateReplacePolicy"
                | "Connectors"
                | "IgnoreGlobals" => {}
                "Condition" => {
                    return Err(invalid(
                        format!("resource {id}, key Condition"),
                        "conditions are not supported by the runner",
                    ));
                }
                other => return Err(invalid(format!("resource {id}, key {other}"), "is unknown")),
            }
        }
        let at = format!("resource {id}, key Properties");
        // Merged before resolving, as SAM does before CloudFormation resolves, so
        // that a function's `!Ref AWS::NoValue` removes what its Globals set.
        let mut raw = without_ignored_globals(&globals, resource.get("IgnoreGlobals"))
            .map_err(|reason| invalid(format!("resource {id}, key IgnoreGlobals"), reason))?;
        merge(
            &mut raw,
            resource
                .get("Properties")
                .cloned()
                .unwrap_or(Value::Object(empty.clone())),
        );
        // An event's `ApiId`/`RestApiId` names an API resource, which has no value
        // of its own here: it is set aside from resolution and kept as that name.
        let api_refs = take_api_references(&mut raw);
        let mut properties = scope
            .resolve(&raw, &at)?
            .unwrap_or(Value::Object(empty.clone()));
        for (event, key, target) in api_refs {
            properties["Events"][&event]["Properties"][&key] = Value::String(target);
        }
        let (name, arn) = scope.resources[id].function.clone().expect("function");
        let metadata = resource.get("Metadata").cloned().unwrap_or(Value::Null);
        functions.push(function::build(
            id,
            name,
            arn,
            &properties,
            &metadata,
            base,
            &scope,
        )?);
    }
    Ok(Template {
        functions,
        other_resources,
    })
}

/// `properties[key]` resolved to a string, if present. Used before the resources are
/// known (names, stage names), so only parameters and pseudo parameters resolve.
fn string_property(
    properties: &Value,
    key: &str,
    at: &str,
    scope: &Scope,
) -> Result<Option<String>, TemplateError> {
    let Some(value) = properties.get(key) else {
        return Ok(None);
    };
    let at = format!("{at}.{key}");
    match scope.resolve(value, &at)? {
        Some(Value::String(text)) => Ok(Some(text)),
        None => Ok(None),
        Some(_) => Err(invalid(at, "must be a string")),
    }
}

/// Removes each event's `ApiId`/`RestApiId` given as `!Ref Api` (or a plain name)
/// from `properties`, returning (event, key, the API's logical id).
fn take_api_references(properties: &mut Value) -> Vec<(String, String, String)> {
    let mut taken = Vec::new();
    let Some(events) = properties.get_mut("Events").and_then(Value::as_object_mut) else {
        return taken;
    };
    for (event, spec) in events {
        let Some(props) = spec.get_mut("Properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for key in ["ApiId", "RestApiId"] {
            let target = match props.get(key) {
                Some(Value::String(name)) => name.clone(),
                Some(Value::Object(r)) if r.len() == 1 => match r.get("Ref") {
                    Some(Value::String(name)) => name.clone(),
                    _ => continue,
                },
                _ => continue,
            };
            props.remove(key);
            taken.push((event.clone(), key.to_owned(), target));
        }
    }
    taken
}

/// API resources are served by the runner itself, so their behaviour-changing keys
/// (authorizers, CORS, OpenAPI bodies …) must not pass unnoticed.
fn check_api_resource(
    id: &str,
    kind: &str,
    resource: &Map<String, Value>,
) -> Result<(), TemplateError> {
    if kind != "AWS::Serverless::HttpApi" && kind != "AWS::Serverless::Api" {
        return Ok(());
    }
    const HARMLESS: &[&str] = &[
        "Name",
        "Description",
        "Tags",
        "StageName",
        "AccessLogSettings",
        "DefaultRouteSettings",
        "RouteSettings",
        "FailOnWarnings",
        "DisableExecuteApiEndpoint",
        "Domain",
        "MethodSettings",
        "TracingEnabled",
        "EndpointConfiguration",
        "OpenApiVersion",
        "PropagateTags",
    ];
    let empty = Map::new();
    let props = resource
        .get("Properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    match props.keys().find(|k| !HARMLESS.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            format!("resource {id}, key Properties.{key}"),
            "is not supported by the runner",
        )),
        None => Ok(()),
    }
}

fn globals(section: Option<&Value>, scope: &Scope) -> Result<Value, TemplateError> {
    let Some(section) = section else {
        return Ok(Value::Object(Map::new()));
    };
    let map = section
        .as_object()
        .ok_or_else(|| invalid("Globals", "is not a mapping"))?;
    for (section, settings) in map {
        match section.as_str() {
            "Function" => {}
            // API settings, checked as an API resource's properties are.
            "Api" | "HttpApi" => {
                let kind = format!("AWS::Serverless::{section}");
                let mut resource = Map::new();
                resource.insert("Properties".into(), settings.clone());
                check_api_resource(&format!("Globals.{section}"), &kind, &resource)?;
            }
            other => {
                return Err(invalid(
                    format!("Globals, key {other}"),
                    "only Globals.Function, Api and HttpApi are supported by the runner",
                ));
            }
        }
    }
    // Checked here, resolved with each function's own properties once merged.
    match map.get("Function") {
        Some(function) => {
            scope.resolve(function, "Globals.Function")?;
            Ok(function.clone())
        }
        None => Ok(Value::Object(Map::new())),
    }
}

/// The Globals a function takes: all of them, none (`IgnoreGlobals: "*"`), or all but
/// the listed properties.
fn without_ignored_globals(globals: &Value, ignore: Option<&Value>) -> Result<Value, String> {
    let mut kept = globals.clone();
    match ignore {
        None => {}
        Some(Value::String(all)) if all == "*" => kept = Value::Object(Map::new()),
        Some(Value::Array(keys)) => {
            for key in keys {
                let key = key.as_str().ok_or("must list property names")?;
                if let Some(map) = kept.as_object_mut() {
                    map.remove(key);
                }
            }
        }
        Some(_) => return Err("must be \"*\" or a list of property names".into()),
    }
    Ok(kept)
}

/// An intrinsic function (`{"Ref": …}`, `{"Fn::Sub": …}`): a value, not a mapping.
fn is_intrinsic(map: &Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
}

/// SAM's rule for Globals: mappings merge key by key, anything else (an intrinsic
/// function included) is replaced.
fn merge(base: &mut Value, own: Value) {
    match (base, own) {
        (Value::Object(base), Value::Object(own)) if !is_intrinsic(base) && !is_intrinsic(&own) => {
            for (k, v) in own {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, own) => *base = own,
    }
}
