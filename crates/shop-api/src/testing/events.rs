//! API Gateway events and responses as tests build and read them.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shop_store::{Counters, OrderStore, ProductStore, StockStore, UserStore};

/// Every storage trait at once: what a whole shop needs.
pub trait Stores: UserStore + Counters + ProductStore + OrderStore + StockStore {}
impl<T: UserStore + Counters + ProductStore + OrderStore + StockStore> Stores for T {}

const EVENT_FIXTURE: &str = include_str!("../../tests/fixtures/apigw-v2-request.json");

/// An API Gateway v2 event: the fixture with this method, path (`/a/b?x=1`),
/// headers and body filled in.
pub fn gateway_event(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let mut event: Value = serde_json::from_str(EVENT_FIXTURE).expect("the fixture is JSON");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["routeKey"] = json!(format!("{method} {path}"));
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    // The path parameters API Gateway's routes would fill in.
    if let Some(id) = path.strip_prefix("/stock/reservations/") {
        event["pathParameters"] = json!({ "orderId": id });
    } else if let Some(rest) = path
        .strip_prefix("/products/")
        .or_else(|| path.strip_prefix("/orders/"))
    {
        let id = rest.strip_suffix("/cancel").unwrap_or(rest);
        event["pathParameters"] = json!({ "id": id });
    }
    for (name, value) in headers {
        event["headers"][name.to_ascii_lowercase()] = json!(value);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
        event["headers"]["content-length"] = json!(body.len().to_string());
    }
    event
}

/// A request as `lambda_http` parses it from [`gateway_event`].
pub fn gateway_request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request {
    let event = gateway_event(method, target, headers, body);
    lambda_http::request::from_str(&event.to_string()).expect("the event parses")
}

/// A response, with its body parsed as JSON where it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` names of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<Response<Body>> for TestResponse {
    fn from(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let text = match body {
            Body::Empty => String::new(),
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            text,
            body,
        }
    }
}

/// `Authorization: Bearer …` for an optional token.
pub fn bearer(token: Option<&str>) -> Vec<(&'static str, String)> {
    token
        .map(|t| vec![("authorization", format!("Bearer {t}"))])
        .unwrap_or_default()
}

/// The JSON content-type header with any others.
pub fn json_headers<'a>(extra: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    headers
}
