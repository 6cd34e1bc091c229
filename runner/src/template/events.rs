//! The HTTP events of a function (`HttpApi`, `Api`) as routes.

use std::sync::Arc;

use serde_json::Value;

use super::auth::{ApiAuth, RouteAuth, route_auth};
use super::cors::CorsSpec;
use super::error::{TemplateError, invalid};
use super::intrinsics::{Scope, scalar_string};

/// The API Gateway payload format a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// REST APIs (`Api` events), and HTTP APIs set to `PayloadFormatVersion: "1.0"`.
    V1,
    /// HTTP APIs (`HttpApi` events).
    V2,
}

/// One HTTP route that invokes the function.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub name: String,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path pattern, or `$default` for an HTTP API's catch-all route.
    pub path: String,
    pub payload: PayloadVersion,
    pub stage: String,
    /// The API's CORS settings, when it has any.
    pub cors: Option<Arc<CorsSpec>>,
    /// The route's JWT authorizer and scopes, when it has one.
    pub auth: Option<RouteAuth>,
}

pub(super) fn event_spec(
    id: &str,
    name: &str,
    event: &Value,
    scope: &Scope,
) -> Result<EventSpec, TemplateError> {
    let at = |key: &str| format!("resource {id}, key Events.{name}{key}");
    let kind = event["Type"].as_str().unwrap_or_default();
    let empty = serde_json::Map::new();
    let props = event["Properties"].as_object().unwrap_or(&empty);
    let (allowed, mut payload, api_key): (&[&str], _, _) = match kind {
        "HttpApi" => (
            &["Path", "Method", "ApiId", "PayloadFormatVersion", "Auth"],
            PayloadVersion::V2,
            "ApiId",
        ),
        "Api" => (
            &["Path", "Method", "RestApiId", "Auth"],
            PayloadVersion::V1,
            "RestApiId",
        ),
        other => {
            return Err(invalid(
                at(".Type"),
                format!(
                    "{other} events cannot be delivered by the runner (only HttpApi, Api, Schedule and ScheduleV2)"
                ),
            ));
        }
    };
    if let Some(key) = props.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            at(&format!(".Properties.{key}")),
            "is not supported by the runner",
        ));
    }
    if props
        .get("PayloadFormatVersion")
        .and_then(scalar_string)
        .as_deref()
        == Some("1.0")
    {
        payload = PayloadVersion::V1;
    }
    let (path, method) = route(kind, props, &at)?;
    let ApiSettings {
        stage,
        cors,
        auth: api_auth,
    } = api(kind, api_key, props, scope, &at)?;
    let auth = route_auth(
        api_auth.as_deref(),
        props.get("Auth"),
        &at(".Properties.Auth"),
    )?;
    Ok(EventSpec {
        name: name.to_owned(),
        method,
        path,
        payload,
        stage,
        cors,
        auth,
    })
}

/// The route's path and method: given both, or neither for an HTTP API's
/// catch-all (`$default`, any method).
fn route(
    kind: &str,
    props: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<(String, String), TemplateError> {
    let path = props.get("Path").and_then(Value::as_str);
    let method = props.get("Method").and_then(Value::as_str);
    let (path, method) = match (path, method) {
        (Some(p), Some(m)) if p.starts_with('/') => (p.to_owned(), m.to_ascii_uppercase()),
        (None, None) if kind == "HttpApi" => ("$default".to_owned(), "ANY".to_owned()),
        _ => {
            return Err(invalid(
                at(".Properties"),
                "needs a Path starting with / and a Method",
            ));
        }
    };
    let method = if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
        "ANY".to_owned()
    } else {
        method
    };
    Ok((path, method))
}

/// What an event's API settles for its routes.
struct ApiSettings {
    stage: String,
    cors: Option<Arc<CorsSpec>>,
    auth: Option<Arc<ApiAuth>>,
}

/// What the event's API says: the stage (the API's own StageName, else the
/// Globals', else SAM's default: `$default` for HTTP APIs, `Prod` for the
/// implicit REST API), the CORS settings and the API's `Auth` (each the
/// API's own, else the Globals').
fn api(
    kind: &str,
    api_key: &str,
    props: &serde_json::Map<String, Value>,
    scope: &Scope,
    at: &dyn Fn(&str) -> String,
) -> Result<ApiSettings, TemplateError> {
    let api_kind = if kind == "HttpApi" {
        "AWS::Serverless::HttpApi"
    } else {
        "AWS::Serverless::Api"
    };
    let mut stage = scope.global_stages.get(api_kind).cloned();
    let mut cors = scope.global_cors.get(api_kind).cloned();
    let mut auth = scope.global_auth.get(api_kind).cloned();
    if let Some(api) = props.get(api_key) {
        let info = api
            .as_str()
            .and_then(|target| scope.resources.get(target))
            .filter(|info| info.kind == api_kind)
            .ok_or_else(|| {
                invalid(
                    at(&format!(".Properties.{api_key}")),
                    format!("must be !Ref to an {api_kind} resource of this template"),
                )
            })?;
        stage = info.stage.clone().or(stage);
        if let Some(own) = &info.cors {
            cors = own.clone();
        }
        auth = info.auth.clone().or(auth);
    }
    let stage = stage.unwrap_or_else(|| {
        if kind == "HttpApi" {
            "$default"
        } else {
            "Prod"
        }
        .to_owned()
    });
    Ok(ApiSettings { stage, cors, auth })
}
