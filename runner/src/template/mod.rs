//! Loads an AWS SAM template into the functions and routes the runner serves.
//!
//! Anything the runner cannot honour is an error naming the resource and the key;
//! keys with no effect on one machine (IAM, tags, architectures …) are accepted and
//! listed in the README.

mod auth;
mod cors;
mod cron;
mod error;
mod events;
mod function;
mod function_url;
mod globals;
mod intrinsics;
mod lambda_authorizer;
mod parameters;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use auth::{Authorizer, AuthorizerEvent, JwtAuthorizer, LambdaAuthorizer, RouteAuth};
pub use cors::CorsSpec;
pub use error::TemplateError;
use error::invalid;
pub use events::{EventSpec, PayloadVersion};
pub use function::FunctionSpec;
pub use function_url::FunctionUrl;
use globals::{check_api_resource, globals, merge, without_ignored_globals};
use intrinsics::{ResourceInfo, Scope, yaml_to_json};
pub use parameters::Settings;
use parameters::{parameters, pseudo_parameters};
pub use schedule::{Expression, ScheduleSpec, scheduled_event};

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
    let resources = match root.get("Resources") {
        Some(Value::Object(map)) => map,
        _ => {
            return Err(invalid(
                "Resources",
                "the template has no Resources mapping",
            ));
        }
    };
    let scope = scope_of(root, resources, settings)?;
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
        if kind == function::FUNCTION_TYPE {
            functions.push(function_of(id, resource, &globals, &scope, base)?);
        } else {
            check_api_resource(id, kind, resource)?;
            other_resources.push((id.clone(), kind.to_owned()));
        }
    }
    Ok(Template {
        functions,
        other_resources,
    })
}

/// What intrinsic functions resolve against: parameters, pseudo parameters, the
/// Globals' stage names, and each resource's kind, function name and stage.
fn scope_of(
    root: &Map<String, Value>,
    resources: &Map<String, Value>,
    settings: &Settings,
) -> Result<Scope, TemplateError> {
    let mut scope = Scope {
        parameters: parameters(root.get("Parameters"), settings)?,
        pseudo: pseudo_parameters(settings),
        resources: BTreeMap::new(),
        global_stages: BTreeMap::new(),
        global_cors: BTreeMap::new(),
        global_auth: BTreeMap::new(),
    };
    for section in ["Api", "HttpApi"] {
        let settings = &root.get("Globals").cloned().unwrap_or_default()[section];
        let at = format!("Globals, key {section}");
        let kind = format!("AWS::Serverless::{section}");
        if let Some(stage) = string_property(settings, "StageName", &at, &scope)? {
            scope.global_stages.insert(kind.clone(), stage);
        }
        if let Some(Some(cors)) = cors_property(settings, &kind, &at, &scope)? {
            scope.global_cors.insert(kind.clone(), Arc::new(cors));
        }
    }
    let mut infos = Vec::new();
    for (id, resource) in resources {
        infos.push((id.clone(), resource_info(id, resource, &scope, settings)?));
    }
    scope.resources.extend(infos);
    // Authorizers name functions (`!GetAtt Fn.Arn`), known only now.
    let globals = root.get("Globals").cloned().unwrap_or_default();
    for section in ["Api", "HttpApi"] {
        let kind = format!("AWS::Serverless::{section}");
        let at = format!("Globals, key {section}");
        if let Some(auth) = auth::property(&globals[section], &kind, &at, &scope)? {
            scope.global_auth.insert(kind, Arc::new(auth));
        }
    }
    for (id, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if matches!(kind, "AWS::Serverless::Api" | "AWS::Serverless::HttpApi") {
            let at = format!("resource {id}, key Properties");
            let auth = auth::property(&resource["Properties"], kind, &at, &scope)?.map(Arc::new);
            if let Some(info) = scope.resources.get_mut(id) {
                info.auth = auth;
            }
        }
    }
    Ok(scope)
}

/// A resource's kind, and its stage (an API) or its name and ARN (a function).
fn resource_info(
    id: &str,
    resource: &Value,
    scope: &Scope,
    settings: &Settings,
) -> Result<ResourceInfo, TemplateError> {
    let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
    let (properties, at) = (
        &resource["Properties"],
        format!("resource {id}, key Properties"),
    );
    let (stage, cors) = if matches!(
        kind.as_str(),
        "AWS::Serverless::Api" | "AWS::Serverless::HttpApi"
    ) {
        (
            string_property(properties, "StageName", &at, scope)?,
            cors_property(properties, &kind, &at, scope)?.map(|own| own.map(Arc::new)),
        )
    } else {
        (None, None)
    };
    // Read once every resource is known: an authorizer names a function.
    let auth = None;
    let function = if kind == function::FUNCTION_TYPE {
        // Names are often built from parameters (`!Sub ${AWS::StackName}-orders`);
        // other resources are not known yet, so they cannot appear here.
        let name = string_property(properties, "FunctionName", &at, scope)?
            .unwrap_or_else(|| id.to_owned());
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            settings.region, settings.account_id
        );
        Some((name, arn))
    } else {
        None
    };
    Ok(ResourceInfo {
        kind,
        function,
        stage,
        cors,
        auth,
    })
}

/// One `AWS::Serverless::Function`: its keys checked, its Globals merged in,
/// its properties resolved.
fn function_of(
    id: &str,
    resource: &Map<String, Value>,
    globals: &Value,
    scope: &Scope,
    base: &Path,
) -> Result<FunctionSpec, TemplateError> {
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
    let empty = || Value::Object(Map::new());
    // Merged before resolving, as SAM does before CloudFormation resolves, so
    // that a function's `!Ref AWS::NoValue` removes what its Globals set.
    let mut raw = without_ignored_globals(globals, resource.get("IgnoreGlobals"))
        .map_err(|reason| invalid(format!("resource {id}, key IgnoreGlobals"), reason))?;
    merge(
        &mut raw,
        resource.get("Properties").cloned().unwrap_or_else(empty),
    );
    // An event's `ApiId`/`RestApiId` names an API resource, which has no value
    // of its own here: it is set aside from resolution and kept as that name.
    let api_refs = take_api_references(&mut raw);
    let mut properties = scope.resolve(&raw, &at)?.unwrap_or_else(empty);
    for (event, key, target) in api_refs {
        properties["Events"][&event]["Properties"][&key] = Value::String(target);
    }
    let (name, arn) = scope.resources[id].function.clone().expect("function");
    let metadata = resource.get("Metadata").cloned().unwrap_or(Value::Null);
    function::build(id, name, arn, &properties, &metadata, base, scope)
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

/// An API's CORS settings (`CorsConfiguration` for an HTTP API, `Cors` for a
/// REST API), resolved: `None` when the key is absent, `Some(None)` when it
/// turns CORS off (`false`).
fn cors_property(
    properties: &Value,
    kind: &str,
    at: &str,
    scope: &Scope,
) -> Result<Option<Option<cors::CorsSpec>>, TemplateError> {
    let key = if kind == "AWS::Serverless::HttpApi" {
        "CorsConfiguration"
    } else {
        "Cors"
    };
    let Some(value) = properties.get(key) else {
        return Ok(None);
    };
    let at = format!("{at}.{key}");
    let Some(value) = scope.resolve(value, &at)? else {
        return Ok(None);
    };
    if kind == "AWS::Serverless::HttpApi" {
        cors::http_api(&value, &at).map(Some)
    } else {
        cors::rest_api(&value, &at).map(Some)
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
