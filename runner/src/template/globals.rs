//! `Globals`, SAM's way of merging them into each function, and the API
//! resources' keys, which the runner serves itself and so must understand.

use serde_json::{Map, Value};

use super::error::{TemplateError, invalid};
use super::intrinsics::Scope;

/// API resources are served by the runner itself, so their behaviour-changing keys
/// (authorizers, OpenAPI bodies …) must not pass unnoticed; CORS is honoured.
pub(super) fn check_api_resource(
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
    // Served by the runner (see `cors`).
    let cors = if kind == "AWS::Serverless::HttpApi" {
        "CorsConfiguration"
    } else {
        "Cors"
    };
    let empty = Map::new();
    let props = resource
        .get("Properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    // Authorizers are served (see `auth`).
    let served = |key: &str| key == cors || key == "Auth";
    match props
        .keys()
        .find(|k| !HARMLESS.contains(&k.as_str()) && !served(k))
    {
        Some(key) => Err(invalid(
            format!("resource {id}, key Properties.{key}"),
            "is not supported by the runner",
        )),
        None => Ok(()),
    }
}

pub(super) fn globals(section: Option<&Value>, scope: &Scope) -> Result<Value, TemplateError> {
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
pub(super) fn without_ignored_globals(
    globals: &Value,
    ignore: Option<&Value>,
) -> Result<Value, String> {
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
pub(super) fn merge(base: &mut Value, own: Value) {
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
