//! The public HTTP side: routes each request to its function's pool, as API Gateway
//! would, and writes one log line per invocation.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::client::{Caller, Cidr};
use crate::pool::{Invoked, Pool, PoolError};
use crate::problem::Problem;
use crate::response;
use crate::routes::{Lookup, Routes};
use crate::runtime_api::Outcome;
use crate::stall::WriteStall;
use crate::template::PayloadVersion;
use crate::{body, event};

/// Lambda's limit on a synchronous invocation's payload: the event, so a body is
/// refused once it alone is over it, and otherwise once its event is.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Everything a request needs.
pub struct App {
    pub routes: Routes,
    pub pools: Vec<Arc<Pool>>,
    pub problem_type_base: String,
    pub account_id: String,
    /// The gateway's name for itself, as `requestContext.domainName` tells functions:
    /// the public URL's host, or the address the runner listens on, with its port.
    pub domain_name: String,
    /// The port clients reach the runner on (`X-Forwarded-Port`).
    pub port: u16,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Client connections served at once.
    pub max_connections: usize,
    /// Client connections served at once from one address; further ones are closed.
    pub max_connections_per_client: usize,
    /// Memory for large request bodies, shared by every request.
    pub body_budget: body::Budget,
    /// How long a client may take to send a request's headers (and, on a kept-alive
    /// connection, to start its next request).
    pub header_timeout: std::time::Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: std::time::Duration,
    /// How long a caller waits for a function (API Gateway's integration timeout).
    pub integration_timeout: std::time::Duration,
    /// How long a response write may wait for a client that takes nothing.
    pub write_timeout: std::time::Duration,
}

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let connections = Arc::new(tokio::sync::Semaphore::new(app.max_connections.max(1)));
    let per_client = Arc::new(PerClient::default());
    loop {
        // At the cap, stop accepting: new clients wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            () = &mut shutdown => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => return,
        };
        // One address may not hold every slot: past its share, its connections are
        // closed at once, and everyone else is still served.
        // A trusted proxy carries everyone's connections: it is not one client.
        let cap = if app.trusted_proxies.iter().any(|p| p.contains(peer.ip())) {
            usize::MAX
        } else {
            app.max_connections_per_client
        };
        let Some(share) = per_client.enter(client_block(peer.ip()), cap) else {
            tracing::debug!(client = %peer.ip(), "connection closed: too many from this address");
            drop(stream);
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _share = share;
            let header_timeout = app.header_timeout;
            let stream = WriteStall::new(stream, app.write_timeout);
            let service = service_fn(move |req| handle(app.clone(), peer, req));
            let _ = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The block one client is counted by: an IPv4 address, or an IPv6 address's /64
/// (one subscriber's block, in which it could take a fresh address for every
/// connection).
fn client_block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in its address's share; given back when dropped.
struct Share {
    clients: Arc<PerClient>,
    address: IpAddr,
}

impl PerClient {
    /// A place for one more connection from `address`, unless it holds `cap` already.
    fn enter(self: &Arc<Self>, address: IpAddr, cap: usize) -> Option<Share> {
        let mut open = self.0.lock().expect("lock");
        let count = open.entry(address).or_default();
        if *count >= cap.max(1) {
            return None;
        }
        *count += 1;
        Some(Share {
            clients: self.clone(),
            address,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().expect("lock");
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The next connection, with Nagle's algorithm off. Accept errors (out of file
/// descriptors, say) are waited out rather than spun on.
pub(crate) async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
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
    // An asterisk-form target (`OPTIONS * HTTP/1.1`) names no resource: API
    // Gateway never hands one to a function, and a function could not build a
    // URL from it.
    if !raw_path.starts_with('/') {
        return problem(Problem::BadTarget);
    }
    let (route, params) = match app.routes.lookup(&method, &raw_path) {
        Lookup::Found(route, params) => (route, params),
        Lookup::MethodNotAllowed(allowed) => return problem(Problem::MethodNotAllowed(allowed)),
        Lookup::NotFound => return problem(Problem::NotFound),
    };
    // No API Gateway endpoint is reached with a Host it cannot serve; a function
    // would choke on it building the request's URL.
    let mut hosts = req.headers().get_all(http::header::HOST).iter();
    if let Some(host) = hosts.next()
        && (hosts.next().is_some() || !host.to_str().is_ok_and(crate::client::valid_host))
    {
        return problem(Problem::BadHost);
    }
    let (parts, mut body) = req.into_parts();
    // Refused before a byte of it is read (and what is sent anyway is thrown away
    // while the answer goes out); the connection closes after the answer.
    if body::refused_unread(&parts.headers, MAX_EVENT_BYTES) {
        body::linger(body, &parts.headers);
        return problem(Problem::PayloadTooLarge).map(close_connection);
    }
    let reading = body::read(
        &mut body,
        MAX_EVENT_BYTES,
        MAX_EVENT_BYTES,
        Some(&app.body_budget),
    );
    let (body, _lease) = match tokio::time::timeout(app.body_timeout, reading).await {
        Ok((body::Read::Complete(read), lease)) => (read, lease),
        Ok((body::Read::TooLarge, _)) => {
            body::linger(body, &parts.headers);
            return problem(Problem::PayloadTooLarge).map(close_connection);
        }
        // The client broke off: nobody will read this answer.
        Ok((body::Read::Broken, _)) => return problem(Problem::BodyBroken),
        Err(_) => return problem(Problem::BodyTimeout(app.body_timeout)),
    };
    let pool = app.pools[route.function].clone();
    let caller = Caller::of(peer.ip(), app.port, &parts.headers, &app.trusted_proxies);
    let request = event::Request {
        method: &method,
        raw_path: &raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        caller: &caller,
        domain_name: &app.domain_name,
        request_id: &request_id,
        received,
        account_id: &app.account_id,
    };
    let event = match event::build(&request, route, &params, MAX_EVENT_BYTES) {
        Ok(event) => Bytes::from(event),
        Err(event::TooLarge) => return problem(Problem::PayloadTooLarge),
    };
    drop(body);
    let call = Call {
        app: &app,
        pool: &pool,
        request_id,
        method,
        raw_path,
        started,
        payload: route.payload,
    };
    // Waiting for a place happens here, so a caller who hangs up while queued gives
    // the place back.
    let admission = match pool.admit().await {
        Ok(admission) => admission,
        Err(e) => {
            return Ok(call.answer(Invoked {
                result: Err(e),
                init: None,
            }));
        }
    };
    // The invocation runs in its own task, so a caller who hangs up cannot abandon an
    // instance halfway through.
    let invocation = {
        let pool = pool.clone();
        let request_id = call.request_id.clone();
        let trace = trace_id(received);
        tokio::spawn(async move { pool.invoke(admission, request_id, event, trace).await })
    };
    // As API Gateway does, the caller stops waiting at the integration timeout while
    // the invocation, in its own task, runs on to its end or its own timeout.
    let invoked = match tokio::time::timeout(app.integration_timeout, invocation).await {
        Ok(Ok(invoked)) => invoked,
        Ok(Err(_)) => Invoked {
            result: Err(PoolError::Crashed("was lost".into())),
            init: None,
        },
        Err(_) => Invoked {
            result: Err(PoolError::IntegrationTimeout(app.integration_timeout)),
            init: None,
        },
    };
    Ok(call.answer(invoked))
}

/// One request routed to a function, up to its answer.
struct Call<'a> {
    app: &'a App,
    pool: &'a Pool,
    request_id: String,
    method: String,
    raw_path: String,
    started: Instant,
    payload: PayloadVersion,
}

impl Call<'_> {
    /// The caller's response to the invocation (or to the failure to start one); its
    /// log line is written once the response is on its way.
    fn answer(self, invoked: Invoked) -> Response<Full<Bytes>> {
        let Call {
            app,
            pool,
            request_id,
            method,
            raw_path,
            started,
            payload,
        } = self;
        let function = pool.runtime.name.clone();
        let problem = match invoked.result {
            Ok(Outcome::Response(bytes)) => match response::translate(payload, &bytes) {
                Ok(response) => Ok(response),
                Err(e) => Err(Problem::BadResponse {
                    function: function.clone(),
                    reason: e.0,
                }),
            },
            Ok(Outcome::Error {
                error_type,
                message,
            }) => {
                tracing::warn!(function = %function, request_id = %request_id, %error_type, %message, "function returned an error");
                Err(Problem::FunctionError {
                    function: function.clone(),
                    error_type,
                })
            }
            Ok(Outcome::TooLarge) => Err(Problem::BadResponse {
                function: function.clone(),
                reason: "the function's response exceeds 6 MB".into(),
            }),
            Ok(Outcome::Streamed) => Err(Problem::BadResponse {
                function: function.clone(),
                reason: "it streamed its response (Lambda-Runtime-Function-Response-Mode: \
                         streaming), which the runner does not support"
                    .into(),
            }),
            Ok(Outcome::Incomplete) => Err(Problem::BadResponse {
                function: function.clone(),
                reason: "the function's response upload was cut short".into(),
            }),
            Err(PoolError::Throttled) => Err(Problem::Throttled {
                function: function.clone(),
                waited: None,
            }),
            Err(PoolError::QueueTimeout(waited)) => Err(Problem::Throttled {
                function: function.clone(),
                waited: Some(waited),
            }),
            Err(PoolError::InitFailed(reason)) => Err(Problem::InitFailed {
                function: function.clone(),
                reason,
            }),
            Err(PoolError::Crashed(reason)) => Err(Problem::Crashed {
                function: function.clone(),
                reason,
            }),
            Err(PoolError::IntegrationTimeout(limit)) => Err(Problem::IntegrationTimeout {
                function: function.clone(),
                limit,
            }),
            Err(PoolError::Timeout) => Err(Problem::Timeout {
                function: function.clone(),
                timeout: pool.runtime.timeout,
            }),
        };
        let response = problem.unwrap_or_else(|p| {
            if let Some(cause) = p.cause() {
                tracing::warn!(function = %function, request_id = %request_id, %cause, status = p.status().as_u16(), "invocation failed");
            }
            p.render(&request_id, &app.problem_type_base)
        });
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
        // Written once the response is on its way: the caller need not wait for it.
        tokio::spawn(async move { line.write() });
        response
    }
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

/// Asks hyper to close the connection after this response: the rest of the
/// request's body is not going to be read.
fn close_connection(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
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
