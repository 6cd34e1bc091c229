//! Request and response helpers shared by every handler: the request id, the
//! JSON body rules (415, 413, 400), query parameters, path ids, JSON answers.

use std::time::{Duration, Instant};

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::error::ApiError;
use shop_domain::paging::PageParams;
use shop_domain::validation::Errors;
use shop_store::deadline;

/// Request bodies above this many bytes are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The invocation's request id: Lambda's own when running under a runtime, else
/// API Gateway's, else a fresh one (a handler called directly from a test).
pub fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref() {
        return context.request_id.clone();
    }
    let gateway_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    gateway_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Time kept back from the invocation's deadline for answering: database
/// operations end this long before it.
const ANSWER_RESERVE: Duration = Duration::from_millis(500);

/// What a JSON answer's buffer starts with: a page of 20 products is about
/// 4.5 KB.
const JSON_CAPACITY: usize = 8 * 1024;

/// Runs a handler inside a span carrying the request id, with its database
/// operations bounded by the invocation's deadline (see
/// [`shop_store::deadline`]), renders its error (if any) as problem+json, and
/// logs one line with the outcome.
pub async fn serve<F>(request: Request, handler: impl FnOnce(Request) -> F) -> Response<Body>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let request_id = request_id(&request);
    let span = tracing::info_span!("request", request_id = %request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let deadline =
        time_left(&request).map(|left| Instant::now() + left.saturating_sub(ANSWER_RESERVE));
    let work = async move {
        let response = handler(request)
            .await
            .unwrap_or_else(|error| error.into_response(&request_id));
        tracing::info!(%method, %path, status = response.status().as_u16(), "handled");
        response
    };
    deadline::scope(deadline, work.instrument(span)).await
}

/// What is left of the invocation (from Lambda's deadline), if it runs under a
/// runtime that says; kept between one second and fifteen minutes.
pub fn time_left(request: &Request) -> Option<Duration> {
    let context = request.lambda_context_ref()?;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = u64::try_from(i128::from(context.deadline) - now_ms).unwrap_or(0);
    Some(Duration::from_millis(left).clamp(Duration::from_secs(1), Duration::from_secs(900)))
}

/// The client's address as the rate limits count it: API Gateway's `requestContext`
/// source IP (the runner, behind a proxy it trusts, takes it from
/// `X-Forwarded-For`; headers are never read for it, any client can write them).
/// An IPv6 client is counted by its /64, the block one subscriber gets: counted
/// by the whole address, it could take a fresh one for every request.
pub fn source_ip(request: &Request) -> String {
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    };
    match ip.as_deref().map(str::parse::<std::net::IpAddr>) {
        Some(Ok(address)) => client_block(address),
        _ => ip
            .filter(|ip| !ip.is_empty())
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// An IPv4 address as itself (also when written IPv4-mapped), an IPv6 one as its
/// /64.
fn client_block(address: std::net::IpAddr) -> String {
    match address {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        v4 => v4.to_string(),
    }
}

/// The request's body as JSON text, after the content-type and size rules.
pub fn json_body(request: &Request) -> Result<&str, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match content_type {
        Some(ct) if is_json(ct) => {}
        None if bytes.is_empty() => {}
        _ => return Err(ApiError::UnsupportedMediaType),
    }
    std::str::from_utf8(bytes)
        .map_err(|_| ApiError::MalformedJson("the request body is not valid UTF-8".into()))
}

/// `application/json`, any `application/*+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON answer.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>, ApiError> {
    // Room for a page of products at once, rather than growing to it from
    // serde_json's 128 bytes through six copies.
    let mut body = Vec::with_capacity(JSON_CAPACITY);
    serde_json::to_writer(&mut body, value).map_err(|e| {
        tracing::error!(error = %e, "serialising a response failed");
        ApiError::Internal
    })?;
    let body = String::from_utf8(body).map_err(|_| ApiError::Internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .map_err(|_| ApiError::Internal)
}

/// A JSON answer with a `Location` header (201 Created).
pub fn created<T: Serialize>(location: &str, value: &T) -> Result<Response<Body>, ApiError> {
    let mut response = json(201, value)?;
    let location = location.parse().map_err(|_| ApiError::Internal)?;
    response
        .headers_mut()
        .insert(http::header::LOCATION, location);
    Ok(response)
}

/// An empty `204 No Content`.
pub fn no_content() -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(204)
        .body(Body::Empty)
        .map_err(|_| ApiError::Internal)
}

/// A single product's answer, with the `ETag` that names its version.
pub fn with_etag(
    mut response: Response<Body>,
    product: &shop_domain::Product,
) -> Result<Response<Body>, ApiError> {
    let tag = product.etag().parse().map_err(|_| ApiError::Internal)?;
    response.headers_mut().insert(http::header::ETAG, tag);
    Ok(response)
}

/// The query string's parameters.
#[derive(Debug, Default)]
pub struct Query(QueryMap);

impl Query {
    pub fn of(request: &Request) -> Self {
        match request.query_string_parameters_ref() {
            Some(params) => Self(params.clone()),
            None => Self::parse(request.uri().query().unwrap_or_default()),
        }
    }

    /// Parses a raw query string (`a=1&b=2`).
    pub fn parse(raw: &str) -> Self {
        Self(raw.parse().unwrap_or_default())
    }

    /// A parameter that may appear at most once.
    pub fn single(&self, name: &str, errors: &mut Errors) -> Option<&str> {
        let values = self.0.all(name)?;
        if values.len() > 1 {
            errors.push(name, "must be given at most once");
            return None;
        }
        values.first().copied()
    }

    /// Every value of a parameter that may repeat.
    pub fn all(&self, name: &str) -> Option<Vec<&str>> {
        self.0.all(name)
    }

    /// The page asked for by `limit` and `cursor`.
    pub fn page(&self, errors: &mut Errors) -> PageParams {
        let mut page = PageParams::default();
        if let Some(limit) = self.single("limit", errors) {
            page.read_limit(limit, errors);
        }
        if let Some(cursor) = self.single("cursor", errors) {
            page.read_cursor(cursor, errors);
        }
        page
    }

    /// Reports parameters this endpoint does not know, so a typo is not ignored.
    pub fn deny_unknown(&self, allowed: &[&str], errors: &mut Errors) {
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in self.0.iter() {
            if !allowed.contains(&name) && !seen.contains(&name) {
                seen.push(name);
                errors.push(name, "is not a known query parameter");
            }
        }
    }
}

/// `Ok(())` when no query parameter or header failed, else the 400 listing
/// every failure.
pub fn finish_request(errors: Errors) -> Result<(), ApiError> {
    let errors = errors.into_fields();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(errors))
    }
}

/// The `{name}` path parameter of a route that ends in the literal `suffix`
/// (`/orders/{id}/cancel`). Where no router filled it in, it is the segment
/// before the suffix.
pub fn path_param_before(request: &Request, name: &str, suffix: &str) -> String {
    if let Some(value) = request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
    {
        return value.to_string();
    }
    let path = request.uri().path().trim_end_matches('/');
    path.strip_suffix(suffix)
        .unwrap_or(path)
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The `{name}` path parameter. Where no router filled it in (a bare
/// `cargo lambda watch`), it is the path's last segment.
pub fn path_param(request: &Request, name: &str) -> String {
    if let Some(value) = request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
    {
        return value.to_string();
    }
    request
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: Option<&str>, body: Body) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(body).unwrap()
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(ct), "{ct}");
        }
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json(ct), "{ct}");
        }
    }

    #[test]
    fn a_body_with_another_content_type_is_415() {
        let r = request(Some("text/plain"), Body::Text("{}".into()));
        assert!(matches!(json_body(&r), Err(ApiError::UnsupportedMediaType)));
        let r = request(None, Body::Text("{}".into()));
        assert!(matches!(json_body(&r), Err(ApiError::UnsupportedMediaType)));
    }

    #[test]
    fn a_body_over_one_mebibyte_is_413_and_one_at_the_limit_is_read() {
        let at_limit = format!("\"{}\"", "a".repeat(MAX_BODY_BYTES - 2));
        let r = request(Some("application/json"), Body::Text(at_limit));
        assert!(json_body(&r).is_ok());
        let over = "a".repeat(MAX_BODY_BYTES + 1);
        let r = request(Some("application/json"), Body::Text(over));
        assert!(matches!(json_body(&r), Err(ApiError::PayloadTooLarge(_))));
    }

    #[test]
    fn a_repeated_or_unknown_query_parameter_is_reported() {
        let query = Query::parse("limit=1&limit=2&colour=red");
        let mut errors = Errors::default();
        assert_eq!(query.single("limit", &mut errors), None);
        query.deny_unknown(&["limit"], &mut errors);
        let Err(ApiError::InvalidRequest(list)) = finish_request(errors) else {
            panic!("the parameters are refused as a request error")
        };
        let fields: Vec<_> = list.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "colour"]);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_block() {
        let block = |text: &str| client_block(text.parse().unwrap());
        assert_eq!(block("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(block("2001:db8:1:2:bbbb::9"), block("2001:db8:1:2:aaaa::1"));
        assert_ne!(block("2001:db8:1:3::1"), block("2001:db8:1:2::1"));
        assert_eq!(block("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(block("203.0.113.7"), "203.0.113.7");
    }

    #[test]
    fn the_path_id_falls_back_to_the_last_segment() {
        let r: Request = http::Request::builder()
            .uri("/products/abc/")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(path_param(&r, "id"), "abc");
    }
}
