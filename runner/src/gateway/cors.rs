//! CORS as API Gateway serves it from an API's settings: preflights answered
//! by the gateway itself (no function runs, no authorizer is asked), and, for
//! HTTP APIs, the API's headers on every answer in place of the function's own.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use super::Served;
use super::routes::{Lookup, Route};
use crate::template::CorsSpec;

/// A preflight's answer, when the request is one (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) and the route it asks about belongs to an
/// API with CORS settings. Refused origins and methods get a 204 without CORS
/// headers, which the browser takes as a refusal.
/// The caller has checked that the method is `OPTIONS`.
pub(super) fn preflight(
    served: &Served,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response<Bytes>> {
    if !path.starts_with('/') {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let asked = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()?
        .to_ascii_uppercase();
    // A method the path does not have is still the API's to refuse.
    let found = match served.routes.lookup(&asked, path) {
        Lookup::MethodNotAllowed(methods) => served.routes.lookup(methods.first()?, path),
        found => found,
    };
    let Lookup::Found(route, _) = found else {
        return None;
    };
    let cors = route.cors.as_deref()?;
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    let method_allowed = cors.allow_methods.iter().any(|m| m == "*" || *m == asked);
    let Some(allow_origin) = allowed_origin(cors, origin).filter(|_| method_allowed) else {
        return Some(response);
    };
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    let methods = if !cors.allow_methods.iter().any(|m| m == "*") {
        cors.allow_methods.join(", ")
    } else if cors.allow_credentials {
        // With credentials, `*` is taken literally: name the method asked for.
        asked
    } else {
        "*".to_owned()
    };
    insert(out, header::ACCESS_CONTROL_ALLOW_METHODS, &methods);
    let asked_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let allow_headers = if !cors.allow_headers.iter().any(|h| h == "*") {
        cors.allow_headers.join(", ")
    } else if cors.allow_credentials {
        asked_headers.to_owned()
    } else {
        "*".to_owned()
    };
    insert(out, header::ACCESS_CONTROL_ALLOW_HEADERS, &allow_headers);
    if let Some(age) = cors.max_age {
        out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    if cors.allow_credentials {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Some(response)
}

/// The answer to a request from `origin` on `route` (when it was routed), with
/// its HTTP API's CORS headers (see [`decorate`]).
pub(super) fn answered<B>(
    mut answer: Response<B>,
    route: Option<&Route>,
    origin: Option<&HeaderValue>,
) -> Response<B> {
    let cors = route.and_then(|r| r.cors.as_deref());
    if let Some(cors) = cors.filter(|c| c.on_responses) {
        decorate(answer.headers_mut(), cors, origin);
    }
    answer
}

/// Puts an HTTP API's CORS headers on an answer, replacing any the function
/// set: `Access-Control-Allow-Origin` (and the exposed headers and credentials)
/// for an allowed `origin`, none otherwise.
pub(super) fn decorate(headers: &mut HeaderMap, cors: &CorsSpec, origin: Option<&HeaderValue>) {
    let own: Vec<header::HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in own {
        headers.remove(name);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    let Some(allow_origin) = origin.and_then(|o| allowed_origin(cors, o)) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    insert(
        headers,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        &cors.expose_headers.join(", "),
    );
    if cors.allow_credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// What `Access-Control-Allow-Origin` says to `origin`: `*` when any origin
/// may call without credentials, the origin itself when it is listed, nothing
/// when it is not.
fn allowed_origin(cors: &CorsSpec, origin: &HeaderValue) -> Option<HeaderValue> {
    let any = cors.allow_origins.iter().any(|o| o == "*");
    if any && !cors.allow_credentials {
        return Some(HeaderValue::from_static("*"));
    }
    let text = origin.to_str().ok()?;
    let listed = any
        || cors
            .allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(text));
    listed.then(|| origin.clone())
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if value.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(origins: &[&str], credentials: bool) -> CorsSpec {
        CorsSpec {
            allow_origins: origins.iter().map(|s| s.to_string()).collect(),
            allow_methods: vec!["GET".into()],
            allow_headers: vec!["authorization".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: Some(60),
            allow_credentials: credentials,
            on_responses: true,
        }
    }

    #[test]
    fn an_answer_keeps_only_the_apis_cors_headers() {
        let cors = spec(&["https://shop.example"], true);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("DELETE"),
        );
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let origin = HeaderValue::from_static("https://shop.example");
        decorate(&mut headers, &cors, Some(&origin));
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "x-request-id"
        );
        assert!(headers.get("access-control-allow-methods").is_none());
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain");

        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        let stranger = HeaderValue::from_static("https://evil.example");
        decorate(&mut headers, &cors, Some(&stranger));
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(headers[header::VARY], "Origin");
    }

    #[test]
    fn any_origin_is_answered_with_a_star_unless_credentials_are_allowed() {
        let origin = HeaderValue::from_static("https://a.example");
        assert_eq!(allowed_origin(&spec(&["*"], false), &origin).unwrap(), "*");
        assert_eq!(
            allowed_origin(&spec(&["HTTPS://A.example"], true), &origin).unwrap(),
            "https://a.example"
        );
        assert!(allowed_origin(&spec(&["https://b.example"], false), &origin).is_none());
    }
}
