//! An API's authorizers (`Auth.Authorizers.<name>`: an HTTP API's JWT ones
//! with `JwtConfiguration`, Lambda ones with `FunctionArn`; `DefaultAuthorizer`)
//! and a route's choice among them (`Auth.Authorizer`, `AuthorizationScopes`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::error::{TemplateError, invalid, only_keys};
pub use super::lambda_authorizer::{AuthorizerEvent, LambdaAuthorizer};
use super::lambda_authorizer::{lambda_authorizer, rest_lambda_authorizer};

/// A JWT authorizer as API Gateway runs it.
#[derive(Debug, PartialEq, Eq)]
pub struct JwtAuthorizer {
    pub name: String,
    /// The `iss` tokens must carry; its `/.well-known/openid-configuration`
    /// names the keys.
    pub issuer: String,
    /// `aud` (or `client_id`) must be one of these.
    pub audience: Vec<String>,
    /// The request header the token is read from (lower case).
    pub header: String,
}

/// An authorizer an HTTP API can name.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorizer {
    Jwt(JwtAuthorizer),
    Lambda(LambdaAuthorizer),
}

/// An HTTP API's authorizers and its default one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ApiAuth {
    pub(crate) authorizers: BTreeMap<String, Arc<Authorizer>>,
    pub(crate) default: Option<String>,
}

/// What a route asks of its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAuth {
    pub authorizer: Arc<Authorizer>,
    /// A JWT must hold at least one of these, when there are any.
    pub scopes: Vec<String>,
}

/// An API's `Auth`: an HTTP API's, or with `rest` a REST API's.
pub(super) fn api_auth(value: &Value, at: &str, rest: bool) -> Result<ApiAuth, TemplateError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(at, "must be a map"))?;
    if rest {
        // Preflights are answered by the runner, never authorized: see `cors`.
        only_keys(
            map,
            &[
                "Authorizers",
                "DefaultAuthorizer",
                "AddDefaultAuthorizerToCorsPreflight",
            ],
            at,
            "is not supported by the runner (Lambda authorizers only)",
        )?;
    } else {
        only_keys(
            map,
            &["Authorizers", "DefaultAuthorizer"],
            at,
            "is not supported by the runner (JWT and Lambda authorizers only)",
        )?;
    }
    let mut auth = ApiAuth::default();
    if let Some(authorizers) = map.get("Authorizers") {
        let authorizers = authorizers
            .as_object()
            .ok_or_else(|| invalid(format!("{at}.Authorizers"), "must be a map"))?;
        for (name, config) in authorizers {
            let at = format!("{at}.Authorizers.{name}");
            let authorizer = if rest {
                if config.get("FunctionArn").is_none() {
                    return Err(invalid(
                        at,
                        "is not supported by the runner (a REST API's Lambda authorizers, \
                         with FunctionArn, only: no Cognito user pools)",
                    ));
                }
                Authorizer::Lambda(rest_lambda_authorizer(name, config, &at)?)
            } else if config.get("FunctionArn").is_some() {
                Authorizer::Lambda(lambda_authorizer(name, config, &at)?)
            } else {
                Authorizer::Jwt(jwt_authorizer(name, config, &at)?)
            };
            auth.authorizers.insert(name.clone(), Arc::new(authorizer));
        }
    }
    if let Some(default) = map.get("DefaultAuthorizer") {
        let default = default
            .as_str()
            .ok_or_else(|| invalid(format!("{at}.DefaultAuthorizer"), "must be a name"))?;
        if !auth.authorizers.contains_key(default) {
            return Err(invalid(
                format!("{at}.DefaultAuthorizer"),
                format!("names no authorizer of this API: {default}"),
            ));
        }
        auth.default = Some(default.to_owned());
    }
    Ok(auth)
}

/// An API's `Auth` (its authorizers), resolved.
pub(super) fn property(
    properties: &Value,
    kind: &str,
    at: &str,
    scope: &super::intrinsics::Scope,
) -> Result<Option<ApiAuth>, TemplateError> {
    let Some(value) = properties.get("Auth") else {
        return Ok(None);
    };
    let at = format!("{at}.Auth");
    match scope.resolve(value, &at)? {
        Some(value) => api_auth(&value, &at, kind == "AWS::Serverless::Api").map(Some),
        None => Ok(None),
    }
}

fn jwt_authorizer(name: &str, config: &Value, at: &str) -> Result<JwtAuthorizer, TemplateError> {
    let map = config
        .as_object()
        .ok_or_else(|| invalid(at, "must be a map"))?;
    only_keys(
        map,
        &["JwtConfiguration", "IdentitySource"],
        at,
        "is not supported by the runner (a JWT authorizer has JwtConfiguration and IdentitySource)",
    )?;
    let jwt = map
        .get("JwtConfiguration")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid(
                at,
                "needs JwtConfiguration (or FunctionArn, for a Lambda authorizer)",
            )
        })?;
    let issuer = jwt
        .get("issuer")
        .and_then(Value::as_str)
        .filter(|i| i.starts_with("https://") || is_loopback_http(i))
        .ok_or_else(|| {
            invalid(
                format!("{at}.JwtConfiguration.issuer"),
                "must be an https URL (or http on loopback)",
            )
        })?;
    let audience = match jwt.get("audience") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>(),
        Some(Value::String(one)) => Some(vec![one.clone()]),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(
            format!("{at}.JwtConfiguration.audience"),
            "must list at least one audience",
        )
    })?;
    let source = map
        .get("IdentitySource")
        .map_or(Some("$request.header.Authorization"), Value::as_str)
        .unwrap_or_default();
    let header = source
        .strip_prefix("$request.header.")
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .ok_or_else(|| {
            invalid(
                format!("{at}.IdentitySource"),
                "must be $request.header.<Name> (the runner reads tokens from headers only)",
            )
        })?;
    Ok(JwtAuthorizer {
        name: name.to_owned(),
        issuer: issuer.to_owned(),
        audience,
        header: header.to_ascii_lowercase(),
    })
}

/// Whether `url` is http to this machine (`localhost`, `127.x.x.x`, `[::1]`).
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A route's authorization: its event's `Auth` (`Authorizer`, which may be
/// `NONE`, and `AuthorizationScopes`) against its API's authorizers.
pub(super) fn route_auth(
    api: Option<&ApiAuth>,
    event_auth: Option<&Value>,
    at: &str,
) -> Result<Option<RouteAuth>, TemplateError> {
    let empty = serde_json::Map::new();
    let event = match event_auth {
        None => &empty,
        Some(value) => value
            .as_object()
            .ok_or_else(|| invalid(at, "must be a map"))?,
    };
    only_keys(
        event,
        &["Authorizer", "AuthorizationScopes"],
        at,
        "is not supported by the runner",
    )?;
    let named = match event.get("Authorizer") {
        None => api.and_then(|a| a.default.clone()),
        Some(Value::String(name)) if name == "NONE" => return Ok(None),
        Some(Value::String(name)) if name == "AWS_IAM" => {
            return Err(invalid(
                format!("{at}.Authorizer"),
                "AWS_IAM is not supported by the runner (it cannot check SigV4 signatures)",
            ));
        }
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(invalid(format!("{at}.Authorizer"), "must be a name")),
    };
    let scopes = match event.get("AuthorizationScopes") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(
                    format!("{at}.AuthorizationScopes"),
                    "must be a list of scopes",
                )
            })?,
        Some(_) => {
            return Err(invalid(
                format!("{at}.AuthorizationScopes"),
                "must be a list of scopes",
            ));
        }
    };
    let Some(name) = named else {
        if !scopes.is_empty() {
            return Err(invalid(at, "has AuthorizationScopes but no authorizer"));
        }
        return Ok(None);
    };
    let authorizer = api.and_then(|a| a.authorizers.get(&name)).ok_or_else(|| {
        invalid(
            format!("{at}.Authorizer"),
            format!("names no authorizer of the route's API: {name}"),
        )
    })?;
    if !scopes.is_empty() && matches!(&**authorizer, Authorizer::Lambda(_)) {
        return Err(invalid(
            format!("{at}.AuthorizationScopes"),
            "applies to JWT authorizers only, as on AWS",
        ));
    }
    Ok(Some(RouteAuth {
        authorizer: Arc::clone(authorizer),
        scopes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api() -> ApiAuth {
        api_auth(
            &json!({
                "Authorizers": {"Cognito": {
                    "JwtConfiguration": {"issuer": "https://issuer.example", "audience": ["shop"]},
                    "IdentitySource": "$request.header.X-Token",
                }},
                "DefaultAuthorizer": "Cognito",
            }),
            "at",
            false,
        )
        .unwrap()
    }

    #[test]
    fn routes_take_the_default_unless_they_say_none() {
        let api = api();
        let Authorizer::Jwt(jwt) = &*api.authorizers["Cognito"] else {
            panic!("a JWT authorizer");
        };
        assert_eq!(jwt.header, "x-token");
        assert_eq!(jwt.audience, ["shop"]);
        let by_default = route_auth(Some(&api), None, "at").unwrap().unwrap();
        assert!(matches!(&*by_default.authorizer, Authorizer::Jwt(j) if j.name == "Cognito"));
        let none = json!({"Authorizer": "NONE"});
        assert_eq!(route_auth(Some(&api), Some(&none), "at").unwrap(), None);
        let scoped = json!({"AuthorizationScopes": ["orders/write"]});
        let scoped = route_auth(Some(&api), Some(&scoped), "at")
            .unwrap()
            .unwrap();
        assert_eq!(scoped.scopes, ["orders/write"]);
        assert_eq!(route_auth(None, None, "at").unwrap(), None);
    }

    #[test]
    fn a_rest_apis_lambda_authorizers_are_token_by_default_and_kept_five_minutes() {
        let auth = api_auth(
            &json!({
                "DefaultAuthorizer": "Token",
                "AddDefaultAuthorizerToCorsPreflight": false,
                "Authorizers": {
                    "Token": {"FunctionArn": "arn", "Identity": {"ValidationExpression": "Bearer .+"}},
                    "Request": {"FunctionArn": "arn", "FunctionPayloadType": "REQUEST",
                                "Identity": {"Headers": ["X-Key"], "ReauthorizeEvery": 0}},
                },
            }),
            "at",
            true,
        )
        .unwrap();
        let Authorizer::Lambda(token) = &*auth.authorizers["Token"] else {
            panic!("a Lambda authorizer");
        };
        assert_eq!(token.event, AuthorizerEvent::Token);
        assert!(token.rest);
        assert_eq!(token.headers, ["authorization"]);
        assert_eq!(token.ttl, std::time::Duration::from_secs(300));
        let validation = &token.validation.as_ref().unwrap().0;
        assert!(validation.is_match("Bearer abc"));
        // Matched whole, as API Gateway does.
        assert!(!validation.is_match("xBearer abc"));
        let Authorizer::Lambda(request) = &*auth.authorizers["Request"] else {
            panic!("a Lambda authorizer");
        };
        assert_eq!(request.event, AuthorizerEvent::Request);
        assert_eq!(request.headers, ["x-key"]);
        assert!(request.ttl.is_zero());
        for (auth, why) in [
            (
                json!({"Authorizers": {"C": {"UserPoolArn": "arn:aws:cognito-idp:x"}}}),
                "no Cognito",
            ),
            (
                json!({"Authorizers": {"R": {"FunctionArn": "arn", "FunctionPayloadType": "REQUEST"}}}),
                "needs Headers or QueryStrings",
            ),
            (
                json!({"Authorizers": {"T": {"FunctionArn": "arn", "Identity": {"ValidationExpression": "("}}}}),
                "ValidationExpression",
            ),
            (
                json!({"Authorizers": {"T": {"FunctionArn": "arn", "Identity": {"Context": ["x"]}}}}),
                "is not supported",
            ),
            (
                json!({"Authorizers": {"T": {"FunctionArn": "arn", "FunctionPayloadType": "EVENT"}}}),
                "TOKEN or REQUEST",
            ),
            (json!({"ApiKeyRequired": true}), "is not supported"),
        ] {
            let e = api_auth(&auth, "at", true).unwrap_err().to_string();
            assert!(e.contains(why), "{auth}: {e}");
        }
        let scoped = json!({"Authorizer": "Token", "AuthorizationScopes": ["a"]});
        let e = route_auth(Some(&auth), Some(&scoped), "at").unwrap_err();
        assert!(e.to_string().contains("JWT authorizers only"), "{e}");
        let iam = json!({"Authorizer": "AWS_IAM"});
        let e = route_auth(Some(&auth), Some(&iam), "at").unwrap_err();
        assert!(e.to_string().contains("SigV4"), "{e}");
    }

    #[test]
    fn what_the_runner_cannot_enforce_is_refused() {
        for (auth, why) in [
            (
                json!({"Authorizers": {"L": {"FunctionArn": "arn"}}}),
                "must be \"2.0\"",
            ),
            (
                json!({"Authorizers": {"L": {"FunctionArn": "arn", "AuthorizerPayloadFormatVersion": "1.0", "EnableSimpleResponses": true}}}),
                "needs AuthorizerPayloadFormatVersion \"2.0\"",
            ),
            (
                json!({"Authorizers": {"L": {"FunctionArn": "arn", "AuthorizerPayloadFormatVersion": "2.0", "Identity": {"ReauthorizeEvery": 60}}}}),
                "needs Headers or QueryStrings",
            ),
            (
                json!({"Authorizers": {"J": {"Nothing": 1}}}),
                "is not supported",
            ),
            (
                json!({"Authorizers": {"J": {"JwtConfiguration": {"issuer": "x", "audience": ["a"]}}}}),
                "must be an https URL",
            ),
            (
                json!({"Authorizers": {"J": {"JwtConfiguration": {"issuer": "http://issuer.example", "audience": ["a"]}}}}),
                "must be an https URL",
            ),
            (
                json!({"Authorizers": {"J": {"JwtConfiguration": {"issuer": "https://i", "audience": []}}}}),
                "audience",
            ),
            (
                json!({"Authorizers": {"J": {"JwtConfiguration": {"issuer": "https://i", "audience": ["a"]}, "IdentitySource": "$request.querystring.t"}}}),
                "headers only",
            ),
            (json!({"DefaultAuthorizer": "Nope"}), "names no authorizer"),
            (json!({"EnableIamAuthorizer": true}), "EnableIamAuthorizer"),
        ] {
            let e = api_auth(&auth, "at", false).unwrap_err().to_string();
            assert!(e.contains(why), "{auth}: {e}");
        }
        let e = route_auth(Some(&api()), Some(&json!({"Authorizer": "Other"})), "at").unwrap_err();
        assert!(e.to_string().contains("Other"), "{e}");
        let e = route_auth(None, Some(&json!({"AuthorizationScopes": ["a"]})), "at").unwrap_err();
        assert!(e.to_string().contains("no authorizer"), "{e}");
    }
}
