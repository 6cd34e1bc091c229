//! JWT authorizers as an HTTP API runs them: the token from the route's
//! identity header (with or without `Bearer `), signed with RSA by a key of the
//! issuer's JWKS (found through its OpenID discovery document, cached, and
//! fetched again for an unknown `kid`, at most every 30 s), unexpired, from the
//! issuer, for one of the audiences (`aud` or `client_id`), and holding one of
//! the route's scopes when it names any.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::template::JwtAuthorizer;

/// How soon an unknown `kid` may make the runner fetch an issuer's keys again.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// How long fetched keys are trusted before they are fetched again, so that a
/// key the issuer withdrew stops working.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The most a discovery document or a JWKS may weigh.
const MAX_DOCUMENT: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Denied {
    /// 401: no token, or one that does not verify.
    Unauthorized,
    /// 403: a valid token without the route's scopes.
    Forbidden,
}

/// What a verified token tells the function.
#[derive(Debug)]
pub(super) struct Authorized {
    /// The claims, each as text (as API Gateway passes them).
    pub(super) claims: Map<String, Value>,
    /// The token's scopes, when the route names any.
    pub(super) scopes: Option<Vec<String>>,
}

/// Every issuer's signing keys, by `kid`.
pub(super) struct Issuers {
    client: reqwest::Client,
    /// Read without waiting; written after a fetch.
    keys: std::sync::Mutex<HashMap<String, Fetched>>,
    /// One fetch at a time: requests with known keys never wait for it.
    fetching: tokio::sync::Mutex<()>,
}

struct Fetched {
    keys: Arc<HashMap<String, DecodingKey>>,
    at: Instant,
}

impl Default for Issuers {
    fn default() -> Self {
        Issuers {
            client: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                // A redirect could lead past the https-or-loopback rule.
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap_or_default(),
            keys: std::sync::Mutex::default(),
            fetching: tokio::sync::Mutex::default(),
        }
    }
}

impl Issuers {
    /// Checks the request's token against a route's authorizer and scopes.
    pub(super) async fn authorize(
        &self,
        authorizer: &JwtAuthorizer,
        route_scopes: &[String],
        headers: &HeaderMap,
    ) -> Result<Authorized, Denied> {
        let token = token(headers, &authorizer.header).ok_or(Denied::Unauthorized)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| Denied::Unauthorized)?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(Denied::Unauthorized);
        }
        let kid = header.kid.ok_or(Denied::Unauthorized)?;
        let key = self
            .key(authorizer, &kid)
            .await
            .ok_or(Denied::Unauthorized)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&authorizer.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_nbf = true;
        // `aud` or `client_id`, checked below.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| Denied::Unauthorized)?
            .claims;
        // jsonwebtoken also takes a list holding the issuer; API Gateway wants one.
        if claims.get("iss").and_then(Value::as_str) != Some(authorizer.issuer.as_str())
            || !for_audience(&claims, &authorizer.audience)
        {
            return Err(Denied::Unauthorized);
        }
        let held = scopes(&claims);
        if !route_scopes.is_empty() && !route_scopes.iter().any(|s| held.contains(s)) {
            return Err(Denied::Forbidden);
        }
        Ok(Authorized {
            claims: claims
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(claim_text(v))))
                .collect(),
            scopes: (!route_scopes.is_empty()).then_some(held),
        })
    }

    /// The issuer's key `kid`, fetching the issuer's keys when they are not
    /// known yet, older than an hour, or lack `kid` and were not fetched in the
    /// last 30 s. A failed fetch keeps the keys known before.
    async fn key(&self, authorizer: &JwtAuthorizer, kid: &str) -> Option<DecodingKey> {
        let issuer = &authorizer.issuer;
        let look = |keys: &HashMap<String, Fetched>| -> Result<Option<DecodingKey>, ()> {
            match keys.get(issuer) {
                Some(f) if f.at.elapsed() < KEYS_MAX_AGE => match f.keys.get(kid) {
                    Some(key) => Ok(Some(key.clone())),
                    None if f.at.elapsed() < REFETCH_AFTER => Ok(None),
                    None => Err(()),
                },
                _ => Err(()),
            }
        };
        if let Ok(found) = look(&self.keys.lock().expect("lock")) {
            return found;
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Fetched meanwhile by the request that held the lock?
        if let Ok(found) = look(&self.keys.lock().expect("lock")) {
            return found;
        }
        let fetched = self.fetch(issuer).await;
        let mut cache = self.keys.lock().expect("lock");
        let keys = match fetched {
            Ok(keys) => Arc::new(keys),
            Err(reason) => {
                tracing::warn!(authorizer = %authorizer.name, %issuer, %reason, "cannot read the issuer's signing keys");
                cache
                    .get(issuer)
                    .map(|f| Arc::clone(&f.keys))
                    .unwrap_or_default()
            }
        };
        let found = keys.get(kid).cloned();
        cache.insert(
            issuer.clone(),
            Fetched {
                keys,
                at: Instant::now(),
            },
        );
        found
    }

    /// The issuer's RSA signing keys, through its OpenID discovery document.
    async fn fetch(&self, issuer: &str) -> Result<HashMap<String, DecodingKey>, String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document = self.document(&discovery).await?;
        let jwks_uri = document["jwks_uri"]
            .as_str()
            .ok_or("the discovery document has no jwks_uri")?;
        let jwks = self.document(jwks_uri).await?;
        let keys = jwks["keys"].as_array().ok_or("the JWKS has no keys")?;
        Ok(keys
            .iter()
            .filter(|k| k["kty"] == "RSA" && k.get("use").is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let kid = k["kid"].as_str()?;
                let key = DecodingKey::from_rsa_components(k["n"].as_str()?, k["e"].as_str()?);
                Some((kid.to_owned(), key.ok()?))
            })
            .collect())
    }

    /// A JSON document from `url`: https, or http on loopback only.
    async fn document(&self, url: &str) -> Result<Value, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| format!("{url} is not a URL"))?;
        let loopback = match parsed.host_str() {
            Some("localhost") => true,
            Some(host) => host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        };
        if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
            return Err(format!(
                "{url}: only https (or http on loopback) is fetched"
            ));
        }
        let mut response = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("{url} is larger than {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| format!("{url} is not JSON"))
    }
}

/// The token in header `name`, without its `Bearer ` prefix.
fn token<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?.to_str().ok()?.trim();
    // Two tokens: which one would the function believe?
    if values.next().is_some() {
        return None;
    }
    if value.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// `aud` (one or a list) names one of the audiences; only a token without
/// `aud` is judged by its `client_id`.
fn for_audience(claims: &Map<String, Value>, audience: &[String]) -> bool {
    let listed = |v: &Value| v.as_str().is_some_and(|a| audience.iter().any(|x| x == a));
    match claims.get("aud") {
        None | Some(Value::Null) => claims.get("client_id").is_some_and(listed),
        Some(Value::Array(items)) => items.iter().any(listed),
        Some(one) => listed(one),
    }
}

/// The token's scopes: `scope` (space-separated) or `scp` (a list, or
/// space-separated).
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let words = |s: &str| s.split_ascii_whitespace().map(str::to_owned).collect();
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => words(s),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A claim as API Gateway passes it: text as is, a list as `[a b]`, anything
/// else as JSON.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_text).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_read_with_or_without_bearer() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(token(&headers, "authorization"), Some("abc"));
        headers.insert("authorization", "bearer  abc ".parse().unwrap());
        assert_eq!(token(&headers, "authorization"), Some("abc"));
        headers.insert("authorization", "abc".parse().unwrap());
        assert_eq!(token(&headers, "authorization"), Some("abc"));
        headers.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(token(&headers, "authorization"), None);
        assert_eq!(token(&headers, "x-token"), None);
    }

    #[test]
    fn audience_comes_from_aud_or_client_id() {
        let audience = ["shop".to_owned()];
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert!(for_audience(&claims(json!({"aud": "shop"})), &audience));
        assert!(for_audience(
            &claims(json!({"aud": ["x", "shop"]})),
            &audience
        ));
        assert!(for_audience(
            &claims(json!({"client_id": "shop"})),
            &audience
        ));
        assert!(!for_audience(&claims(json!({"aud": "other"})), &audience));
        assert!(!for_audience(&claims(json!({})), &audience));
    }

    #[test]
    fn scopes_and_claims_read_as_api_gateway_passes_them() {
        let claims = json!({"scope": "a b", "n": 7, "groups": ["x", "y"]});
        let claims = claims.as_object().unwrap();
        assert_eq!(scopes(claims), ["a", "b"]);
        let scp = json!({"scp": ["c"]});
        assert_eq!(scopes(scp.as_object().unwrap()), ["c"]);
        assert_eq!(claim_text(&claims["n"]), "7");
        assert_eq!(claim_text(&claims["groups"]), "[x y]");
    }
}
