//! Lambda authorizers: an HTTP API's (`FunctionArn`, payload format 2.0 or
//! 1.0, simple responses or IAM policies) and a REST API's (`TOKEN` or
//! `REQUEST`), and their identity sources.

use std::time::Duration;

use serde_json::Value;

use super::error::{TemplateError, invalid, only_keys};

/// The event a Lambda authorizer gets, and the answers it may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorizerEvent {
    /// An HTTP API's, payload format 2.0: a `REQUEST` event with `routeArn`;
    /// a simple response or an IAM policy.
    V2,
    /// An HTTP API's payload format 1.0, or a REST API's `REQUEST` authorizer:
    /// the request as a REST API's event, with `methodArn`; an IAM policy.
    Request,
    /// A REST API's `TOKEN` authorizer: `authorizationToken` and `methodArn`;
    /// an IAM policy.
    Token,
}

/// A `TOKEN` authorizer's `ValidationExpression`: a token that does not match
/// it whole is refused without asking the function.
#[derive(Debug, Clone)]
pub struct Validation(pub regex::Regex);

impl PartialEq for Validation {
    fn eq(&self, other: &Validation) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for Validation {}

/// A Lambda authorizer: a function of the template that decides whether a
/// request may reach its route.
#[derive(Debug, PartialEq, Eq)]
pub struct LambdaAuthorizer {
    pub name: String,
    /// Where the template declares it (`resource Api, key
    /// Properties.Auth.Authorizers.Name`): one authorizer's kept answers are
    /// never another's.
    pub id: String,
    /// `FunctionArn`: a function of the template (`!GetAtt Fn.Arn`).
    pub function_arn: String,
    pub event: AuthorizerEvent,
    /// A REST API's: its context reaches the function flat, beside
    /// `principalId`, and an error `Unauthorized` is a 401.
    pub rest: bool,
    /// `EnableSimpleResponses`: `{"isAuthorized", "context"}`; else an IAM policy.
    pub simple_responses: bool,
    /// `Identity.Headers` (lower case) and `Identity.QueryStrings` (a `TOKEN`
    /// authorizer: its one `Identity.Header`): all must be present, and
    /// together they key the cache.
    pub headers: Vec<String>,
    pub query_strings: Vec<String>,
    /// A `TOKEN` authorizer's `Identity.ValidationExpression`.
    pub validation: Option<Validation>,
    /// `Identity.ReauthorizeEvery`: how long a decision is kept (0: not kept).
    pub ttl: Duration,
}

/// A Lambda authorizer of an HTTP API.
pub(super) fn lambda_authorizer(
    name: &str,
    config: &Value,
    at: &str,
) -> Result<LambdaAuthorizer, TemplateError> {
    const KEYS: &[&str] = &[
        "FunctionArn",
        "FunctionInvokeRole",
        "AuthorizerPayloadFormatVersion",
        "EnableSimpleResponses",
        "EnableFunctionDefaultPermissions",
        "Identity",
    ];
    let map = config_map(config, KEYS, at)?;
    let version = map
        .get("AuthorizerPayloadFormatVersion")
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format!("{n:.1}")),
            _ => None,
        });
    let event = match version.as_deref() {
        Some("2.0") => AuthorizerEvent::V2,
        Some("1.0") => AuthorizerEvent::Request,
        _ => {
            return Err(invalid(
                format!("{at}.AuthorizerPayloadFormatVersion"),
                "must be \"2.0\" or \"1.0\"",
            ));
        }
    };
    let simple_responses = map.get("EnableSimpleResponses") == Some(&Value::Bool(true));
    if simple_responses && event != AuthorizerEvent::V2 {
        return Err(invalid(
            format!("{at}.EnableSimpleResponses"),
            "needs AuthorizerPayloadFormatVersion \"2.0\"",
        ));
    }
    let identity = identity(map.get("Identity"), at, IdentityKind::Http)?;
    Ok(LambdaAuthorizer {
        name: name.to_owned(),
        id: at.to_owned(),
        function_arn: function_arn(map, at)?,
        event,
        rest: false,
        simple_responses,
        headers: identity.headers,
        query_strings: identity.query_strings,
        validation: None,
        ttl: identity.ttl,
    })
}

/// A Lambda authorizer of a REST API: `FunctionPayloadType` `TOKEN` (the
/// default) or `REQUEST`.
pub(super) fn rest_lambda_authorizer(
    name: &str,
    config: &Value,
    at: &str,
) -> Result<LambdaAuthorizer, TemplateError> {
    const KEYS: &[&str] = &[
        "FunctionArn",
        "FunctionInvokeRole",
        "FunctionPayloadType",
        "DisableFunctionDefaultPermissions",
        "Identity",
    ];
    let map = config_map(config, KEYS, at)?;
    let kind = match map.get("FunctionPayloadType").map(Value::as_str) {
        None | Some(Some("TOKEN")) => IdentityKind::Token,
        Some(Some("REQUEST")) => IdentityKind::Request,
        Some(_) => {
            return Err(invalid(
                format!("{at}.FunctionPayloadType"),
                "must be TOKEN or REQUEST",
            ));
        }
    };
    let identity = identity(map.get("Identity"), at, kind)?;
    Ok(LambdaAuthorizer {
        name: name.to_owned(),
        id: at.to_owned(),
        function_arn: function_arn(map, at)?,
        event: if kind == IdentityKind::Token {
            AuthorizerEvent::Token
        } else {
            AuthorizerEvent::Request
        },
        rest: true,
        simple_responses: false,
        headers: identity.headers,
        query_strings: identity.query_strings,
        validation: identity.validation,
        ttl: identity.ttl,
    })
}

/// An authorizer's settings: a map with none but `keys`.
fn config_map<'a>(
    config: &'a Value,
    keys: &[&str],
    at: &str,
) -> Result<&'a serde_json::Map<String, Value>, TemplateError> {
    let map = config
        .as_object()
        .ok_or_else(|| invalid(at, "must be a map"))?;
    only_keys(map, keys, at, "is not supported by the runner")?;
    Ok(map)
}

fn function_arn(map: &serde_json::Map<String, Value>, at: &str) -> Result<String, TemplateError> {
    map["FunctionArn"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{at}.FunctionArn"), "must be a function's ARN"))
}

/// Whose `Identity` is read: each knows its own keys and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityKind {
    /// An HTTP API's: `Headers`, `QueryStrings`; not kept unless asked.
    Http,
    /// A REST API's `TOKEN` authorizer: one `Header` (`Authorization` unless
    /// named), its `ValidationExpression`; kept 300 s unless asked otherwise.
    Token,
    /// A REST API's `REQUEST` authorizer: `Headers`, `QueryStrings`; kept 300 s
    /// unless asked otherwise.
    Request,
}

/// What an authorizer's `Identity` says.
struct Identity {
    headers: Vec<String>,
    query_strings: Vec<String>,
    validation: Option<Validation>,
    ttl: Duration,
}

/// A Lambda authorizer's `Identity`: its headers (lower case), its query
/// strings, a token's validation, and how long its answers are kept.
fn identity(
    value: Option<&Value>,
    at: &str,
    kind: IdentityKind,
) -> Result<Identity, TemplateError> {
    let empty = serde_json::Map::new();
    let map = match value {
        None => &empty,
        Some(v) => v
            .as_object()
            .ok_or_else(|| invalid(format!("{at}.Identity"), "must be a map"))?,
    };
    let (keys, default_ttl): (&[&str], u64) = match kind {
        IdentityKind::Http => (&["Headers", "QueryStrings", "ReauthorizeEvery"], 0),
        IdentityKind::Token => (&["Header", "ValidationExpression", "ReauthorizeEvery"], 300),
        IdentityKind::Request => (&["Headers", "QueryStrings", "ReauthorizeEvery"], 300),
    };
    let at = format!("{at}.Identity");
    let supported = format!("is not supported by the runner ({})", keys.join(", "));
    only_keys(map, keys, &at, &supported)?;
    let names = |key: &str| -> Result<Vec<String>, TemplateError> {
        match map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("{at}.{key}"), "must be a list of names")),
            Some(_) => Err(invalid(format!("{at}.{key}"), "must be a list of names")),
        }
    };
    let ttl = match map.get("ReauthorizeEvery") {
        None => default_ttl,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|s| *s <= 3600)
            .ok_or_else(|| {
                invalid(
                    format!("{at}.ReauthorizeEvery"),
                    "must be 0 to 3600 seconds",
                )
            })?,
    };
    let mut headers = names("Headers")?;
    if kind == IdentityKind::Token {
        let header = match map.get("Header") {
            None => "Authorization",
            Some(Value::String(name)) if !name.is_empty() => name,
            Some(_) => return Err(invalid(format!("{at}.Header"), "must be a header's name")),
        };
        headers = vec![header.to_owned()];
    }
    let headers = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    let validation = match map.get("ValidationExpression") {
        None => None,
        Some(Value::String(expression)) => Some(validation(expression, &at)?),
        Some(_) => {
            return Err(invalid(
                format!("{at}.ValidationExpression"),
                "must be a regular expression",
            ));
        }
    };
    let identity = Identity {
        headers,
        query_strings: names("QueryStrings")?,
        validation,
        ttl: Duration::from_secs(ttl),
    };
    if ttl > 0 && identity.headers.is_empty() && identity.query_strings.is_empty() {
        return Err(invalid(
            at,
            "a cached authorizer (ReauthorizeEvery > 0, 300 by default for a REST API) \
             needs Headers or QueryStrings; or set ReauthorizeEvery: 0",
        ));
    }
    Ok(identity)
}

/// A `ValidationExpression`, which a token must match whole.
fn validation(expression: &str, at: &str) -> Result<Validation, TemplateError> {
    regex::RegexBuilder::new(&format!("^(?:{expression})$"))
        .size_limit(1 << 20)
        .build()
        .map(Validation)
        .map_err(|_| {
            invalid(
                format!("{at}.ValidationExpression"),
                "is not a regular expression the runner can read",
            )
        })
}
