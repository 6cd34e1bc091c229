//! The loop that takes a function's invocations from the [Lambda Runtime
//! API](https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) and
//! posts back the answers: `next`, then `response` or `error`, one invocation
//! at a time, on one kept-alive HTTP/1.1 connection to
//! `AWS_LAMBDA_RUNTIME_API`. It speaks to AWS Lambda, to the project's runner
//! and to `cargo lambda watch` alike.
//!
//! The shop uses `lambda_http`'s types (the request, its Lambda context, the
//! API Gateway events and answers) but not `lambda_runtime`'s loop, for two
//! measured reasons:
//!
//! - **Memory.** `lambda_runtime`'s sequential loop puts every invocation's
//!   trace id into the process environment (`_X_AMZN_TRACE_ID`). glibc keeps
//!   every `NAME=value` string it has ever made for the environment, so an
//!   instance grew by about 200 bytes of RSS an invocation, without bound. The
//!   trace id is in the request's Lambda context (`xray_trace_id`) instead.
//! - **CPU.** An HTTP API event (payload 2.0) is read once, as that event;
//!   `lambda_http` reads it whole, then as a REST API event, which fails late,
//!   then as an HTTP API event.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use http::header::{CONTENT_TYPE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use lambda_http::lambda_runtime::Config;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde::Serialize;
use tokio::net::TcpStream;

/// Where the Runtime API's invocation paths start, after the base path
/// `AWS_LAMBDA_RUNTIME_API` may carry.
const API_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const DEADLINE: &str = "lambda-runtime-deadline-ms";

/// Why the loop stopped: the Runtime API cannot be reached or answered
/// something no Runtime API answers. Lambda then starts a new instance.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeApiError {
    #[error(
        "AWS_LAMBDA_RUNTIME_API is not set: run this function on Lambda, under the runner or under `cargo lambda watch`"
    )]
    NotSet,
    #[error("AWS_LAMBDA_RUNTIME_API is neither `host:port` nor `http://host:port/path`: {0:?}")]
    BadAddress(String),
    #[error("the Runtime API at {0} cannot be reached: {1}")]
    Unreachable(String, std::io::Error),
    #[error("the Runtime API connection failed: {0}")]
    Connection(#[from] hyper::Error),
    #[error("the Runtime API answered `next` with {0}")]
    NextRefused(StatusCode),
    #[error("the Runtime API gave an invocation without a usable request id")]
    NoRequestId,
}

/// Serves invocations with `handler` until the Runtime API goes away.
pub async fn serve<S, F>(
    instance: &'static S,
    handler: fn(&'static S, Request) -> F,
) -> Result<(), RuntimeApiError>
where
    S: Sync + 'static,
    F: Future<Output = Response<Body>> + Send,
{
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RuntimeApiError::NotSet)?;
    serve_at(address, Config::from_env(), instance, handler).await
}

/// [`serve`], with the Runtime API's address and the function's settings given.
pub async fn serve_at<S, F>(
    address: String,
    config: Config,
    instance: &'static S,
    handler: fn(&'static S, Request) -> F,
) -> Result<(), RuntimeApiError>
where
    S: Sync + 'static,
    F: Future<Output = Response<Body>> + Send,
{
    let config = Arc::new(config);
    let mut api = Connection::new(&address)?;
    loop {
        let (head, event) = api.next().await?;
        let id = request_id(&head)?.to_owned();
        let answer = match invocation(&head, &event, &id, config.clone()) {
            Ok((request, shape)) => {
                // Boxed where it is made: a handler's future holds the
                // database driver's, several kilobytes.
                let handled = AssertUnwindSafe(Box::pin(handler(instance, request)))
                    .catch_unwind()
                    .await;
                match handled {
                    Ok(response) => Answer::Response(shape.answer(response)),
                    Err(_) => {
                        tracing::error!(request_id = %id, "the handler panicked");
                        Answer::Error(FunctionError::PANIC)
                    }
                }
            }
            Err(refused) => {
                tracing::warn!(request_id = %id, "{}", refused.message);
                Answer::Error(refused)
            }
        };
        api.answer(&id, answer).await?;
    }
}

/// What an invocation is answered with.
enum Answer {
    Response(Vec<u8>),
    Error(FunctionError),
}

/// The error document the Runtime API takes for a failed invocation.
#[derive(Debug, Serialize)]
struct FunctionError {
    #[serde(rename = "errorType")]
    kind: &'static str,
    #[serde(rename = "errorMessage")]
    message: &'static str,
}

impl FunctionError {
    const PANIC: Self = Self {
        kind: "Panic",
        message: "the function panicked",
    };
    const NOT_AN_HTTP_EVENT: Self = Self {
        kind: "InvalidEvent",
        message: "the event is not an API Gateway HTTP or REST API proxy event",
    };
    const BAD_CONTEXT: Self = Self {
        kind: "InvalidContext",
        message: "the invocation's Runtime API headers cannot be read",
    };
}

/// Which kind of API Gateway answer an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// HTTP API, payload 2.0 (the shop's template).
    HttpApi,
    /// REST API, or HTTP API with payload 1.0.
    RestApi,
}

impl Shape {
    /// The answer as that API Gateway reads it, serialized.
    fn answer(self, response: Response<Body>) -> Vec<u8> {
        let (parts, body) = response.into_parts();
        let is_base64_encoded = matches!(body, Body::Binary(_));
        let body = match body {
            Body::Empty => None,
            body => Some(body),
        };
        let status_code = i64::from(parts.status.as_u16());
        let mut headers = parts.headers;
        let written = match self {
            Self::HttpApi => {
                // Payload 2.0 carries cookies apart, and has no multi-value headers.
                let cookies = headers
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|value| value.to_str().ok().map(str::to_owned))
                    .collect();
                headers.remove(SET_COOKIE);
                let mut answer = ApiGatewayV2httpResponse::default();
                answer.status_code = status_code;
                answer.headers = headers;
                answer.cookies = cookies;
                answer.body = body;
                answer.is_base64_encoded = is_base64_encoded;
                serde_json::to_vec(&answer)
            }
            Self::RestApi => {
                // Only multi-value headers: API Gateway would merge both fields
                // and repeat every header.
                let mut answer = ApiGatewayProxyResponse::default();
                answer.status_code = status_code;
                answer.multi_value_headers = headers;
                answer.body = body;
                answer.is_base64_encoded = is_base64_encoded;
                serde_json::to_vec(&answer)
            }
        };
        // These types serialize to JSON whatever they hold.
        written.unwrap_or_else(|_| br#"{"statusCode":500}"#.to_vec())
    }
}

/// The request an invocation carries, with its Lambda context, and the shape
/// its answer takes.
fn invocation(
    head: &HeaderMap,
    event: &[u8],
    id: &str,
    config: Arc<Config>,
) -> Result<(Request, Shape), FunctionError> {
    // `Context::new` takes the deadline as given (a missing one would panic).
    if head.get(DEADLINE).is_none() {
        return Err(FunctionError::BAD_CONTEXT);
    }
    let context = Context::new(id, config, head).map_err(|_| FunctionError::BAD_CONTEXT)?;
    let (event, shape) = read_event(event)?;
    Ok((Request::from(event).with_lambda_context(context), shape))
}

/// Reads an API Gateway proxy event: an HTTP API one (payload 2.0) in one
/// pass, anything else as `lambda_http` reads it.
fn read_event(event: &[u8]) -> Result<(LambdaRequest, Shape), FunctionError> {
    if let Ok(http_api) = serde_json::from_slice::<ApiGatewayV2httpRequest>(event)
        && http_api.version.as_deref() == Some("2.0")
    {
        return Ok((LambdaRequest::ApiGatewayV2(http_api), Shape::HttpApi));
    }
    match serde_json::from_slice::<LambdaRequest>(event) {
        Ok(LambdaRequest::ApiGatewayV1(rest_api)) => {
            Ok((LambdaRequest::ApiGatewayV1(rest_api), Shape::RestApi))
        }
        Ok(LambdaRequest::ApiGatewayV2(http_api)) => {
            Ok((LambdaRequest::ApiGatewayV2(http_api), Shape::HttpApi))
        }
        _ => Err(FunctionError::NOT_AN_HTTP_EVENT),
    }
}

/// The invocation's id, which goes into the path of its answer: Lambda's are
/// UUIDs, and anything beyond letters, digits and `-_.:` is refused.
fn request_id(head: &HeaderMap) -> Result<&str, RuntimeApiError> {
    head.get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .ok_or(RuntimeApiError::NoRequestId)
}

/// One HTTP/1.1 connection to the Runtime API, made again when it closes.
struct Connection {
    /// `host:port`, to connect to and to name in `Host`.
    address: String,
    host: HeaderValue,
    /// The base path and [`API_PREFIX`].
    prefix: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// From `AWS_LAMBDA_RUNTIME_API`: `host:port` on Lambda and under the
    /// runner, `http://host:port/base/path` under `cargo lambda watch`.
    fn new(value: &str) -> Result<Self, RuntimeApiError> {
        let bad = || RuntimeApiError::BadAddress(value.to_owned());
        let rest = value.strip_prefix("http://").unwrap_or(value);
        let (address, base) = rest.split_once('/').unwrap_or((rest, ""));
        let base = base.trim_end_matches('/');
        if address.is_empty() || rest.contains("://") {
            return Err(bad());
        }
        let prefix = if base.is_empty() {
            API_PREFIX.to_owned()
        } else {
            format!("/{base}{API_PREFIX}")
        };
        let host = HeaderValue::from_str(address).map_err(|_| bad())?;
        // Every path the loop sends must be one.
        http::uri::PathAndQuery::try_from(format!("{prefix}next")).map_err(|_| bad())?;
        Ok(Self {
            address: address.to_owned(),
            host,
            prefix,
            sender: None,
        })
    }

    /// Waits for the next invocation: its headers and its event.
    async fn next(&mut self) -> Result<(HeaderMap, Bytes), RuntimeApiError> {
        let path = format!("{}next", self.prefix);
        let sent = match self.send(Method::GET, &path, None).await {
            // A kept connection the other side closed meanwhile: a poll is
            // safe to repeat, on a new one.
            Err(RuntimeApiError::Connection(_)) => {
                self.sender = None;
                self.send(Method::GET, &path, None).await
            }
            sent => sent,
        };
        let (status, head, event) = sent?;
        if status != StatusCode::OK {
            return Err(RuntimeApiError::NextRefused(status));
        }
        Ok((head, event))
    }

    /// Posts an invocation's answer. The Runtime API's reply says only
    /// whether it took it; one it refuses (an invocation already answered or
    /// timed out) is not this instance's to mend.
    async fn answer(&mut self, id: &str, answer: Answer) -> Result<(), RuntimeApiError> {
        let (path, body) = match answer {
            Answer::Response(body) => (format!("{}{id}/response", self.prefix), body),
            Answer::Error(error) => (
                format!("{}{id}/error", self.prefix),
                serde_json::to_vec(&error).unwrap_or_default(),
            ),
        };
        let (status, _, _) = self.send(Method::POST, &path, Some(body)).await?;
        if !status.is_success() {
            tracing::warn!(request_id = %id, status = status.as_u16(), "the Runtime API refused an answer");
        }
        Ok(())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RuntimeApiError> {
        let is_error = path.ends_with("/error");
        let is_post = method == Method::POST;
        let mut request = http::Request::new(Full::new(Bytes::from(body.unwrap_or_default())));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().map_err(|_| RuntimeApiError::NoRequestId)?;
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        if is_post {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if is_error {
            headers.insert(
                "lambda-runtime-function-error-type",
                HeaderValue::from_static("Unhandled"),
            );
        }
        let sender = self.sender().await?;
        let response = sender.send_request(request).await?;
        let (head, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((head.status, head.headers, body))
    }

    /// The kept connection, or a new one if there is none or it closed.
    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, RuntimeApiError> {
        let mut sender = match self.sender.take() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        if sender.ready().await.is_err() {
            sender = self.connect().await?;
        }
        Ok(self.sender.insert(sender))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RuntimeApiError> {
        let unreachable = |e| RuntimeApiError::Unreachable(self.address.clone(), e);
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(unreachable)?;
        stream.set_nodelay(true).map_err(unreachable)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Its end shows as the next request's error.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;

    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use lambda_http::RequestExt;
    use serde_json::{Value, json};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;
    use crate::testing::gateway_event;

    const TRACE: &str =
        "Root=1-6745b1f2-3c1d5e7f9a0b2c4d6e8f0a1b;Parent=53995c3f42cd8ad8;Sampled=0";
    const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:shop";

    /// One invocation as a Runtime API hands it out.
    struct Invocation {
        headers: Vec<(&'static str, String)>,
        event: String,
    }

    fn invocation(id: &str, event: impl ToString) -> Invocation {
        Invocation {
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
        body: Value,
    }

    struct Script {
        /// The base path every request's path starts with.
        base: &'static str,
        invocations: Mutex<VecDeque<Invocation>>,
        posted: mpsc::UnboundedSender<Posted>,
        /// Answer every exchange with `Connection: close`.
        close: bool,
    }

    /// A Runtime API on a local port that hands out `invocations` in order,
    /// then keeps the last `next` waiting; returns its address and what the
    /// function posts.
    async fn runtime_api(
        invocations: Vec<Invocation>,
        close: bool,
    ) -> (String, mpsc::UnboundedReceiver<Posted>) {
        runtime_api_under("", invocations, close).await
    }

    async fn runtime_api_under(
        base: &'static str,
        invocations: Vec<Invocation>,
        close: bool,
    ) -> (String, mpsc::UnboundedReceiver<Posted>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (posted, received) = mpsc::unbounded_channel();
        let script = Arc::new(Script {
            base,
            invocations: Mutex::new(invocations.into()),
            posted,
            close,
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = script.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| exchange(script.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
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
            return Ok(answer.body(Full::new(Bytes::from(next.event))).unwrap());
        }
        let error_type = request
            .headers()
            .get("lambda-runtime-function-error-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = request.into_body().collect().await?.to_bytes();
        let _ = script.posted.send(Posted {
            path,
            error_type,
            body: serde_json::from_slice(&body).unwrap(),
        });
        Ok(answer.status(202).body(Full::new(Bytes::new())).unwrap())
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
        });
        match request.uri().path() {
            "/panic" => panic!("a handler bug"),
            "/binary" => Response::builder()
                .header("content-type", "application/octet-stream")
                .body(Body::Binary(vec![0, 255, 1]))
                .unwrap(),
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
        tokio::spawn(serve_at(address, config(), &INSTANCE, echo))
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
            })
        );
    }

    #[tokio::test]
    async fn a_rest_api_event_is_answered_with_multi_value_headers_only() {
        let rest_api = json!({
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
        });
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
        let (address, _received) =
            runtime_api(vec![invocation("id/../x", http_api("/a"))], false).await;
        let stopped = start(address).await.unwrap();
        assert!(
            matches!(stopped, Err(RuntimeApiError::NoRequestId)),
            "{stopped:?}"
        );

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        let stopped = start(closed).await.unwrap();
        assert!(
            matches!(stopped, Err(RuntimeApiError::Unreachable(..))),
            "{stopped:?}"
        );
    }
}
