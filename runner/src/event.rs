//! HTTP request → API Gateway proxy event, payload format 1.0 (REST) or 2.0 (HTTP API).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::query::parse_query;
use crate::routes::Route;
use crate::template::PayloadVersion;

/// What the server knows about one request.
pub struct Request<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    pub request_id: &'a str,
    pub received: SystemTime,
    pub account_id: &'a str,
}

/// Builds the event for `route` as the function's payload format expects it.
pub fn build(req: &Request<'_>, route: &Route, params: &BTreeMap<String, String>) -> Value {
    match route.payload {
        PayloadVersion::V2 => v2(req, route, params),
        PayloadVersion::V1 => v1(req, route, params),
    }
}

fn v2(req: &Request<'_>, route: &Route, params: &BTreeMap<String, String>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in req.headers.keys() {
        let values = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        if name == http::header::COOKIE {
            cookies.extend(values.flat_map(|v| {
                v.split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
            }));
        } else {
            headers.insert(
                name.as_str().to_owned(),
                Value::String(values.collect::<Vec<_>>().join(",")),
            );
        }
    }
    add_forwarding(&mut headers, req);
    let (body, base64) = body(req);
    let (time, epoch) = times(req.received);
    let domain = domain(req);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": req.account_id,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or_default(),
            "http": {
                "method": req.method,
                "path": req.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip.to_string(),
                "userAgent": header(req.headers, "user-agent"),
            },
            "requestId": req.request_id,
            "routeKey": route.route_key,
            "stage": route.stage,
            "time": time,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": base64,
    });
    let fields = event.as_object_mut().expect("object");
    if !cookies.is_empty() {
        fields.insert("cookies".into(), json!(cookies));
    }
    let query = parse_query(req.raw_query);
    if !query.is_empty() {
        let joined: Map<String, Value> = query
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        fields.insert("queryStringParameters".into(), Value::Object(joined));
    }
    if !params.is_empty() {
        fields.insert("pathParameters".into(), json!(params));
    }
    if let Some(body) = body {
        fields.insert("body".into(), Value::String(body));
    }
    event
}

fn v1(req: &Request<'_>, route: &Route, params: &BTreeMap<String, String>) -> Value {
    let mut headers = Map::new();
    let mut multi = Map::new();
    for name in req.headers.keys() {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), json!(values.last()));
        multi.insert(name.as_str().to_owned(), json!(values));
    }
    // `headers` holds the last of repeated values; the added peer extends that one.
    add_forwarding(&mut headers, req);
    for name in ["x-forwarded-for", "x-forwarded-proto"] {
        if let Some(value) = headers.get(name) {
            let mut values = multi
                .get(name)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            values.pop();
            values.push(value.clone());
            multi.insert(name.to_owned(), Value::Array(values));
        }
    }
    let query = parse_query(req.raw_query);
    let (single, multi_query) = if query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (
            query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.last())))
                .collect::<Map<_, _>>()
                .into(),
            json!(query),
        )
    };
    let (body, base64) = body(req);
    let (time, epoch) = times(req.received);
    let domain = domain(req);
    json!({
        "resource": route.pattern,
        "path": req.raw_path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": single,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": req.account_id,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.pattern,
            "httpMethod": req.method,
            "path": format!("/{}{}", route.stage, req.raw_path),
            "protocol": "HTTP/1.1",
            "stage": route.stage,
            "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or_default(),
            "requestId": req.request_id,
            "extendedRequestId": req.request_id,
            "requestTime": time,
            "requestTimeEpoch": epoch,
            "identity": {
                "sourceIp": req.source_ip.to_string(),
                "userAgent": header(req.headers, "user-agent"),
            },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn domain(req: &Request<'_>) -> String {
    let host = header(req.headers, "host");
    let host = host.rsplit_once(':').map_or(host.as_str(), |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host.as_str()
        }
    });
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.to_owned()
    }
}

/// The headers API Gateway adds for the function.
fn add_forwarding(headers: &mut Map<String, Value>, req: &Request<'_>) {
    let prior = headers
        .get("x-forwarded-for")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let chain = match prior {
        Some(p) => format!("{p}, {}", req.source_ip),
        None => req.source_ip.to_string(),
    };
    headers.insert("x-forwarded-for".into(), Value::String(chain));
    headers
        .entry("x-forwarded-proto")
        .or_insert_with(|| Value::String("http".into()));
}

/// API Gateway's `[day]/[month]/[year]:[time] +0000` and the epoch in milliseconds.
fn times(at: SystemTime) -> (String, u64) {
    let time = OffsetDateTime::from(at);
    let text = time
        .format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .unwrap_or_default();
    let epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (text, epoch)
}

/// The body as a string: text as is, anything else base64-encoded.
fn body(req: &Request<'_>) -> (Option<String>, bool) {
    if req.body.is_empty() {
        return (None, false);
    }
    let text_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(is_text);
    match std::str::from_utf8(req.body) {
        Ok(text) if text_type => (Some(text.to_owned()), false),
        _ => (
            Some(base64::engine::general_purpose::STANDARD.encode(req.body)),
            true,
        ),
    }
}

/// Content types whose bodies reach the function as text.
pub fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/yaml"
        )
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
