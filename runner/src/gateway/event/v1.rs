//! Payload format 1.0, what REST APIs (and HTTP APIs set to 1.0) send.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::gateway::query::parse_query;
use crate::gateway::routes::Route;

use super::request::{
    Pairs, Request, Text, add_gateway_headers, body, domain_prefix, header, is_forwarding, text,
    times,
};

/// Payload format 1.0 (REST APIs).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct V1<'a> {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a serde_json::Value>,
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

pub(super) fn v1<'a>(
    req: &'a Request<'a>,
    route: &'a Route,
    params: &'a BTreeMap<String, String>,
) -> V1<'a> {
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
            authorizer: req.authorizer,
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
