//! A route's authorizer, asked before its function runs and before the body is
//! read: a JWT authorizer (see [`super::jwt`]), or a Lambda authorizer, a
//! function of the template (see [`super::lambda_auth`]). A Lambda
//! authorizer's answers are kept for its `ReauthorizeEvery`, keyed by its
//! identity sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::App;
use super::event::Request;
use super::jwt::{Denied, Issuers};
use super::lambda_auth::{authorizer_event, decide, failed, identity, invoke};
use super::problem::Problem;
use super::routes::Route;
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
    /// Answers by a keyed hash of (authorizer, function, event and answer
    /// kinds, identity values):
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
        lambda.id.hash(&mut hasher);
        lambda.function_arn.hash(&mut hasher);
        lambda.simple_responses.hash(&mut hasher);
        lambda.event.hash(&mut hasher);
        lambda.rest.hash(&mut hasher);
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
    // A route's ARN (payload 2.0), or a method's: the same form.
    let route_arn = format!(
        "arn:aws:execute-api:{region}:{}:local/{}/{}{}",
        request.account_id,
        route.stage,
        request.method,
        unreserved_decoded(request.raw_path)
    );
    let key = app.authorizers.key(lambda, &identity);
    let kept_answer = if lambda.ttl.is_zero() {
        None
    } else {
        kept(&app.authorizers, key)
    };
    let answer = match kept_answer {
        Some(answer) => answer,
        None => {
            let event = authorizer_event(lambda, request, route, params, &identity, &route_arn)?;
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

/// `path` with its percent-escapes of unreserved characters (letters, digits,
/// `-._~`) decoded, as the route matched it: `/items/%73ecret` is
/// `/items/secret` to a policy too. Other escapes (`%2F`) stay.
fn unreserved_decoded(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return path.into();
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b));
        match decoded {
            Some(b) => {
                out.push(char::from(b));
                i += 3;
            }
            None => {
                let c = path[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_authorizers_on_one_function_never_share_answers() {
        let authorizer = |id: &str| LambdaAuthorizer {
            name: "Same".into(),
            id: id.into(),
            function_arn: "arn".into(),
            event: crate::template::AuthorizerEvent::Token,
            rest: true,
            simple_responses: false,
            headers: vec!["authorization".into()],
            query_strings: vec![],
            validation: None,
            ttl: Duration::from_secs(300),
        };
        let authorizers = Authorizers::default();
        let token = ["t".to_owned()];
        let (public, private) = (authorizer("Public"), authorizer("Private"));
        assert_eq!(
            authorizers.key(&public, &token),
            authorizers.key(&public, &token)
        );
        assert_ne!(
            authorizers.key(&public, &token),
            authorizers.key(&private, &token)
        );
    }

    #[test]
    fn escapes_of_unreserved_characters_are_decoded_for_the_arn() {
        assert_eq!(unreserved_decoded("/items/%73ecret"), "/items/secret");
        assert_eq!(unreserved_decoded("/a%2Fb/%7e%zz%"), "/a%2Fb/~%zz%");
        assert_eq!(unreserved_decoded("/plain"), "/plain");
    }
}
