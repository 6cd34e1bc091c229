//! The public HTTP side: routes each request to its function's pool, as API Gateway
//! would, and writes one log line per invocation.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::event;
use crate::pool::{Pool, PoolError};
use crate::problem::Problem;
use crate::response;
use crate::routes::{Lookup, Routes};
use crate::runtime_api::Outcome;

/// Lambda's limit on a synchronous invocation's payload.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// Everything a request needs.
pub struct App {
    pub routes: Routes,
    pub pools: Vec<Arc<Pool>>,
    pub problem_type_base: String,
    pub account_id: String,
}

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(app.clone(), peer, req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let received = SystemTime::now();
    let started = Instant::now();
    let request_id = crate::ids::request_id();
    let problem = |p: Problem| {
        Ok(finish(
            p.render(&request_id, &app.problem_type_base),
            &request_id,
        ))
    };
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    let (route, params) = match app.routes.lookup(&method, &raw_path) {
        Lookup::Found(route, params) => (route, params),
        Lookup::MethodNotAllowed(allowed) => return problem(Problem::MethodNotAllowed(allowed)),
        Lookup::NotFound => return problem(Problem::NotFound),
    };
    let (parts, body) = req.into_parts();
    let Some(body) = read_body(body).await else {
        return problem(Problem::PayloadTooLarge);
    };
    let pool = app.pools[route.function].clone();
    let request = event::Request {
        method: &method,
        raw_path: &raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        source_ip: peer.ip(),
        request_id: &request_id,
        received,
        account_id: &app.account_id,
    };
    let event = Bytes::from(
        serde_json::to_vec(&event::build(&request, route, &params)).unwrap_or_default(),
    );
    let payload = route.payload;
    // The invocation runs in its own task, so a caller who hangs up cannot abandon an
    // instance halfway through.
    let invocation = {
        let pool = pool.clone();
        let request_id = request_id.clone();
        tokio::spawn(async move { pool.invoke(request_id, event, trace_id(received)).await })
    };
    let invoked = match invocation.await {
        Ok(invoked) => invoked,
        Err(_) => {
            return problem(Problem::Crashed {
                function: pool.runtime.name.clone(),
                reason: "was lost".into(),
            });
        }
    };
    let function = pool.runtime.name.clone();
    let response = match invoked.result {
        Ok(Outcome::Response(bytes)) => match response::translate(payload, &bytes) {
            Ok(response) => response,
            Err(e) => Problem::BadResponse {
                function: function.clone(),
                reason: e.0,
            }
            .render(&request_id, &app.problem_type_base),
        },
        Ok(Outcome::Error {
            error_type,
            message,
        }) => {
            tracing::warn!(function = %function, request_id = %request_id, %error_type, %message, "function returned an error");
            Problem::FunctionError {
                function: function.clone(),
                error_type,
            }
            .render(&request_id, &app.problem_type_base)
        }
        Ok(Outcome::TooLarge) => Problem::BadResponse {
            function: function.clone(),
            reason: "the function's response exceeds 6 MB".into(),
        }
        .render(&request_id, &app.problem_type_base),
        Err(e) => {
            let p = match e {
                PoolError::Throttled => Problem::Throttled {
                    function: function.clone(),
                },
                PoolError::InitFailed(reason) => Problem::InitFailed {
                    function: function.clone(),
                    reason,
                },
                PoolError::Crashed(reason) => Problem::Crashed {
                    function: function.clone(),
                    reason,
                },
                PoolError::Timeout => Problem::Timeout {
                    function: function.clone(),
                    timeout: pool.runtime.timeout,
                },
            };
            p.render(&request_id, &app.problem_type_base)
        }
    };
    let response = finish(response, &request_id);
    let line = InvocationLog {
        function,
        request_id,
        method,
        path: raw_path,
        status: response.status().as_u16(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        init_ms: invoked.init.map(|init| init.as_secs_f64() * 1000.0),
    };
    // Written once the response is on its way: the caller need not wait for the log.
    tokio::spawn(async move { line.write() });
    Ok(response)
}

/// The one log line of an invocation.
struct InvocationLog {
    function: String,
    request_id: String,
    method: String,
    path: String,
    status: u16,
    duration_ms: f64,
    init_ms: Option<f64>,
}

impl InvocationLog {
    fn write(&self) {
        let InvocationLog {
            function,
            request_id,
            method,
            path,
            status,
            duration_ms,
            ..
        } = self;
        match self.init_ms {
            Some(init_ms) => tracing::info!(
                %function, %request_id, %method, %path, status, duration_ms, init_ms,
                "invocation (cold start)"
            ),
            None => tracing::info!(
                %function, %request_id, %method, %path, status, duration_ms, "invocation"
            ),
        }
    }
}

/// The whole body, or `None` past [`MAX_REQUEST_BYTES`]. An oversized body is still
/// read (up to a bound) so the client sees the 413 rather than a reset connection.
async fn read_body(mut body: Incoming) -> Option<Bytes> {
    const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
    let mut collected = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_REQUEST_BYTES {
                collected.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                return None;
            }
        }
    }
    (seen <= MAX_REQUEST_BYTES).then(|| collected.freeze())
}

/// Adds API Gateway's request-id header and turns the body into hyper's type.
fn finish(response: Response<Bytes>, request_id: &str) -> Response<Full<Bytes>> {
    let mut response = response.map(Full::new);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", v);
    }
    response
}

/// An X-Ray style trace header, as Lambda passes in `Lambda-Runtime-Trace-Id`.
fn trace_id(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (root, parent) = crate::ids::trace_parts();
    format!("Root=1-{secs:08x}-{root};Parent={parent};Sampled=0")
}
