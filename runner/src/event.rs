//! HTTP request → API Gateway proxy event, payload format 1.0 (REST) or 2.0 (HTTP API).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::client::Caller;
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
    /// Who is calling, as the gateway tells it.
    pub caller: &'a Caller,
    /// The gateway's own name for itself (`requestContext.domainName`), never the
    /// client's `Host`.
    pub domain_name: &'a str,
    pub request_id: &'a str,
    pub received: SystemTime,
    pub account_id: &'a str,
}

/// The event would be larger than the limit it was built under.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

/// Builds the event for `route` as the function's payload format expects it, as JSON
/// of at most `limit` bytes.
///
/// The event is written straight from the request's parts, borrowing them where it
/// can: it is built on every request, so it avoids a JSON tree of its own. Writing
/// stops as soon as it passes the limit, so a body that grows when escaped (control
/// characters take six bytes each) never grows past it in memory.
pub fn build(
    req: &Request<'_>,
    route: &Route,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<Vec<u8>, TooLarge> {
    let mut out = Bounded {
        bytes: Vec::with_capacity((req.body.len() + 2048).min(limit)),
        limit,
    };
    let written = match route.payload {
        PayloadVersion::V2 => serde_json::to_writer(&mut out, &v2(req, route, params)),
        PayloadVersion::V1 => serde_json::to_writer(&mut out, &v1(req, route, params)),
    };
    // Every key is a string and every value plain data: only the limit can stop it.
    written.map(|()| out.bytes).map_err(|_| TooLarge)
}

/// A buffer that refuses to grow past its limit.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let needed = self.bytes.len() + data.len();
        if needed > self.limit {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        // Growing by doubling, but never past the limit: memory held stays within
        // what the body budget granted.
        if needed > self.bytes.capacity() {
            let target = (self.bytes.capacity() * 2).clamp(needed, self.limit);
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Name/value pairs written as a JSON object, in their order (names are unique).
struct Pairs<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Pairs<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<K: AsRef<str>, V> Pairs<K, V> {
    fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.0
            .iter_mut()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

type Text<'a> = Cow<'a, str>;

fn text(value: &HeaderValue) -> Text<'_> {
    String::from_utf8_lossy(value.as_bytes())
}

/// The cookies of one `Cookie` header, borrowed unless the header is not UTF-8.
fn cookies_of(value: &HeaderValue) -> Vec<Text<'_>> {
    fn split(v: &str) -> impl Iterator<Item = &str> {
        v.split(';').map(str::trim).filter(|c| !c.is_empty())
    }
    match value.to_str() {
        Ok(v) => split(v).map(Cow::Borrowed).collect(),
        Err(_) => split(&text(value))
            .map(|c| Cow::Owned(c.to_owned()))
            .collect(),
    }
}

fn no_params(params: &&BTreeMap<String, String>) -> bool {
    params.is_empty()
}

/// Payload format 2.0 (HTTP APIs).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2<'a> {
    version: &'static str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<Text<'a>>,
    headers: Pairs<&'a str, Text<'a>>,
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    query_string_parameters: Pairs<String, String>,
    #[serde(skip_serializing_if = "no_params")]
    path_parameters: &'a BTreeMap<String, String>,
    request_context: V2Context<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Text<'a>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Context<'a> {
    account_id: &'a str,
    api_id: &'static str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: V2Http<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: String,
    time_epoch: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: IpAddr,
    user_agent: Text<'a>,
}

fn v2<'a>(req: &'a Request<'a>, route: &'a Route, params: &'a BTreeMap<String, String>) -> V2<'a> {
    let mut headers = Pairs(Vec::with_capacity(req.headers.keys_len() + 2));
    let mut cookies = Vec::new();
    for name in req.headers.keys().filter(|n| !is_forwarding(n.as_str())) {
        let mut values = req.headers.get_all(name).iter();
        if name == http::header::COOKIE {
            cookies.extend(values.flat_map(cookies_of));
            continue;
        }
        let first = values.next().map(text).unwrap_or_default();
        let joined = values.fold(first, |mut all, v| {
            let all_mut = all.to_mut();
            all_mut.push(',');
            all_mut.push_str(&text(v));
            all
        });
        headers.0.push((name.as_str(), joined));
    }
    add_gateway_headers(&mut headers, req);
    let (body, is_base64_encoded) = body(req);
    let (time, time_epoch) = times(req.received);
    let query_string_parameters = Pairs(
        parse_query(req.raw_query)
            .into_iter()
            .map(|(k, v)| (k, v.join(",")))
            .collect(),
    );
    V2 {
        version: "2.0",
        route_key: &route.route_key,
        raw_path: req.raw_path,
        raw_query_string: req.raw_query,
        cookies,
        headers,
        query_string_parameters,
        path_parameters: params,
        request_context: V2Context {
            account_id: req.account_id,
            api_id: "local",
            domain_name: req.domain_name,
            domain_prefix: domain_prefix(req.domain_name),
            http: V2Http {
                method: req.method,
                path: req.raw_path,
                protocol: "HTTP/1.1",
                source_ip: req.caller.source_ip,
                user_agent: header(req.headers, "user-agent"),
            },
            request_id: req.request_id,
            route_key: &route.route_key,
            stage: &route.stage,
            time,
            time_epoch,
        },
        body,
        is_base64_encoded,
    }
}

/// Payload format 1.0 (REST APIs).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1<'a> {
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: Pairs<&'a str, Text<'a>>,
    multi_value_headers: Pairs<&'a str, Vec<Text<'a>>>,
    query_string_parameters: Option<Pairs<String, String>>,
    multi_value_query_string_parameters: Option<BTreeMap<String, Vec<String>>>,
    path_parameters: Option<&'a BTreeMap<String, String>>,
    stage_variables: Option<()>,
    request_context: V1Context<'a>,
    body: Option<Text<'a>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1Context<'a> {
    account_id: &'a str,
    api_id: &'static str,
    resource_id: &'static str,
    resource_path: &'a str,
    http_method: &'a str,
    path: String,
    protocol: &'static str,
    stage: &'a str,
    domain_name: &'a str,
    domain_prefix: &'a str,
    request_id: &'a str,
    extended_request_id: &'a str,
    request_time: String,
    request_time_epoch: u64,
    identity: V1Identity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1Identity<'a> {
    source_ip: IpAddr,
    user_agent: Text<'a>,
}

fn v1<'a>(req: &'a Request<'a>, route: &'a Route, params: &'a BTreeMap<String, String>) -> V1<'a> {
    let query = parse_query(req.raw_query);
    let mut headers = Pairs(Vec::with_capacity(req.headers.keys_len() + 2));
    let mut multi = Pairs(Vec::with_capacity(req.headers.keys_len() + 2));
    for name in req.headers.keys().filter(|n| !is_forwarding(n.as_str())) {
        let values: Vec<Text<'_>> = req.headers.get_all(name).iter().map(text).collect();
        headers
            .0
            .push((name.as_str(), values.last().cloned().unwrap_or_default()));
        multi.0.push((name.as_str(), values));
    }
    let added = headers.0.len();
    add_gateway_headers(&mut headers, req);
    for (name, value) in &headers.0[added..] {
        multi.0.push((name, vec![value.clone()]));
    }
    let (body, is_base64_encoded) = body(req);
    let (request_time, request_time_epoch) = times(req.received);
    let single = Pairs(
        query
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.last()?.clone())))
            .collect(),
    );
    let present = !query.is_empty();
    V1 {
        resource: &route.pattern,
        path: req.raw_path,
        http_method: req.method,
        headers,
        multi_value_headers: multi,
        query_string_parameters: present.then_some(single),
        multi_value_query_string_parameters: present.then_some(query),
        path_parameters: (!params.is_empty()).then_some(params),
        stage_variables: None,
        request_context: V1Context {
            account_id: req.account_id,
            api_id: "local",
            resource_id: "local",
            resource_path: &route.pattern,
            http_method: req.method,
            path: format!("/{}{}", route.stage, req.raw_path),
            protocol: "HTTP/1.1",
            stage: &route.stage,
            domain_name: req.domain_name,
            domain_prefix: domain_prefix(req.domain_name),
            request_id: req.request_id,
            extended_request_id: req.request_id,
            request_time,
            request_time_epoch,
            identity: V1Identity {
                source_ip: req.caller.source_ip,
                user_agent: header(req.headers, "user-agent"),
            },
        },
        body,
        is_base64_encoded,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Text<'a> {
    headers.get(name).map(text).unwrap_or_default()
}

/// The first label of the gateway's domain name (`domainPrefix`).
fn domain_prefix(domain_name: &str) -> &str {
    domain_name.split(['.', ':']).next().unwrap_or_default()
}

/// Headers that are the gateway's to set: a client's own are dropped.
fn is_forwarding(name: &str) -> bool {
    name.starts_with("x-forwarded-")
}

/// The headers API Gateway sets for the function: `X-Forwarded-*`, and `Host` when
/// the client sent none (HTTP/1.0).
fn add_gateway_headers<'a>(headers: &mut Pairs<&'a str, Text<'a>>, req: &Request<'a>) {
    if headers.get_mut("host").is_none() {
        headers.0.push(("host", Cow::Borrowed(req.domain_name)));
    }
    let caller = req.caller;
    headers.0.push((
        "x-forwarded-for",
        Cow::Borrowed(caller.forwarded_for.as_str()),
    ));
    headers
        .0
        .push(("x-forwarded-port", Cow::Owned(caller.port.to_string())));
    headers
        .0
        .push(("x-forwarded-proto", Cow::Borrowed(caller.proto)));
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
fn body<'a>(req: &Request<'a>) -> (Option<Text<'a>>, bool) {
    if req.body.is_empty() {
        return (None, false);
    }
    let text_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(is_text);
    match std::str::from_utf8(req.body) {
        Ok(text) if text_type => (Some(Cow::Borrowed(text)), false),
        _ => (
            Some(Cow::Owned(
                base64::engine::general_purpose::STANDARD.encode(req.body),
            )),
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
