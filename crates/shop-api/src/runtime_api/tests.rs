use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::HOST;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lambda_http::RequestExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::protocol::{API_PREFIX, DEADLINE, INVOCATION_ID, REQUEST_ID};
use super::*;
use crate::testing::gateway_event;
use crate::testing::serve_http1;

const TRACE: &str = "Root=1-6745b1f2-3c1d5e7f9a0b2c4d6e8f0a1b;Parent=53995c3f42cd8ad8;Sampled=0";
const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:shop";

/// One invocation as a Runtime API hands it out.
struct Invocation {
    /// 200, or what else `next` answers.
    status: u16,
    headers: Vec<(&'static str, String)>,
    event: String,
}

/// A `next` answered with `status` and nothing else.
fn only(status: u16) -> Invocation {
    Invocation {
        status,
        headers: Vec::new(),
        event: String::new(),
    }
}

fn invocation(id: &str, event: impl ToString) -> Invocation {
    Invocation {
        status: 200,
        headers: vec![
            (REQUEST_ID, id.to_owned()),
            (DEADLINE, "1795512642000".to_owned()),
            ("lambda-runtime-trace-id", TRACE.to_owned()),
            ("lambda-runtime-invoked-function-arn", ARN.to_owned()),
        ],
        event: event.to_string(),
    }
}

/// What the function posted back.
#[derive(Debug)]
struct Posted {
    path: String,
    error_type: Option<String>,
    invocation_id: Option<String>,
    body: Value,
}

struct Script {
    /// The base path every request's path starts with.
    base: &'static str,
    invocations: Mutex<VecDeque<Invocation>>,
    posted: mpsc::UnboundedSender<Posted>,
    /// Answer every exchange with `Connection: close`.
    close: bool,
    /// What a posted answer gets.
    answer_status: u16,
}

/// A Runtime API on a local port that hands out `invocations` in order,
/// then keeps the last `next` waiting; returns its address and what the
/// function posts.
async fn runtime_api(
    invocations: Vec<Invocation>,
    close: bool,
) -> (String, mpsc::UnboundedReceiver<Posted>) {
    runtime_api_under("", invocations, close, 202).await
}

async fn runtime_api_under(
    base: &'static str,
    invocations: Vec<Invocation>,
    close: bool,
    answer_status: u16,
) -> (String, mpsc::UnboundedReceiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (posted, received) = mpsc::unbounded_channel();
    let script = Arc::new(Script {
        base,
        invocations: Mutex::new(invocations.into()),
        posted,
        close,
        answer_status,
    });
    serve_http1(listener, move |request| exchange(script.clone(), request));
    (address, received)
}

async fn exchange(
    script: Arc<Script>,
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, hyper::Error> {
    assert!(
        request.headers().contains_key(HOST),
        "HTTP/1.1 needs a Host"
    );
    let path = request
        .uri()
        .path()
        .strip_prefix(script.base)
        .expect("every path under the base")
        .to_owned();
    let mut answer = http::Response::builder();
    if script.close {
        answer = answer.header("connection", "close");
    }
    if path == format!("{API_PREFIX}next") {
        let next = script.invocations.lock().unwrap().pop_front();
        let Some(next) = next else {
            return std::future::pending().await;
        };
        for (name, value) in next.headers {
            answer = answer.header(name, value);
        }
        return Ok(answer
            .status(next.status)
            .body(Full::new(Bytes::from(next.event)))
            .unwrap());
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let error_type = header("lambda-runtime-function-error-type");
    let invocation_id = header(INVOCATION_ID);
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let body = request.into_body().collect().await?.to_bytes();
    let _ = script.posted.send(Posted {
        path,
        error_type,
        invocation_id,
        body: serde_json::from_slice(&body).unwrap(),
    });
    Ok(answer
        .status(script.answer_status)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

fn config() -> Config {
    Config {
        function_name: "shop".into(),
        memory: 128,
        version: "$LATEST".into(),
        ..Config::default()
    }
}

static INSTANCE: () = ();

/// Answers with what it saw: the context, the method and path, and the
/// trace id as the environment has it.
async fn echo(_: &'static (), request: Request) -> Response<Body> {
    let context = request.lambda_context();
    let seen = json!({
        "requestId": context.request_id,
        "deadline": context.deadline,
        "arn": context.invoked_function_arn,
        "trace": context.xray_trace_id,
        "function": context.env_config.function_name,
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "environmentTrace": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "traceHeader": request.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()),
    });
    let bytes = |content_type: &str, encoding: Option<&str>, bytes: &[u8]| {
        let mut response = Response::builder().header("content-type", content_type);
        if let Some(encoding) = encoding {
            response = response.header("content-encoding", encoding);
        }
        response.body(Body::Binary(bytes.to_vec())).unwrap()
    };
    match request.uri().path() {
        "/panic" => panic!("a handler bug"),
        "/binary" => bytes("application/octet-stream", None, &[0, 255, 1]),
        "/html" => bytes("text/html; charset=utf-8", None, "<p>é</p>".as_bytes()),
        "/problem" => bytes("application/problem+json", None, b"{}"),
        "/gzipped" => bytes("text/html", Some("gzip"), &[0x1f, 0x8b]),
        "/latin1" => bytes("text/plain", None, &[0xe9]),
        _ => Response::builder()
            .status(201)
            .header("x-answer", "yes")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/")
            .body(Body::Text(seen.to_string()))
            .unwrap(),
    }
}

fn start(address: String) -> tokio::task::JoinHandle<Result<(), RuntimeApiError>> {
    tokio::spawn(serve(address, config(), &INSTANCE, echo))
}

fn http_api(path: &str) -> Value {
    gateway_event("GET", path, &[], None)
}

async fn posts(received: &mut mpsc::UnboundedReceiver<Posted>, count: usize) -> Vec<Posted> {
    let mut posts = Vec::new();
    while posts.len() < count {
        let post = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("an answer within 10 s")
            .expect("the Runtime API is up");
        posts.push(post);
    }
    posts
}

#[tokio::test]
async fn an_http_api_event_is_answered_with_cookies_apart_and_its_context_given() {
    let (address, mut received) =
        runtime_api(vec![invocation("id-1", http_api("/products"))], false).await;
    let serving = start(address);
    let [post] = <[Posted; 1]>::try_from(posts(&mut received, 1).await).unwrap();
    serving.abort();
    assert_eq!(post.path, format!("{API_PREFIX}id-1/response"));
    assert_eq!(post.error_type, None);
    let answer = post.body;
    assert_eq!(answer["statusCode"], 201);
    assert_eq!(answer["isBase64Encoded"], false);
    assert_eq!(answer["headers"]["x-answer"], "yes");
    assert!(answer["headers"].get("set-cookie").is_none(), "{answer}");
    assert_eq!(answer["cookies"], json!(["a=1; Path=/", "b=2; Path=/"]));
    let seen: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({
            "requestId": "id-1",
            "deadline": 1795512642000u64,
            "arn": ARN,
            "trace": TRACE,
            "function": "shop",
            "method": "GET",
            "path": "/products",
            // Never in the environment: glibc would keep every value.
            "environmentTrace": null,
            "traceHeader": TRACE,
        })
    );
}

/// A REST API event (payload 1.0).
fn rest_api() -> Value {
    json!({
        "resource": "/products",
        "path": "/products",
        "httpMethod": "POST",
        "headers": {"accept": "application/json"},
        "multiValueHeaders": {"accept": ["application/json"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7"},
            "resourcePath": "/products",
            "httpMethod": "POST",
            "apiId": "a1b2c3d4e5"
        },
        "body": null,
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn a_rest_api_event_is_answered_with_multi_value_headers_only() {
    let rest_api = rest_api();
    let (address, mut received) = runtime_api(vec![invocation("id-2", rest_api)], false).await;
    let serving = start(address);
    let [post] = <[Posted; 1]>::try_from(posts(&mut received, 1).await).unwrap();
    serving.abort();
    let answer = post.body;
    assert_eq!(answer["statusCode"], 201, "{answer}");
    assert_eq!(answer["headers"], json!({}));
    assert_eq!(
        answer["multiValueHeaders"]["set-cookie"],
        json!(["a=1; Path=/", "b=2; Path=/"])
    );
    assert!(answer.get("cookies").is_none(), "{answer}");
    let seen: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["requestId"], "id-2");
}

#[tokio::test]
async fn failures_are_posted_as_errors_and_the_next_invocation_is_served() {
    let mut no_deadline = invocation("id-5", http_api("/products"));
    no_deadline.headers.retain(|(name, _)| *name != DEADLINE);
    let (address, mut received) = runtime_api(
        vec![
            invocation("id-3", "[1, 2]"),
            invocation("id-4", http_api("/panic")),
            no_deadline,
            invocation("id-6", http_api("/binary")),
        ],
        false,
    )
    .await;
    let serving = start(address);
    let posted = posts(&mut received, 4).await;
    serving.abort();
    let errors: Vec<_> = posted[..3]
        .iter()
        .map(|post| {
            assert_eq!(post.error_type.as_deref(), Some("Unhandled"));
            (post.path.as_str(), post.body["errorType"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("/2018-06-01/runtime/invocation/id-3/error", "InvalidEvent"),
            ("/2018-06-01/runtime/invocation/id-4/error", "Panic"),
            (
                "/2018-06-01/runtime/invocation/id-5/error",
                "InvalidContext"
            ),
        ]
    );
    // Nothing of the panic's own text leaves the instance.
    assert!(!posted[1].body.to_string().contains("a handler bug"));
    let binary = &posted[3];
    assert_eq!(binary.path, format!("{API_PREFIX}id-6/response"));
    assert_eq!(binary.body["isBase64Encoded"], true);
    assert_eq!(binary.body["body"], "AP8B");
}

#[tokio::test]
async fn bodies_go_as_text_or_base64_by_their_content_type_as_lambda_http_sends_them() {
    let cases = [
        ("/html", Some("<p>é</p>")),
        ("/problem", Some("{}")),
        ("/binary", None),
        ("/gzipped", None),
        ("/latin1", None),
    ];
    let (address, mut received) = runtime_api(
        cases
            .iter()
            .map(|(path, _)| invocation("id-20", http_api(path)))
            .collect(),
        false,
    )
    .await;
    let serving = start(address);
    let posted = posts(&mut received, cases.len()).await;
    serving.abort();
    for ((path, text), post) in cases.iter().zip(&posted) {
        match text {
            Some(text) => {
                assert_eq!(post.body["isBase64Encoded"], false, "{path}");
                assert_eq!(post.body["body"], *text, "{path}");
            }
            None => assert_eq!(post.body["isBase64Encoded"], true, "{path}"),
        }
    }
    assert_eq!(posted[4].body["body"], "6Q==", "not UTF-8: kept as it is");
}

#[tokio::test]
async fn an_event_lambda_http_cannot_make_into_a_request_is_a_400_and_the_instance_lives_on() {
    let mut raw_space = http_api("/products");
    raw_space["rawQueryString"] = json!("q=a <b>");
    let mut bad_base64 = http_api("/products");
    bad_base64["body"] = json!("not base64 at all!");
    bad_base64["isBase64Encoded"] = json!(true);
    let mut rest_bad_base64 = rest_api();
    rest_bad_base64["body"] = json!("not base64 at all!");
    rest_bad_base64["isBase64Encoded"] = json!(true);
    let (address, mut received) = runtime_api(
        vec![
            invocation("id-21", raw_space),
            invocation("id-22", bad_base64),
            invocation("id-23", http_api("/products")),
            invocation("id-28", rest_bad_base64),
        ],
        false,
    )
    .await;
    let serving = start(address);
    let posted = posts(&mut received, 4).await;
    serving.abort();
    let rest = &posted[3].body;
    assert_eq!(rest["statusCode"], 400, "{rest}");
    assert_eq!(
        rest["multiValueHeaders"]["content-type"],
        json!(["application/problem+json"])
    );
    for (post, id) in posted[..2].iter().zip(["id-21", "id-22"]) {
        assert_eq!(post.path, format!("{API_PREFIX}{id}/response"));
        assert_eq!(post.body["statusCode"], 400);
        assert_eq!(
            post.body["headers"]["content-type"],
            "application/problem+json"
        );
        let problem: Value = serde_json::from_str(post.body["body"].as_str().unwrap()).unwrap();
        assert_eq!(problem["errors"][0]["field"], "request", "{problem}");
        assert_eq!(problem["requestId"], id);
    }
    assert_eq!(posted[2].path, format!("{API_PREFIX}id-23/response"));
    assert_eq!(posted[2].body["statusCode"], 201);
}

#[tokio::test]
async fn the_trace_id_reaches_the_request_header_and_the_invocation_id_goes_back() {
    let mut with_id = invocation("id-24", http_api("/products"));
    with_id.headers.push((INVOCATION_ID, "inv-24".into()));
    let (address, mut received) = runtime_api(vec![with_id], false).await;
    let serving = start(address);
    let [post] = <[Posted; 1]>::try_from(posts(&mut received, 1).await).unwrap();
    serving.abort();
    assert_eq!(post.invocation_id.as_deref(), Some("inv-24"));
    let seen: Value = serde_json::from_str(post.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen["traceHeader"], TRACE, "the fixture's own is replaced");
}

#[tokio::test]
async fn an_empty_poll_is_repeated_and_gone_ends_the_loop_cleanly() {
    let (address, mut received) = runtime_api(
        vec![
            only(204),
            only(204),
            invocation("id-25", http_api("/a")),
            only(410),
        ],
        false,
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(10), start(address))
        .await
        .expect("the loop ends")
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
    let [post] = <[Posted; 1]>::try_from(posts(&mut received, 1).await).unwrap();
    assert_eq!(post.path, format!("{API_PREFIX}id-25/response"));
}

#[tokio::test]
async fn a_refused_answer_is_passed_over_and_a_failed_runtime_api_ends_the_loop() {
    let two = || {
        vec![
            invocation("id-26", http_api("/a")),
            invocation("id-27", http_api("/a")),
        ]
    };
    let (address, mut received) = runtime_api_under("", two(), false, 413).await;
    let serving = start(address);
    let posted = posts(&mut received, 2).await;
    serving.abort();
    assert_eq!(posted[1].path, format!("{API_PREFIX}id-27/response"));

    let (address, mut received) = runtime_api_under("", two(), false, 500).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), start(address))
        .await
        .expect("the loop ends")
        .unwrap();
    assert!(
        matches!(
            ended,
            Err(RuntimeApiError::AnswerFailed(
                StatusCode::INTERNAL_SERVER_ERROR
            ))
        ),
        "{ended:?}"
    );
    assert_eq!(posts(&mut received, 1).await.len(), 1);
    assert!(received.try_recv().is_err(), "nothing after the 500");
}

#[tokio::test]
async fn a_runtime_api_that_closes_each_connection_is_reconnected_to() {
    let ids = ["id-7", "id-8", "id-9"];
    let (address, mut received) = runtime_api(
        ids.iter()
            .map(|id| invocation(id, http_api("/a")))
            .collect(),
        true,
    )
    .await;
    let serving = start(address);
    let posted = posts(&mut received, 3).await;
    serving.abort();
    let paths: Vec<_> = posted.iter().map(|post| post.path.as_str()).collect();
    assert_eq!(paths, ids.map(|id| format!("{API_PREFIX}{id}/response")));
}

#[tokio::test]
async fn a_base_path_in_the_address_is_kept_as_cargo_lambda_watch_gives_it() {
    let (address, mut received) = runtime_api_under(
        "/.rt/products-get",
        vec![invocation("id-10", http_api("/a"))],
        false,
        202,
    )
    .await;
    let serving = start(format!("http://{address}/.rt/products-get/"));
    let [post] = <[Posted; 1]>::try_from(posts(&mut received, 1).await).unwrap();
    serving.abort();
    assert_eq!(post.path, format!("{API_PREFIX}id-10/response"));
    assert_eq!(post.body["statusCode"], 201);
}

#[tokio::test]
async fn an_address_that_is_no_runtime_api_is_refused_at_start() {
    for address in [
        "",
        "https://127.0.0.1:9001",
        "http:///x",
        "127.0.0.1:9001/a b",
    ] {
        let stopped = start(address.to_owned()).await.unwrap();
        assert!(
            matches!(stopped, Err(RuntimeApiError::BadAddress(_))),
            "{address}: {stopped:?}"
        );
    }
}

#[tokio::test]
async fn an_unusable_request_id_or_an_unreachable_api_stops_the_loop() {
    for id in ["id/../x", "..", "id 1", ""] {
        let (address, _received) = runtime_api(vec![invocation(id, http_api("/a"))], false).await;
        let stopped = start(address).await.unwrap();
        assert!(
            matches!(stopped, Err(RuntimeApiError::NoRequestId)),
            "{id}: {stopped:?}"
        );
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    let stopped = start(closed).await.unwrap();
    assert!(
        matches!(stopped, Err(RuntimeApiError::Unreachable(..))),
        "{stopped:?}"
    );
}
