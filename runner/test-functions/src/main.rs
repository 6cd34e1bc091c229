//! One Lambda function with many behaviours, used only by the runner's tests.
//!
//! `BEHAVIOUR` (from the template) picks what happens at start-up: `echo` (default),
//! `init-error` (reports `/init/error` and exits), `init-exit` (exits before polling)
//! or `authorizer` (a Lambda authorizer: see [`authorize`]).
//! `PRINT_EVENTS` prints every event it gets. `INIT_SLEEP_MS` delays start-up; a start fails with an init error while the file
//! `FAIL_INIT_WHILE_EXISTS` names exists. Per request, the query parameter `do` picks
//! the reply: nothing (echo the event), `sleep` (`ms`), `exit`, `panic`, `error`,
//! `binary`, `cookies`, `raw` (no statusCode), `hold` (wait until the test closes
//! `port`), `big` (a body of `bytes` bytes), `truncate` (break off a response upload
//! first), `stream` (stream a prelude and two parts through `lambda_runtime`, the
//! second once the test closes `port` when given), `stream-trailer` (stream by
//! hand, then fail with error trailers), `stream-stall` (stop halfway through a
//! streamed prelude until the test closes `port`), `probe` (misuse the Runtime
//! API, answer by hand the statuses it got, then answer again), `error-header` (report an error whose type
//! is only in the header), `quit` (answer by hand,
//! then exit 1 s later without polling again),
//! `spawn` (start a long `sleep` and answer its pid) or `shout` (print a line of
//! `bytes` bytes).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use lambda_runtime::streaming::Body;
use lambda_runtime::{Error, FunctionResponse, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod stream;

static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if let Ok(ms) = std::env::var("INIT_SLEEP_MS") {
        tokio::time::sleep(Duration::from_millis(ms.parse()?)).await;
    }
    let flag = std::env::var("FAIL_INIT_WHILE_EXISTS").unwrap_or_default();
    if !flag.is_empty() && std::path::Path::new(&flag).exists() {
        report_init_error().await?;
        std::process::exit(1);
    }
    match std::env::var("BEHAVIOUR").as_deref() {
        Ok("init-error") => {
            report_init_error().await?;
            std::process::exit(1);
        }
        Ok("init-exit") => {
            eprintln!("init-exit: giving up before the first poll");
            std::process::exit(2);
        }
        _ => {}
    }
    lambda_runtime::run(service_fn(answer)).await
}

/// A streamed answer when asked for one (`do=stream`), else [`handle`]'s.
async fn answer(event: LambdaEvent<Value>) -> Result<FunctionResponse<Value, Body>, Error> {
    let query = &event.payload["queryStringParameters"];
    if query["do"] == "stream" {
        let port = query["port"].as_str().map(str::to_owned);
        return Ok(stream::prelude_and_two_parts(port));
    }
    handle(event).await.map(FunctionResponse::BufferedResponse)
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let count = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
    if std::env::var("BEHAVIOUR").as_deref() == Ok("authorizer") {
        return authorize(&event.payload, count);
    }
    if std::env::var_os("PRINT_EVENTS").is_some() {
        println!("event: {}", event.payload);
    }
    let query = &event.payload["queryStringParameters"];
    let param = |name: &str| query[name].as_str().map(str::to_owned);
    let behaviour = param("do");
    if let Some(answer) = answer_as_asked(behaviour.as_deref(), &param)? {
        return Ok(answer);
    }
    act_as_asked(behaviour.as_deref(), &param, &event.context.request_id).await?;
    Ok(echo(event, count))
}

/// A Lambda authorizer that decides by its token: a `TOKEN` event's, else the
/// `Authorization` header, else the query parameter `key`. `allow` and `deny`
/// (simple responses), `policy-allow` and `policy-deny` (IAM policies for the
/// route's or method's ARN), `fail` (an error), `unauthorized` (the error
/// `Unauthorized`); anything else is refused. Its context says who it let in,
/// how many times it ran, and what it was given.
fn authorize(event: &Value, count: u64) -> Result<Value, Error> {
    let header = event["headers"].as_object().and_then(|headers| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
    });
    let token = event["authorizationToken"]
        .as_str()
        .filter(|_| event["type"] == "TOKEN")
        .or(header)
        .or(event["queryStringParameters"]["key"].as_str())
        .unwrap_or_default();
    let mut context = json!({
        "user": "alice",
        "calls": count,
        "type": event["type"],
        "arn": event["routeArn"].as_str().or(event["methodArn"].as_str()),
    });
    // A REST API takes only strings, numbers and booleans.
    if !event["identitySource"].is_null() {
        context["identity"] = event["identitySource"].clone();
    }
    let policy = |effect: &str| {
        let resource = event.get("routeArn").unwrap_or(&event["methodArn"]);
        json!({
            "principalId": "bob",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
            },
            "context": context,
        })
    };
    match token {
        "allow" => Ok(json!({"isAuthorized": true, "context": context})),
        "policy-allow" => Ok(policy("Allow")),
        "policy-deny" => Ok(policy("Deny")),
        "fail" => Err("the authorizer failed as asked".into()),
        "unauthorized" => Err("Unauthorized".into()),
        _ => Ok(json!({"isAuthorized": false})),
    }
}

/// The behaviours that answer something other than the echo.
fn answer_as_asked(
    behaviour: Option<&str>,
    param: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Value>, Error> {
    match behaviour {
        Some("binary") => {
            let bytes = [0u8, 1, 2, 0xfe, 0xff];
            Ok(Some(json!({
                "statusCode": 200,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64::engine::general_purpose::STANDARD.encode(bytes),
                "isBase64Encoded": true,
            })))
        }
        Some("cookies") => Ok(Some(json!({
            "statusCode": 201,
            "headers": {"content-type": "text/plain"},
            "multiValueHeaders": {"x-multi": ["one", "two"]},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": "cookies set",
        }))),
        Some("raw") => Ok(Some(json!({"hello": "world"}))),
        Some("big") => {
            let bytes: usize = param("bytes").unwrap_or_default().parse()?;
            Ok(Some(json!({"statusCode": 200, "body": "x".repeat(bytes)})))
        }
        Some("spawn") => {
            let child = std::process::Command::new("sleep").arg("300").spawn()?;
            Ok(Some(
                json!({"statusCode": 200, "body": child.id().to_string()}),
            ))
        }
        _ => Ok(None),
    }
}

/// The behaviours that do something (wait, fail, answer by hand) before the echo.
async fn act_as_asked(
    behaviour: Option<&str>,
    param: &dyn Fn(&str) -> Option<String>,
    request_id: &str,
) -> Result<(), Error> {
    match behaviour {
        Some("sleep") => {
            let ms: u64 = param("ms").unwrap_or_default().parse()?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some("exit") => {
            println!("exiting mid-request as asked");
            std::process::exit(3);
        }
        Some("panic") => panic!("panicking as asked"),
        Some("error") => return Err("failing as asked".into()),
        Some("hold") => {
            let port = param("port").unwrap_or_default();
            let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await?;
            let mut sink = Vec::new();
            stream.read_to_end(&mut sink).await?;
        }
        Some("truncate") => {
            post_response(request_id, 1000, r#"{"statusCode""#).await?;
        }
        Some("probe") => {
            // Answered by hand, so that a second answer can be tried too.
            let id = &request_id;
            let statuses = probe(id).await?;
            let answer = json!({"statusCode": 200, "body": statuses.to_string()}).to_string();
            post_response(id, answer.len(), &answer).await?;
            let again = post_response(id, answer.len(), &answer).await?;
            println!("a second answer got {again}");
        }
        Some("error-header") => {
            let path = format!("/2018-06-01/runtime/invocation/{}/error", request_id);
            let headers = "Content-Type: text/plain\r\nLambda-Runtime-Function-Error-Type: Custom.FromHeader\r\n";
            runtime_call("POST", &path, headers, "not json", 8).await?;
        }
        Some("stream-trailer") => {
            stream::failing_after_first_bytes(request_id).await?;
        }
        Some("stream-stall") => {
            stream::stalled_in_prelude(request_id, &param("port").unwrap_or_default()).await?;
        }
        Some("quit") => {
            let answer = r#"{"statusCode":200,"body":"bye"}"#;
            post_response(request_id, answer.len(), answer).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            std::process::exit(0);
        }
        Some("shout") => {
            let bytes: usize = param("bytes").unwrap_or_default().parse()?;
            println!("{}", "y".repeat(bytes));
        }
        _ => {}
    }
    Ok(())
}

/// The default answer: the event, the context, the environment, and which
/// process and invocation this is.
fn echo(event: LambdaEvent<Value>, count: u64) -> Value {
    // The environment does not change, so it is read once per instance.
    static ENV: OnceLock<Value> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("TEST_") || k == "BEHAVIOUR")
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    });
    let body = json!({
        "event": event.payload,
        "context": {
            "requestId": event.context.request_id,
            "deadlineMs": event.context.deadline,
            "invokedFunctionArn": event.context.invoked_function_arn,
            "traceId": event.context.xray_trace_id,
        },
        "env": env,
        "pid": std::process::id(),
        "invocation": count,
    });
    // `cookies` and `isBase64Encoded` are spelled out because `cargo lambda watch`
    // (the benchmark's baseline) rejects a function URL response without them.
    json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": [],
        "isBase64Encoded": false,
        "body": body.to_string(),
    })
}

/// Sends one request to the Runtime API by hand on a connection of its own and
/// returns the answer's status. `length` is the `Content-Length` announced, which may
/// exceed what `body` holds (an upload that breaks off: the connection is then
/// half-closed so the Runtime API sees the end early).
async fn runtime_call(
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
    length: usize,
) -> Result<u16, Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\n{headers}\
         Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    );
    let mut stream = tokio::net::TcpStream::connect(&api).await?;
    stream.write_all(request.as_bytes()).await?;
    if body.len() < length {
        stream.shutdown().await?;
    }
    Ok(answer_status(&mut stream).await?)
}

/// Reads the Runtime API's whole answer and returns its status (0 when none).
async fn answer_status(stream: &mut tokio::net::TcpStream) -> std::io::Result<u16> {
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// Posts this invocation's response by hand, announcing `length` bytes and sending
/// `body`.
async fn post_response(request_id: &str, length: usize, body: &str) -> Result<u16, Error> {
    let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
    let headers = "Content-Type: application/json\r\n";
    runtime_call("POST", &path, headers, body, length).await
}

/// Posts to the Runtime API's `/init/error` by hand, as a runtime that fails its
/// configuration checks would.
async fn report_init_error() -> Result<u16, Error> {
    let body = r#"{"errorType":"Runtime.ConfigError","errorMessage":"TEST_SETTING is missing"}"#;
    runtime_call(
        "POST",
        "/2018-06-01/runtime/init/error",
        "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\n",
        body,
        body.len(),
    )
    .await
}

/// Misuses the Runtime API in several ways during invocation `request_id` and
/// reports the status of each answer.
async fn probe(request_id: &str) -> Result<Value, Error> {
    let invocation = format!("/2018-06-01/runtime/invocation/{request_id}");
    let json = "Content-Type: application/json\r\n";
    Ok(json!({
        "unknownId": runtime_call("POST", "/2018-06-01/runtime/invocation/no-such-id/response", json, "{}", 2).await?,
        "unknownPath": runtime_call("GET", "/somewhere", "", "", 0).await?,
        "unknownAction": runtime_call("POST", &format!("{invocation}/finish"), json, "{}", 2).await?,
        "wrongMethod": runtime_call("PUT", &format!("{invocation}/response"), json, "{}", 2).await?,
        "lateInitError": runtime_call("POST", "/2018-06-01/runtime/init/error", json, "{}", 2).await?,
    }))
}
