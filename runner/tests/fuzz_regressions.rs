//! Requests that the `event` fuzz target (fuzz/) found to break a function, kept
//! here so that the normal suite holds the line once they are fixed. Each is also
//! a seed of that target (fuzz/seeds/event/crash-*).
//!
//! The functions read events with `lambda_http`, which panics while building the
//! request's URL when `Url::parse("{proto}://{host}{path}")` fails. The runner's
//! tests cannot call `lambda_http` (it is not among their dependencies), so
//! [`lambda_http_uri`] repeats its steps with the same `url` crate (reqwest's
//! `Url`); with `lambda_http` added to the runner's dev-dependencies it could be
//! replaced by `lambda_http::request::from_str`.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::Runner;
use http::HeaderMap;
use reqwest::Url;
use runner::gateway::client::Caller;
use runner::gateway::event;
use runner::gateway::routes::{Lookup, Routes};
use runner::template::{EventSpec, PayloadVersion};
use serde_json::Value;

/// The URL `lambda_http` 1.3 builds for an API Gateway event (`request.rs`,
/// `into_api_gateway_v2_request` / `into_proxy_request` and `build_request_uri`),
/// or why it would panic: `X-Forwarded-Proto` (default `https`), the `Host`
/// header or else `requestContext.domainName`, and the path with the stage in
/// front unless it is `$default`; then the query string, and `http::Uri` must
/// take the whole.
fn lambda_http_uri(event: &Value) -> Result<String, String> {
    let header = |name: &str| event["headers"][name].as_str();
    let context = &event["requestContext"];
    let (path, query) = match event["rawPath"].as_str() {
        Some(raw) => (raw, event["rawQueryString"].as_str().unwrap_or_default()),
        None => (event["path"].as_str().unwrap_or_default(), ""),
    };
    let path = match context["stage"].as_str() {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    };
    let Some(host) = header("host").or(context["domainName"].as_str()) else {
        return Ok(path);
    };
    let scheme = header("x-forwarded-proto").unwrap_or("https");
    let text = format!("{scheme}://{host}{path}");
    let mut uri = Url::parse(&text)
        .map_err(|e| format!("Url::parse({text:?}) fails ({e}): lambda_http panics"))?
        .to_string();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    http::Uri::try_from(uri.as_str())
        .map_err(|e| format!("http::Uri refuses {uri:?} ({e}): lambda_http panics"))?;
    Ok(uri)
}

/// The mirror accepts an ordinary event, so a failure above is the event's.
#[test]
fn an_ordinary_event_gives_lambda_http_a_url() {
    let mut routes = Routes::default();
    let spec = EventSpec {
        name: "Item".into(),
        method: "GET".into(),
        path: "/items/{id}".into(),
        payload: PayloadVersion::V2,
        stage: "$default".into(),
        cors: None,
        auth: None,
    };
    routes.add(0, &spec).expect("a valid route");
    let Lookup::Found(route, params) = routes.lookup("GET", "/items/7") else {
        panic!("the route is found");
    };
    let event = build("GET", "/items/7", "a=1", route, &params);
    assert_eq!(
        lambda_http_uri(&event),
        Ok("http://127.0.0.1:3000/items/7?a=1".to_owned())
    );
}

fn build(
    method: &str,
    path: &str,
    query: &str,
    route: &runner::gateway::routes::Route,
    params: &BTreeMap<String, String>,
) -> Value {
    let headers = HeaderMap::new();
    let caller = Caller::of([127, 0, 0, 1].into(), 3000, &headers, &[]);
    let request = event::Request {
        method,
        raw_path: path,
        raw_query: query,
        headers: &headers,
        body: b"",
        caller: &caller,
        domain_name: "127.0.0.1:3000",
        request_id: "req-1",
        received: SystemTime::now(),
        account_id: "123456789012",
        authorizer: None,
    };
    let bytes = event::build(&request, route, params, 1 << 20).expect("a small event");
    serde_json::from_slice(&bytes).expect("the event is JSON")
}

/// A template of one test function behind an HTTP API's `$default` route, written
/// to a temporary file (removed on drop).
struct CatchAllTemplate(PathBuf);

impl CatchAllTemplate {
    fn new() -> Self {
        let functions = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-functions");
        let text = format!(
            "AWSTemplateFormatVersion: \"2010-09-09\"\n\
             Transform: AWS::Serverless-2016-10-31\n\
             Resources:\n  \
               CatchAll:\n    \
                 Type: AWS::Serverless::Function\n    \
                 Properties:\n      \
                   CodeUri: {}\n      \
                   Runtime: provided.al2023\n      \
                   Handler: bootstrap\n      \
                   Events:\n        \
                     Default:\n          \
                       Type: HttpApi\n",
            functions.display()
        );
        let path = std::env::temp_dir().join(format!(
            "runner-fuzz-regression-{}-{}.yaml",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, text).expect("a temporary template");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for CatchAllTemplate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sends `request` as raw bytes (it asks to close the connection) and returns the
/// status and the body.
fn send_raw(runner: &Runner, request: &[u8]) -> (u16, String) {
    let address = runner.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("the runner accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    stream.write_all(request).expect("the request is sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("the answer is read");
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

/// Found by the `event` target (fuzz/seeds/event/crash-5904f3a0…, reduced to
/// fuzz/seeds/event/crash-asterisk-form): an asterisk-form request
/// (`OPTIONS * HTTP/1.1`, legal HTTP/1.1, which hyper delivers with the path `*`)
/// was routed to a `$default` route and reached the function with `rawPath` `*`;
/// `lambda_http` then parsed `https://127.0.0.1:PORT*` and panicked
/// (`InvalidPort`, request.rs:553 of lambda_http 1.3.2), with the runner's domain
/// name or a `Host` with a port alike. Either the runner refuses such a request,
/// as API Gateway never delivers one (it now answers 400), or its event must give
/// lambda_http a URL.
#[test]
fn an_asterisk_form_request_never_reaches_a_function_with_an_unreadable_event() {
    let template = CatchAllTemplate::new();
    let runner = Runner::start(template.path(), &[]);
    let address = runner.base.trim_start_matches("http://").to_owned();
    for request in [
        "OPTIONS * HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
        format!("GET * HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    ] {
        let (status, body) = send_raw(&runner, request.as_bytes());
        match status {
            // Refused by the runner itself.
            400..=499 => {}
            200 => {
                let echoed: Value = serde_json::from_str(&body).expect("the echo is JSON");
                let uri = lambda_http_uri(&echoed["event"]);
                assert!(uri.is_ok(), "{request:?}: {}", uri.unwrap_err());
            }
            other => panic!("{request:?} answered {other}: {body}"),
        }
    }
}
