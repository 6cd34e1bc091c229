//! Asking a Lambda authorizer: the identity sources it is keyed by, the event
//! it gets (payload 2.0 `REQUEST`, a REST-style `REQUEST`, or `TOKEN`), its
//! invocation, and what its answer decides.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::MAX_EVENT_BYTES;
use super::event::{self, Request};
use super::iam::any_matches;
use super::problem::Problem;
use super::query::parse_query;
use super::routes::Route;
use crate::lambda::invocation::Outcome;
use crate::lambda::pool::{Pool, PoolError};
use crate::template::{AuthorizerEvent, LambdaAuthorizer, PayloadVersion};

/// The identity sources' values, in order; `None` when one is missing or
/// empty, or a token does not match its `ValidationExpression`.
pub(super) fn identity(lambda: &LambdaAuthorizer, request: &Request<'_>) -> Option<Vec<String>> {
    let mut values = Vec::new();
    for name in &lambda.headers {
        // Repeated, a header's values are joined, as the function's event has them.
        let all: Option<Vec<&str>> = request
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok())
            .collect();
        values.push(all?.join(","));
    }
    if !lambda.query_strings.is_empty() {
        let query = parse_query(request.raw_query);
        for name in &lambda.query_strings {
            values.push(query.get(name)?.join(","));
        }
    }
    if let (Some(validation), [token]) = (&lambda.validation, values.as_slice())
        && !validation.0.is_match(token)
    {
        return None;
    }
    values.iter().all(|v| !v.is_empty()).then_some(values)
}

/// The event the authorizer gets for this request: never its body.
pub(super) fn authorizer_event(
    lambda: &LambdaAuthorizer,
    request: &Request<'_>,
    route: &Route,
    params: &BTreeMap<String, String>,
    identity: &[String],
    arn: &str,
) -> Result<Bytes, Problem> {
    let mut event = match lambda.event {
        AuthorizerEvent::Token => {
            let token = identity.first().map_or("", String::as_str);
            return Ok(Bytes::from(
                json!({"type": "TOKEN", "authorizationToken": token, "methodArn": arn}).to_string(),
            ));
        }
        AuthorizerEvent::V2 => request_event(request, route, params, PayloadVersion::V2)?,
        AuthorizerEvent::Request => request_event(request, route, params, PayloadVersion::V1)?,
    };
    if let Value::Object(map) = &mut event {
        map.remove("body");
        map.remove("isBase64Encoded");
        map.insert("type".into(), "REQUEST".into());
        if lambda.event == AuthorizerEvent::V2 {
            map.insert("routeArn".into(), arn.into());
            map.insert("identitySource".into(), json!(identity));
        } else {
            map.insert("methodArn".into(), arn.into());
            // An HTTP API's 1.0 event names its identity too; a REST API's does not.
            if !lambda.rest {
                let joined = identity.join(",");
                map.insert("identitySource".into(), joined.clone().into());
                map.insert("authorizationToken".into(), joined.into());
            }
        }
    }
    Ok(Bytes::from(event.to_string()))
}

/// The route's event in `payload` format, without a body.
fn request_event(
    request: &Request<'_>,
    route: &Route,
    params: &BTreeMap<String, String>,
    payload: PayloadVersion,
) -> Result<Value, Problem> {
    let bodiless = Request {
        body: &[],
        authorizer: None,
        ..*request
    };
    let mut as_asked = route.clone();
    as_asked.payload = payload;
    let built = event::build(&bodiless, &as_asked, params, MAX_EVENT_BYTES)
        .map_err(|_| Problem::PayloadTooLarge)?;
    serde_json::from_slice(&built).map_err(|_| Problem::PayloadTooLarge)
}

/// The authorizer's answer, and its size.
pub(super) async fn invoke(
    lambda: &LambdaAuthorizer,
    pool: &Arc<Pool>,
    event: Bytes,
    received: std::time::SystemTime,
) -> Result<(Value, usize), Problem> {
    let admission = pool
        .admit()
        .await
        .map_err(|e| failed(lambda, pool_error(&e)))?;
    let pool = Arc::clone(pool);
    let trace = crate::ids::continued_trace_id(None, received);
    // In a task of its own: a caller who hangs up does not abandon the instance.
    let invoked = tokio::spawn(async move {
        pool.invoke(
            admission,
            crate::ids::request_id(),
            event,
            trace,
            false,
            false,
        )
        .await
    })
    .await
    .map_err(|_| failed(lambda, "the invocation was lost".into()))?;
    let reason = match invoked.result {
        Ok(Outcome::Response(bytes)) => {
            return serde_json::from_slice(&bytes)
                .map(|answer| (answer, bytes.len()))
                .map_err(|_| failed(lambda, "its answer is not JSON".into()));
        }
        // A REST API's authorizer says "no token, or a bad one" by failing so.
        Ok(Outcome::Error { message, .. }) if lambda.rest && message == "Unauthorized" => {
            return Err(Problem::Unauthorized);
        }
        Ok(Outcome::Error {
            error_type,
            message,
        }) => format!("it reported an error: {error_type}: {message}"),
        Ok(Outcome::TooLarge) => "its answer is over 6 MB".into(),
        Ok(Outcome::Incomplete) => "its answer broke off".into(),
        // Not asked for: the pool gathers a streamed answer whole.
        Ok(Outcome::Streamed(_)) => "it streamed its answer".into(),
        Err(e) => pool_error(&e),
    };
    Err(failed(lambda, reason))
}

/// Why the authorizer's pool gave no answer, in words.
fn pool_error(error: &PoolError) -> String {
    match error {
        PoolError::Throttled | PoolError::QueueTimeout(_) => "every instance is busy".into(),
        PoolError::IntegrationTimeout(_) | PoolError::Timeout => "it timed out".into(),
        PoolError::InitFailed(reason) => format!("it failed to start: {reason}"),
        PoolError::Crashed(reason) => format!("it crashed: {reason}"),
    }
}

pub(super) fn failed(lambda: &LambdaAuthorizer, reason: String) -> Problem {
    Problem::AuthorizerFailed {
        authorizer: lambda.name.clone(),
        reason,
    }
}

/// The context of an answer that lets the request in; 403 for one that does
/// not; 502 for one that is neither. A REST API's context comes flat, its
/// values as strings, beside the answer's `principalId`.
pub(super) fn decide(
    lambda: &LambdaAuthorizer,
    answer: &Value,
    arn: &str,
) -> Result<Value, Problem> {
    let allowed = if lambda.simple_responses {
        answer["isAuthorized"]
            .as_bool()
            .ok_or_else(|| failed(lambda, "its answer has no boolean isAuthorized".into()))?
    } else {
        policy_allows(lambda, answer, arn)?
    };
    if !allowed {
        return Err(Problem::Forbidden);
    }
    let context = match answer.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(context)) => context.clone(),
        Some(_) => return Err(failed(lambda, "its context is not an object".into())),
    };
    if !lambda.rest {
        return Ok(Value::Object(context));
    }
    let principal = answer["principalId"]
        .as_str()
        .ok_or_else(|| failed(lambda, "its answer has no principalId".into()))?;
    let mut flat = Map::new();
    for (key, value) in context {
        let text = match value {
            Value::String(text) => text,
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => {
                return Err(failed(
                    lambda,
                    format!("its context's {key:?} is not a string, number or boolean"),
                ));
            }
        };
        flat.insert(key, text.into());
    }
    flat.insert("principalId".into(), principal.into());
    Ok(Value::Object(flat))
}

/// Whether the answer's IAM policy allows invoking `arn`: some `Allow`
/// statement matches it and no `Deny` does.
fn policy_allows(lambda: &LambdaAuthorizer, answer: &Value, arn: &str) -> Result<bool, Problem> {
    let statements = answer["policyDocument"]["Statement"]
        .as_array()
        .ok_or_else(|| failed(lambda, "its answer has no policyDocument.Statement".into()))?;
    // Keys the runner does not evaluate would change the decision: refused
    // rather than ignored.
    let unread = ["NotAction", "NotResource", "Condition", "NotPrincipal"];
    if statements
        .iter()
        .any(|s| unread.iter().any(|k| s.get(k).is_some()))
    {
        return Err(failed(
            lambda,
            "its policy uses NotAction, NotResource, NotPrincipal or Condition".into(),
        ));
    }
    let applies = |effect: &str| {
        statements.iter().any(|s| {
            s["Effect"] == effect
                && any_matches(&s["Action"], "execute-api:invoke", true)
                && any_matches(&s["Resource"], arn, false)
        })
    };
    Ok(applies("Allow") && !applies("Deny"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_wins_and_a_missing_decision_is_the_authorizers_fault() {
        let lambda = LambdaAuthorizer {
            name: "Auth".into(),
            id: "Auth".into(),
            function_arn: "arn".into(),
            event: AuthorizerEvent::V2,
            rest: false,
            simple_responses: false,
            headers: vec![],
            query_strings: vec![],
            validation: None,
            ttl: std::time::Duration::ZERO,
        };
        let arn = "arn:aws:execute-api:r:1:local/$default/GET/x";
        let policy = |statements: Value| json!({"policyDocument": {"Statement": statements}, "context": {"u": 1}});
        let allow = json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"});
        let deny = json!({"Effect": "Deny", "Action": "*", "Resource": [arn]});
        assert_eq!(
            decide(&lambda, &policy(json!([allow])), arn).unwrap(),
            json!({"u": 1})
        );
        assert!(matches!(
            decide(&lambda, &policy(json!([allow, deny])), arn),
            Err(Problem::Forbidden)
        ));
        assert!(matches!(
            decide(&lambda, &policy(json!([])), arn),
            Err(Problem::Forbidden)
        ));
        assert!(matches!(
            decide(&lambda, &json!({"isAuthorized": true}), arn),
            Err(Problem::AuthorizerFailed { .. })
        ));
        // Actions ignore case; keys the runner cannot evaluate are refused.
        let shouting = json!({"Effect": "Deny", "Action": "EXECUTE-API:INVOKE", "Resource": "*"});
        let allow_all = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
        assert!(matches!(
            decide(&lambda, &policy(json!([allow_all, shouting])), arn),
            Err(Problem::Forbidden)
        ));
        let not_resource = json!({"Effect": "Deny", "Action": "*", "NotResource": "x"});
        assert!(matches!(
            decide(&lambda, &policy(json!([allow_all, not_resource])), arn),
            Err(Problem::AuthorizerFailed { .. })
        ));
    }

    #[test]
    fn a_rest_apis_context_comes_flat_as_strings_beside_its_principal() {
        let lambda = LambdaAuthorizer {
            name: "Token".into(),
            id: "Token".into(),
            function_arn: "arn".into(),
            event: AuthorizerEvent::Token,
            rest: true,
            simple_responses: false,
            headers: vec!["authorization".into()],
            query_strings: vec![],
            validation: None,
            ttl: std::time::Duration::ZERO,
        };
        let arn = "arn:aws:execute-api:r:1:local/Prod/GET/x";
        let allow = json!([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": arn}]);
        let answer = json!({
            "principalId": "alice",
            "policyDocument": {"Statement": allow},
            "context": {"n": 1, "ok": true, "s": "x"},
        });
        assert_eq!(
            decide(&lambda, &answer, arn).unwrap(),
            json!({"principalId": "alice", "n": "1", "ok": "true", "s": "x"})
        );
        let nested = json!({"principalId": "a", "policyDocument": {"Statement": allow}, "context": {"o": {}}});
        assert!(matches!(
            decide(&lambda, &nested, arn),
            Err(Problem::AuthorizerFailed { .. })
        ));
        let nobody = json!({"policyDocument": {"Statement": allow}});
        assert!(matches!(
            decide(&lambda, &nobody, arn),
            Err(Problem::AuthorizerFailed { .. })
        ));
    }
}
