//! The request as the gateway read it, and the pieces of it both payload
//! formats write: headers, cookies, the body, times.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::decimal::Decimal;
use crate::gateway::client::Caller;

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
    /// `requestContext.authorizer`, when the route's authorizer let it in.
    pub authorizer: Option<&'a serde_json::Value>,
}

/// Name/value pairs written as a JSON object, in their order (names are unique).
pub(super) struct Pairs<K, V>(pub(super) Vec<(K, V)>);

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
    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.0
            .iter_mut()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub(super) type Text<'a> = Cow<'a, str>;

pub(super) fn text(value: &HeaderValue) -> Text<'_> {
    String::from_utf8_lossy(value.as_bytes())
}

/// The cookies of one `Cookie` header, borrowed unless the header is not UTF-8.
pub(super) fn cookies_of(value: &HeaderValue) -> Vec<Text<'_>> {
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

pub(super) fn no_params(params: &&BTreeMap<String, String>) -> bool {
    params.is_empty()
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Text<'a> {
    headers.get(name).map(text).unwrap_or_default()
}

/// The first label of the gateway's domain name (`domainPrefix`).
pub(super) fn domain_prefix(domain_name: &str) -> &str {
    domain_name.split(['.', ':']).next().unwrap_or_default()
}

/// Headers that are the gateway's to set: a client's own are dropped.
pub(super) fn is_forwarding(name: &str) -> bool {
    name.starts_with("x-forwarded-")
}

/// The headers API Gateway sets for the function: `X-Forwarded-*`, and `Host` when
/// the client sent none (HTTP/1.0).
pub(super) fn add_gateway_headers<'a>(headers: &mut Pairs<&'a str, Text<'a>>, req: &Request<'a>) {
    if headers.get_mut("host").is_none() {
        headers.0.push(("host", Cow::Borrowed(req.domain_name)));
    }
    let caller = req.caller;
    headers.0.push((
        "x-forwarded-for",
        Cow::Borrowed(caller.forwarded_for.as_str()),
    ));
    headers.0.push((
        "x-forwarded-port",
        Cow::Owned(Decimal::of(caller.port.into()).as_str().to_owned()),
    ));
    headers
        .0
        .push(("x-forwarded-proto", Cow::Borrowed(caller.proto)));
}

/// API Gateway's `[day]/[month]/[year]:[time] +0000` and the epoch in milliseconds.
pub(super) fn times(at: SystemTime) -> (String, u64) {
    let epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // The text changes once a second: formatted once a second, per thread.
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let second = epoch / 1000;
    let text = LAST.with_borrow_mut(|(last, text)| {
        if *last != second {
            *text = OffsetDateTime::from(at)
                .format(format_description!(
                    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
                ))
                .unwrap_or_default();
            *last = second;
        }
        text.clone()
    });
    (text, epoch)
}

/// The body as a string: text as is, anything else base64-encoded.
pub(super) fn body<'a>(req: &Request<'a>) -> (Option<Text<'a>>, bool) {
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
