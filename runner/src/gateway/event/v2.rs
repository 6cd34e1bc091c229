//! Payload format 2.0, what HTTP APIs send.

use std::collections::BTreeMap;
use std::net::IpAddr;

#[cfg(test)]
use serde::Serialize;

use crate::gateway::client::ip_text;
use crate::gateway::query::parse_query;
use crate::gateway::routes::Route;

use super::json::{Json, TooLarge};
use super::request::{
    Pairs, Request, Text, add_gateway_headers, body, cookies_of, domain_prefix, header,
    is_forwarding, no_params, text, times,
};

/// Payload format 2.0 (HTTP APIs). It is written by hand (`V2::write`), since
/// every request of an HTTP API writes one; the tests check that serde_json
/// writes the same bytes for it.
#[cfg_attr(test, derive(Serialize), serde(rename_all = "camelCase"))]
pub(super) struct V2<'a> {
    version: &'static str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[cfg_attr(test, serde(skip_serializing_if = "Vec::is_empty"))]
    cookies: Vec<Text<'a>>,
    headers: Pairs<&'a str, Text<'a>>,
    #[cfg_attr(test, serde(skip_serializing_if = "Pairs::is_empty"))]
    query_string_parameters: Pairs<String, String>,
    #[cfg_attr(test, serde(skip_serializing_if = "no_params"))]
    path_parameters: &'a BTreeMap<String, String>,
    request_context: V2Context<'a>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    body: Option<Text<'a>>,
    is_base64_encoded: bool,
}

#[cfg_attr(test, derive(Serialize), serde(rename_all = "camelCase"))]
struct V2Context<'a> {
    account_id: &'a str,
    api_id: &'static str,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    authorizer: Option<&'a serde_json::Value>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: V2Http<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: String,
    time_epoch: u64,
}

#[cfg_attr(test, derive(Serialize), serde(rename_all = "camelCase"))]
struct V2Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: IpAddr,
    user_agent: Text<'a>,
}

pub(super) fn v2<'a>(
    req: &'a Request<'a>,
    route: &'a Route,
    params: &'a BTreeMap<String, String>,
) -> V2<'a> {
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
            authorizer: req.authorizer,
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

impl V2<'_> {
    /// The event as JSON, its fields in the order serde_json would write them.
    pub(super) fn write(&self, out: &mut Json) -> Result<(), TooLarge> {
        out.field(b"{\"version\":", self.version)?;
        out.field(b",\"routeKey\":", self.route_key)?;
        out.field(b",\"rawPath\":", self.raw_path)?;
        out.field(b",\"rawQueryString\":", self.raw_query_string)?;
        if !self.cookies.is_empty() {
            out.raw(b",\"cookies\":")?;
            out.strings(&self.cookies)?;
        }
        out.raw(b",\"headers\":")?;
        out.object(self.headers.0.iter().map(|(k, v)| (*k, v.as_ref())))?;
        if !self.query_string_parameters.is_empty() {
            out.raw(b",\"queryStringParameters\":")?;
            out.object(
                self.query_string_parameters
                    .0
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )?;
        }
        if !no_params(&self.path_parameters) {
            out.raw(b",\"pathParameters\":")?;
            out.object(
                self.path_parameters
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )?;
        }
        out.raw(b",\"requestContext\":")?;
        self.request_context.write(out)?;
        if let Some(body) = &self.body {
            out.field(b",\"body\":", body)?;
        }
        out.raw(b",\"isBase64Encoded\":")?;
        out.boolean(self.is_base64_encoded)?;
        out.raw(b"}")
    }
}

impl V2Context<'_> {
    fn write(&self, out: &mut Json) -> Result<(), TooLarge> {
        out.field(b"{\"accountId\":", self.account_id)?;
        out.field(b",\"apiId\":", self.api_id)?;
        if let Some(authorizer) = self.authorizer {
            out.raw(b",\"authorizer\":")?;
            out.value(authorizer)?;
        }
        out.field(b",\"domainName\":", self.domain_name)?;
        out.field(b",\"domainPrefix\":", self.domain_prefix)?;
        let http = &self.http;
        out.field(b",\"http\":{\"method\":", http.method)?;
        out.field(b",\"path\":", http.path)?;
        out.field(b",\"protocol\":", http.protocol)?;
        out.field(b",\"sourceIp\":", &ip_text(http.source_ip))?;
        out.field(b",\"userAgent\":", &http.user_agent)?;
        out.field(b"},\"requestId\":", self.request_id)?;
        out.field(b",\"routeKey\":", self.route_key)?;
        out.field(b",\"stage\":", self.stage)?;
        out.field(b",\"time\":", &self.time)?;
        out.raw(b",\"timeEpoch\":")?;
        out.number(self.time_epoch)?;
        out.raw(b"}")
    }
}
