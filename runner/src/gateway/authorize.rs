//! A route's authorizer, asked before its function runs and before the body is
//! read: a JWT authorizer (see [`super::jwt`]), or a Lambda authorizer, a
//! function of the template that gets a payload 2.0 `REQUEST` event and
//! answers a simple response (`isAuthorized`) or an IAM policy. A Lambda
//! authorizer's answers are kept for its `ReauthorizeEvery`, keyed by its
//! identity sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::event::{self, Request};
use super::iam::any_matches;
use super::jwt::{Denied, Issuers};
use super::problem::Problem;
use super::query::parse_query;
use super::routes::Route;
use super::{App, MAX_EVENT_BYTES};
use crate::lambda::invocation::Outcome;
use crate::lambda::pool::PoolError;
use crate::template::{Authorizer, LambdaAuthorizer, PayloadVersion};

/// Lambda authorizers' answers kept at once; beyond, the expired ones go, and
/// if that is not enough, all of them.
const MAX_KEPT: usize = 10_000;
/// Larger answers are not kept.
const MAX_KEPT_ANSWER: usize = 16 * 1024;

/// The authorizers' state: the JWT issuers' keys, and the Lambda authorizers'
/// kept answers.
#[derive(Default)]
pub(super) struct Authorizers {
    issuers: Issuers,
    /// Answers by a keyed hash of (function, response kind, identity values):
    /// the same function asked with the same identity answers the same, and a
    /// policy is checked against each request's route anyway.
    kept: Mutex<HashMap<u64, (Instant, Arc<Value>)>>,
    hasher: std::hash::RandomState,
}

impl Authorizers {
    /// Forgets every kept answer (the functions may have changed).
    pub(super) fn forget(&self) {
        self.kept.lock().expect("lock").clear();
    }

    fn key(&self, lambda: &LambdaAuthorizer, identity: &[String]) -> u64 {
        use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
        let mut hasher = self.hasher.build_hasher();
        lambda.function_arn.hash(&mut hasher);
        lambda.simple_responses.hash(&mut hasher);
        // Length-prefixed by `Hash for [String]`: no two lists collide by layout.
        identity.hash(&mut hasher);
        hasher.finish()
    }
}

/// `requestContext.authorizer` for the route's event when the route has an
/// authorizer and it lets the request in, or the problem that refuses it.
pub(super) async fn context(
    app: &App,
    route: &Route,
    request: &Request<'_>,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<Option<Value>, Problem> {
    let Some(auth) = &route.auth else {
        return Ok(None);
    };
    match &*auth.authorizer {
        Authorizer::Jwt(jwt) => {
            let authorized = app
                .authorizers
                .issuers
                .authorize(jwt, &auth.scopes, request.headers)
                .await
                .map_err(|denied| match denied {
                    Denied::Unauthorized => Problem::Unauthorized,
                    Denied::Forbidden => Problem::Forbidden,
                })?;
            let inner = json!({"claims": authorized.claims, "scopes": authorized.scopes});
            Ok(Some(match route.payload {
                PayloadVersion::V2 => json!({ "jwt": inner }),
                PayloadVersion::V1 => inner,
            }))
        }
        Authorizer::Lambda(lambda) => {
            let context = ask_lambda(app, lambda, route, request, params)
                .await
                .inspect_err(|problem| {
                    if let Some(reason) = problem.cause() {
                        tracing::warn!(request_id = %request.request_id, authorizer = %lambda.name, %reason, "the authorizer gave no decision");
                    }
                })?;
            Ok(Some(match route.payload {
                PayloadVersion::V2 => json!({ "lambda": context }),
                PayloadVersion::V1 => context,
            }))
        }
    }
}

/// The Lambda authorizer's context for a request it lets in.
async fn ask_lambda(
    app: &App,
    lambda: &LambdaAuthorizer,
    route: &Route,
    request: &Request<'_>,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<Value, Problem> {
    let identity = identity(lambda, request).ok_or(Problem::Unauthorized)?;
    let served = app.served();
    let region = served.pools[route.function]
        .runtime
        .arn
        .split(':')
        .nth(3)
        .unwrap_or("us-east-1")
        .to_owned();
    let route_arn = format!(
        "arn:aws:execute-api:{region}:{}:local/{}/{}{}",
        request.account_id, route.stage, request.method, request.raw_path
    );
    let key = app.authorizers.key(lambda, &identity);
    let answer = match kept(&app.authorizers, key) {
        Some(answer) => answer,
        None => {
            let event = authorizer_event(request, route, params, &identity, &route_arn)?;
            let pool = served
                .pools
                .iter()
                .find(|p| *p.runtime.arn == *lambda.function_arn)
                .cloned()
                .ok_or_else(|| failed(lambda, "its function is not served".into()))?;
            drop(served);
            let (answer, size) = invoke(lambda, &pool, event, request.received).await?;
            let answer = Arc::new(answer);
            if size <= MAX_KEPT_ANSWER {
                keep(&app.authorizers, key, lambda.ttl, &answer);
            }
            answer
        }
    };
    decide(lambda, &answer, &route_arn)
}

/// The identity sources' values, in order; `None` when one is missing or empty.
fn identity(lambda: &LambdaAuthorizer, request: &Request<'_>) -> Option<Vec<String>> {
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
    values.iter().all(|v| !v.is_empty()).then_some(values)
}

/// The payload 2.0 `REQUEST` event: the route's event without its body, with
/// the route's ARN and the identity sources.
fn authorizer_event(
    request: &Request<'_>,
    route: &Route,
    params: &std::collections::BTreeMap<String, String>,
    identity: &[String],
    route_arn: &str,
) -> Result<Bytes, Problem> {
    let bodiless = Request {
        body: &[],
        authorizer: None,
        ..*request
    };
    // Built as payload 2.0 whatever the route's own format.
    let mut as_v2 = route.clone();
    as_v2.payload = PayloadVersion::V2;
    let built = event::build(&bodiless, &as_v2, params, MAX_EVENT_BYTES)
        .map_err(|_| Problem::PayloadTooLarge)?;
    let mut event: Value = serde_json::from_slice(&built).map_err(|_| Problem::PayloadTooLarge)?;
    if let Value::Object(map) = &mut event {
        map.remove("body");
        map.remove("isBase64Encoded");
        map.insert("type".into(), "REQUEST".into());
        map.insert("routeArn".into(), route_arn.into());
        map.insert("identitySource".into(), json!(identity));
    }
    Ok(Bytes::from(event.to_string()))
}

/// The authorizer's answer, and its size.
async fn invoke(
    lambda: &LambdaAuthorizer,
    pool: &Arc<crate::lambda::pool::Pool>,
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
        pool.invoke(admission, crate::ids::request_id(), event, trace, false)
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
        Ok(Outcome::Error {
            error_type,
            message,
        }) => format!("it reported an error: {error_type}: {message}"),
        Ok(Outcome::TooLarge) => "its answer is over 6 MB".into(),
        Ok(Outcome::Incomplete) => "its answer broke off".into(),
        Ok(Outcome::Streamed) => "it streamed its answer".into(),
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

fn failed(lambda: &LambdaAuthorizer, reason: String) -> Problem {
    Problem::AuthorizerFailed {
        authorizer: lambda.name.clone(),
        reason,
    }
}

/// The context of an answer that lets the request in; 403 for one that does
/// not; 502 for one that is neither.
fn decide(lambda: &LambdaAuthorizer, answer: &Value, route_arn: &str) -> Result<Value, Problem> {
    let allowed = if lambda.simple_responses {
        answer["isAuthorized"]
            .as_bool()
            .ok_or_else(|| failed(lambda, "its answer has no boolean isAuthorized".into()))?
    } else {
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
                    && any_matches(&s["Resource"], route_arn, false)
            })
        };
        applies("Allow") && !applies("Deny")
    };
    if !allowed {
        return Err(Problem::Forbidden);
    }
    match answer.get("context") {
        None | Some(Value::Null) => Ok(json!({})),
        Some(context @ Value::Object(_)) => Ok(context.clone()),
        Some(_) => Err(failed(lambda, "its context is not an object".into())),
    }
}

fn kept(authorizers: &Authorizers, key: u64) -> Option<Arc<Value>> {
    let kept = authorizers.kept.lock().expect("lock");
    kept.get(&key)
        .filter(|(until, _)| *until > Instant::now())
        .map(|(_, answer)| Arc::clone(answer))
}

fn keep(authorizers: &Authorizers, key: u64, ttl: Duration, answer: &Arc<Value>) {
    if ttl.is_zero() {
        return;
    }
    let mut kept = authorizers.kept.lock().expect("lock");
    if kept.len() >= MAX_KEPT {
        let now = Instant::now();
        kept.retain(|_, (until, _)| *until > now);
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
    }
    kept.insert(key, (Instant::now() + ttl, Arc::clone(answer)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_wins_and_a_missing_decision_is_the_authorizers_fault() {
        let lambda = LambdaAuthorizer {
            name: "Auth".into(),
            function_arn: "arn".into(),
            simple_responses: false,
            headers: vec![],
            query_strings: vec![],
            ttl: Duration::ZERO,
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
}
