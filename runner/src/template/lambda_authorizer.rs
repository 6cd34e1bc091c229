//! A Lambda authorizer of an HTTP API: `FunctionArn`, payload format 2.0,
//! simple responses or IAM policies, and its identity sources.

use std::time::Duration;

use serde_json::Value;

use super::error::{TemplateError, invalid, only_keys};

/// A Lambda authorizer of an HTTP API (payload format 2.0).
#[derive(Debug, PartialEq, Eq)]
pub struct LambdaAuthorizer {
    pub name: String,
    /// `FunctionArn`: a function of the template (`!GetAtt Fn.Arn`).
    pub function_arn: String,
    /// `EnableSimpleResponses`: `{"isAuthorized", "context"}`; else an IAM policy.
    pub simple_responses: bool,
    /// `Identity.Headers` (lower case) and `Identity.QueryStrings`: all must be
    /// present, and together they key the cache.
    pub headers: Vec<String>,
    pub query_strings: Vec<String>,
    /// `Identity.ReauthorizeEvery`: how long a decision is kept (0: not kept).
    pub ttl: Duration,
}

pub(super) fn lambda_authorizer(
    name: &str,
    config: &Value,
    at: &str,
) -> Result<LambdaAuthorizer, TemplateError> {
    let map = config
        .as_object()
        .ok_or_else(|| invalid(at, "must be a map"))?;
    const KEYS: &[&str] = &[
        "FunctionArn",
        "FunctionInvokeRole",
        "AuthorizerPayloadFormatVersion",
        "EnableSimpleResponses",
        "EnableFunctionDefaultPermissions",
        "Identity",
    ];
    only_keys(map, KEYS, at, "is not supported by the runner")?;
    let function_arn = map["FunctionArn"]
        .as_str()
        .ok_or_else(|| invalid(format!("{at}.FunctionArn"), "must be a function's ARN"))?;
    let version = map
        .get("AuthorizerPayloadFormatVersion")
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format!("{n:.1}")),
            _ => None,
        });
    if version.as_deref() != Some("2.0") {
        return Err(invalid(
            format!("{at}.AuthorizerPayloadFormatVersion"),
            "must be \"2.0\" (the runner does not send 1.0 authorizer events)",
        ));
    }
    let (headers, query_strings, ttl) = identity(map.get("Identity"), at)?;
    Ok(LambdaAuthorizer {
        name: name.to_owned(),
        function_arn: function_arn.to_owned(),
        simple_responses: map.get("EnableSimpleResponses") == Some(&Value::Bool(true)),
        headers,
        query_strings,
        ttl,
    })
}

/// A Lambda authorizer's `Identity`: its headers (lower case), its query
/// strings, and how long its answers are kept.
fn identity(
    identity: Option<&Value>,
    at: &str,
) -> Result<(Vec<String>, Vec<String>, Duration), TemplateError> {
    let empty = serde_json::Map::new();
    let identity = match identity {
        None => &empty,
        Some(v) => v
            .as_object()
            .ok_or_else(|| invalid(format!("{at}.Identity"), "must be a map"))?,
    };
    only_keys(
        identity,
        &["Headers", "QueryStrings", "ReauthorizeEvery"],
        &format!("{at}.Identity"),
        "is not supported by the runner (Headers, QueryStrings and ReauthorizeEvery)",
    )?;
    let names = |key: &str| -> Result<Vec<String>, TemplateError> {
        match identity.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("{at}.Identity.{key}"), "must be a list of names")),
            Some(_) => Err(invalid(
                format!("{at}.Identity.{key}"),
                "must be a list of names",
            )),
        }
    };
    let ttl = match identity.get("ReauthorizeEvery") {
        None => 0,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|s| *s <= 3600)
            .ok_or_else(|| {
                invalid(
                    format!("{at}.Identity.ReauthorizeEvery"),
                    "must be 0 to 3600 seconds",
                )
            })?,
    };
    let headers: Vec<String> = names("Headers")?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let query_strings = names("QueryStrings")?;
    if ttl > 0 && headers.is_empty() && query_strings.is_empty() {
        return Err(invalid(
            format!("{at}.Identity"),
            "a cached authorizer (ReauthorizeEvery > 0) needs Headers or QueryStrings",
        ));
    }
    Ok((headers, query_strings, Duration::from_secs(ttl)))
}
