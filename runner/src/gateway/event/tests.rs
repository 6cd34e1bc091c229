//! Unit tests of event translation; generated events must parse as the AWS event
//! types that `lambda_http` uses.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use crate::gateway::client::Caller;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use http::HeaderMap;
use serde_json::Value;

use super::*;
use crate::gateway::query::parse_query;
use crate::gateway::routes::{Lookup, Routes};
use crate::template::EventSpec;

fn route(payload: PayloadVersion, method: &str, path: &str) -> Routes {
    let mut routes = Routes::default();
    let stage = if payload == PayloadVersion::V2 {
        "$default"
    } else {
        "Prod"
    };
    let event = EventSpec {
        name: "E".into(),
        method: method.into(),
        path: path.into(),
        payload,
        stage: stage.into(),
        cors: None,
        auth: None,
    };
    routes.add(0, &event).unwrap();
    routes
}

const DOMAIN: &str = "127.0.0.1:3000";

fn caller() -> Caller {
    Caller::of(
        IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        3000,
        &HeaderMap::new(),
        &[],
    )
}

/// A POST to `/items/7` with these parts.
fn request<'a>(
    headers: &'a HeaderMap,
    body: &'a [u8],
    query: &'a str,
    caller: &'a Caller,
) -> Request<'a> {
    Request {
        method: "POST",
        raw_path: "/items/7",
        raw_query: query,
        headers,
        body,
        caller,
        domain_name: DOMAIN,
        request_id: "req-1",
        received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        account_id: "123456789012",
        authorizer: None,
    }
}

fn build_limited(
    payload: PayloadVersion,
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, TooLarge> {
    let routes = route(payload, "POST", "/items/{id}");
    let Lookup::Found(route, params) = routes.lookup("POST", "/items/7") else {
        panic!("no route")
    };
    let caller = caller();
    build(&request(headers, body, "", &caller), route, &params, limit)
}

fn event(payload: PayloadVersion, headers: &HeaderMap, body: &[u8], query: &str) -> Value {
    let routes = route(payload, "POST", "/items/{id}");
    let Lookup::Found(route, params) = routes.lookup("POST", "/items/7") else {
        panic!("no route")
    };
    let caller = caller();
    let req = request(headers, body, query, &caller);
    let bytes = build(&req, route, &params, usize::MAX).expect("no limit to pass");
    serde_json::from_slice(&bytes).expect("the event is JSON")
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    map
}

#[test]
fn a_v2_event_parses_as_an_http_api_request() {
    let h = headers(&[
        ("content-type", "application/json"),
        ("cookie", "a=1; b=2"),
        ("x-n", "1"),
        ("x-n", "2"),
    ]);
    let value = event(PayloadVersion::V2, &h, br#"{"k":1}"#, "q=1&q=2&r");
    let parsed: ApiGatewayV2httpRequest = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(parsed.raw_path.as_deref(), Some("/items/7"));
    assert_eq!(parsed.path_parameters["id"], "7");
    assert_eq!(
        parsed.cookies,
        Some(vec!["a=1".to_owned(), "b=2".to_owned()])
    );
    assert_eq!(parsed.body.as_deref(), Some(r#"{"k":1}"#));
    assert_eq!(value["headers"]["x-n"], "1,2");
    assert_eq!(value["queryStringParameters"]["q"], "1,2");
    assert_eq!(value["queryStringParameters"]["r"], "");
    assert_eq!(value["requestContext"]["http"]["sourceIp"], "10.1.2.3");
    assert_eq!(
        value["requestContext"]["time"],
        "14/Nov/2023:22:13:20 +0000"
    );
    assert_eq!(value["requestContext"]["timeEpoch"], 1_700_000_000_000u64);
}

#[test]
fn a_v1_event_parses_as_a_rest_api_request() {
    let h = headers(&[("content-type", "text/plain"), ("x-n", "1"), ("x-n", "2")]);
    let value = event(PayloadVersion::V1, &h, b"hello", "q=1&q=2");
    let parsed: ApiGatewayProxyRequest = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(parsed.resource.as_deref(), Some("/items/{id}"));
    assert_eq!(parsed.path_parameters["id"], "7");
    assert_eq!(parsed.body.as_deref(), Some("hello"));
    assert_eq!(
        value["multiValueHeaders"]["x-n"],
        serde_json::json!(["1", "2"])
    );
    assert_eq!(value["headers"]["x-n"], "2");
    assert_eq!(
        value["multiValueQueryStringParameters"]["q"],
        serde_json::json!(["1", "2"])
    );
    assert_eq!(value["requestContext"]["path"], "/Prod/items/7");
}

#[test]
fn a_binary_body_is_base64_encoded_and_text_is_not() {
    let binary = headers(&[("content-type", "application/octet-stream")]);
    let value = event(PayloadVersion::V2, &binary, b"abc", "");
    assert_eq!(value["isBase64Encoded"], true);
    assert_eq!(value["body"], "YWJj");
    let invalid_utf8 = event(PayloadVersion::V2, &HeaderMap::new(), &[0xff, 0xfe], "");
    assert_eq!(invalid_utf8["isBase64Encoded"], true);
    let json = event(
        PayloadVersion::V2,
        &headers(&[("content-type", "application/problem+json")]),
        b"{}",
        "",
    );
    assert_eq!(json["isBase64Encoded"], false);
}

#[test]
fn an_empty_query_and_body_are_left_out_of_v2_and_null_in_v1() {
    let v2 = event(PayloadVersion::V2, &HeaderMap::new(), b"", "");
    assert!(v2.get("queryStringParameters").is_none() && v2.get("body").is_none());
    let v1 = event(PayloadVersion::V1, &HeaderMap::new(), b"", "");
    assert!(v1["queryStringParameters"].is_null() && v1["body"].is_null());
}

#[test]
fn query_strings_decode_plus_and_percent_escapes() {
    let q = parse_query("a=x+y&b=%E2%82%AC&c=%zz");
    assert_eq!(q["a"], ["x y"]);
    assert_eq!(q["b"], ["€"]);
    assert_eq!(q["c"], ["%zz"]);
}

#[test]
fn the_domain_is_the_gateways_own_whatever_the_client_calls_it() {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::HOST,
        http::HeaderValue::from_static("attacker.example:8080"),
    );
    for payload in [PayloadVersion::V1, PayloadVersion::V2] {
        let value = event(payload, &h, b"", "");
        assert_eq!(value["requestContext"]["domainName"], DOMAIN);
        assert_eq!(value["requestContext"]["domainPrefix"], "127");
        // The header itself reaches the function as sent.
        assert_eq!(value["headers"]["host"], "attacker.example:8080");
    }
    // With no Host at all (HTTP/1.0), the function gets the gateway's.
    let value = event(PayloadVersion::V2, &HeaderMap::new(), b"", "");
    assert_eq!(value["headers"]["host"], DOMAIN);
}

#[test]
fn forwarding_headers_are_the_gateways_not_the_clients() {
    let h = headers(&[
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "1"),
        ("x-forwarded-port", "99"),
        ("x-forwarded-host", "evil.example"),
    ]);
    for payload in [PayloadVersion::V1, PayloadVersion::V2] {
        let value = event(payload, &h, b"", "");
        assert_eq!(value["headers"]["x-forwarded-for"], "10.1.2.3");
        assert_eq!(value["headers"]["x-forwarded-proto"], "http");
        assert_eq!(value["headers"]["x-forwarded-port"], "3000");
        assert!(value["headers"].get("x-forwarded-host").is_none());
        if payload == PayloadVersion::V1 {
            assert_eq!(
                value["multiValueHeaders"]["x-forwarded-for"],
                serde_json::json!(["10.1.2.3"])
            );
            assert!(value["multiValueHeaders"].get("x-forwarded-host").is_none());
        }
    }
}

#[test]
fn an_event_stops_growing_at_its_limit() {
    // Control characters are escaped as six bytes each: 1 MB of them would make a
    // 6 MB event, and building stops at the limit instead.
    let h = headers(&[("content-type", "application/json")]);
    let body = vec![1u8; 1_000_000];
    for payload in [PayloadVersion::V1, PayloadVersion::V2] {
        assert_eq!(build_limited(payload, &h, &body, 2_000_000), Err(TooLarge));
        let whole = build_limited(payload, &h, &body, 7_000_000).unwrap();
        assert!(whole.len() > 6_000_000 && whole.len() < 6_100_000);
        assert_eq!(
            build_limited(payload, &h, &body, whole.len()).map(|e| e.len()),
            Ok(whole.len())
        );
        assert_eq!(
            build_limited(payload, &h, &body, whole.len() - 1),
            Err(TooLarge)
        );
    }
}

#[test]
fn a_v2_event_is_written_byte_for_byte_as_serde_json_writes_it() {
    let routes = route(PayloadVersion::V2, "POST", "/items/{id}");
    let Lookup::Found(route, params) = routes.lookup("POST", "/items/7") else {
        panic!("no route")
    };
    let no_params = BTreeMap::new();
    let mut odd = HeaderMap::new();
    odd.append(
        "x-latin",
        http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
    );
    odd.append(
        "x-quote",
        http::HeaderValue::from_static("say \"hi\" \\ there"),
    );
    odd.append("cookie", http::HeaderValue::from_static("a=1; b=\"2\";;c"));
    odd.append("cookie", http::HeaderValue::from_bytes(b"d=\xff").unwrap());
    odd.append(
        "user-agent",
        http::HeaderValue::from_static("agent/1 \"x\""),
    );
    let header_sets = [
        HeaderMap::new(),
        headers(&[
            ("content-type", "application/json"),
            ("x-n", "1"),
            ("x-n", "2"),
        ]),
        headers(&[
            ("content-type", "application/octet-stream"),
            ("host", "h:1"),
        ]),
        odd,
    ];
    let bodies: [&[u8]; 5] = [
        b"",
        br#"{"k":"v\"w","t":"\u0001"}"#,
        b"line\nbreak\ttab\x01\x1f\x7f caf\xc3\xa9 \xe2\x9c\x93",
        &[0xff, 0x00, 0x80],
        b"exactly8",
    ];
    let queries = ["", "q=1&q=2&r", "a=x+y&b=%E2%82%AC&c=%22%5C%0A&%00=z"];
    let authorizers = [
        None,
        Some(serde_json::json!({"jwt": {"claims": {"sub": "u\"1"}, "scopes": ["a"]}})),
    ];
    let caller = caller();
    let mut cases = 0;
    for headers in &header_sets {
        for body in bodies {
            for query in queries {
                for authorizer in &authorizers {
                    for params in [&params, &no_params] {
                        let req = Request {
                            raw_path: "/items/7\"",
                            received: SystemTime::UNIX_EPOCH
                                + Duration::from_millis(1_700_000_000_123),
                            authorizer: authorizer.as_ref(),
                            ..request(headers, body, query, &caller)
                        };
                        let by_hand = build(&req, route, params, usize::MAX).unwrap();
                        let by_serde = serde_json::to_vec(&v2::v2(&req, route, params)).unwrap();
                        assert_eq!(
                            String::from_utf8(by_hand).unwrap(),
                            String::from_utf8(by_serde).unwrap()
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 4 * 5 * 3 * 2 * 2);
}
