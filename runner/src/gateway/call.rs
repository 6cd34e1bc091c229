//! One request through the gateway: routed, its body read within the limits,
//! turned into an event, handed to the function's pool, and answered with what
//! the function returned or the problem that stopped it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;

use super::log::InvocationLog;
use super::problem::Problem;
use super::routes::Route;
use super::streaming::ReplyBody;
use super::target::{caller, routed};
use super::{App, MAX_EVENT_BYTES, authorize, cors, event, response, streaming};
use crate::body;
use crate::lambda::invocation::Outcome;
use crate::lambda::pool::{Invoked, Pool, PoolError};
use crate::template::PayloadVersion;

/// Serves one request: routes it, reads its body, builds its event, invokes the
/// function and answers as API Gateway would.
pub(super) async fn handle(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let received = SystemTime::now();
    let started = Instant::now();
    let request_id = crate::ids::request_id();
    let origin = req.headers().get(http::header::ORIGIN).cloned();
    // Once routed, a refusal carries the route's CORS headers too.
    let problem = |p: Problem, close: bool, route: Option<&Route>| {
        let response = finish(p.render_for(&request_id, &app.settings), &request_id);
        let response = cors::answered(response, route, origin.as_ref());
        Ok(if close {
            close_connection(response)
        } else {
            response
        })
    };
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    // Only an OPTIONS request can be a preflight: others skip the look-up.
    if req.method() == http::Method::OPTIONS
        && let Some(answer) = cors::preflight(&app.served(), &raw_path, req.headers())
    {
        return Ok(finish(answer, &request_id));
    }
    let (route, params, pool) = match routed(&app, &req, &method, &raw_path) {
        Ok(found) => found,
        Err(refused) => return problem(refused, false, None),
    };
    let (parts, body) = req.into_parts();
    let caller = caller(&app, peer, &parts.headers);
    // A function URL's function sees the path under its prefix, and no route.
    let (event_path, params) = match &route.url {
        Some(url) => (url.path(&raw_path), Default::default()),
        None => (raw_path.as_str(), params),
    };
    let request = event::Request {
        method: &method,
        raw_path: event_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &[],
        caller: &caller,
        domain_name: &app.settings.domain_name,
        request_id: &request_id,
        received,
        account_id: &app.settings.account_id,
        authorizer: None,
    };
    // Authorized before the body is read, as API Gateway does.
    let authorizer = match authorize::context(&app, &route, &request, &params).await {
        Ok(context) => context,
        Err(refused) => return problem(refused, false, Some(&*route)),
    };
    let body = match read_body(&app, &parts.headers, body).await {
        Ok(body) => body,
        Err((refused, close)) => return problem(refused, close, Some(&*route)),
    };
    let request = event::Request {
        body: &body.0,
        authorizer: authorizer.as_ref(),
        ..request
    };
    let event = match event::build(&request, &route, &params, MAX_EVENT_BYTES) {
        Ok(event) => Bytes::from(event),
        Err(event::TooLarge) => return problem(Problem::PayloadTooLarge, false, Some(&*route)),
    };
    drop(body);
    let call = Call {
        app: &app,
        pool: &pool,
        request_id,
        method,
        raw_path,
        started,
        route: &route,
        http11: parts.version >= http::Version::HTTP_11,
    };
    let invoked = call.invoke(event, &parts.headers, received).await;
    Ok(cors::answered(
        call.answer(invoked).await,
        Some(&*route),
        origin.as_ref(),
    ))
}

/// The whole body, within the size limit, the memory budget and the body
/// timeout; a refusal says whether the connection closes after the answer.
async fn read_body(
    app: &App,
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<(Bytes, body::Lease), (Problem, bool)> {
    // Refused before a byte of it is read (and what is sent anyway is thrown away
    // while the answer goes out).
    if body::refused_unread(headers, MAX_EVENT_BYTES) {
        body::linger(body, headers);
        return Err((Problem::PayloadTooLarge, true));
    }
    let reading = body::read(
        &mut body,
        MAX_EVENT_BYTES,
        MAX_EVENT_BYTES,
        Some(&app.settings.body_budget),
    );
    match tokio::time::timeout(app.settings.body_timeout, reading).await {
        Ok((body::Read::Complete(read), lease)) => Ok((read, lease)),
        Ok((body::Read::TooLarge, _)) => {
            body::linger(body, headers);
            Err((Problem::PayloadTooLarge, true))
        }
        // The client broke off: nobody will read this answer.
        Ok((body::Read::Broken, _)) => Err((Problem::BodyBroken, false)),
        Err(_) => Err((Problem::BodyTimeout(app.settings.body_timeout), false)),
    }
}

/// One request routed to a function, up to its answer.
struct Call<'a> {
    app: &'a App,
    pool: &'a Arc<Pool>,
    request_id: String,
    method: String,
    raw_path: String,
    started: Instant,
    route: &'a Route,
    /// The client speaks HTTP/1.1 or later.
    http11: bool,
}

impl Call<'_> {
    /// Takes a place in the pool and runs the invocation. Waiting for a place
    /// happens in the caller's task, so a caller who hangs up while queued gives
    /// the place back; the invocation runs in its own, so a caller who hangs up
    /// cannot abandon an instance halfway through. As API Gateway does, the caller
    /// stops waiting at the integration timeout while the invocation runs on; a
    /// function URL has none (its function's own timeout bounds it).
    async fn invoke(&self, event: Bytes, headers: &HeaderMap, received: SystemTime) -> Invoked {
        let trace = headers
            .get("x-amzn-trace-id")
            .map(http::HeaderValue::as_bytes);
        let trace = crate::ids::continued_trace_id(trace, received);
        let admission = match self.pool.admit().await {
            Ok(admission) => admission,
            Err(e) => return Invoked::failed(e),
        };
        // An HTTP/1.0 client sees a body end only when the connection closes,
        // so a stream cut short would pass for whole: it gets it gathered.
        let stream = self.route.url.as_ref().is_some_and(|url| url.streaming) && self.http11;
        let invocation = {
            let pool = Arc::clone(self.pool);
            let request_id = self.request_id.clone();
            tokio::spawn(async move {
                pool.invoke(admission, request_id, event, trace, false, stream)
                    .await
            })
        };
        if self.route.url.is_some() {
            return invocation
                .await
                .unwrap_or_else(|_| Invoked::failed(PoolError::Crashed("was lost".into())));
        }
        let limit = self.app.settings.integration_timeout;
        match tokio::time::timeout(limit, invocation).await {
            Ok(Ok(invoked)) => invoked,
            Ok(Err(_)) => Invoked::failed(PoolError::Crashed("was lost".into())),
            Err(_) => Invoked::failed(PoolError::IntegrationTimeout(limit)),
        }
    }

    /// The caller's response to the invocation (or to the failure to start one); its
    /// log line is written once the response (or a stream's head) is on its way.
    async fn answer(self, invoked: Invoked) -> Response<ReplyBody> {
        let Call {
            app,
            pool,
            request_id,
            method,
            raw_path,
            started,
            route,
            ..
        } = self;
        let function = pool.runtime.name.clone();
        let problem = match invoked.result {
            Ok(Outcome::Streamed(streamed)) => streaming::response(streamed)
                .await
                .map_err(|refused| refused.problem(&function, pool.runtime.timeout, &request_id)),
            result => result_response(result, route.payload, pool, &request_id)
                .map(|r| r.map(ReplyBody::from)),
        };
        let response = problem.unwrap_or_else(|p| {
            if let Some(cause) = p.cause() {
                tracing::warn!(function = %function, request_id = %request_id, %cause, status = p.status().as_u16(), "invocation failed");
            }
            p.render_for(&request_id, &app.settings)
                .map(ReplyBody::from)
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
        // Only queued for the output thread here, which is cheaper than a task.
        line.write();
        response
    }
}

/// The response for a function's result, or the problem its failure is.
fn result_response(
    result: Result<Outcome, PoolError>,
    payload: PayloadVersion,
    pool: &Pool,
    request_id: &str,
) -> Result<Response<Bytes>, Problem> {
    let function = pool.runtime.name.clone();
    match result {
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
            })
        }
        Ok(Outcome::TooLarge) => Err(Problem::BadResponse {
            function: function.clone(),
            reason: "the function's response exceeds 6 MB".into(),
        }),
        // Not asked for: the pool gathers a streamed response whole.
        Ok(Outcome::Streamed(_)) => Err(Problem::BadResponse {
            function: function.clone(),
            reason: "the streamed response was not gathered".into(),
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
    }
}

/// Asks hyper to close the connection after this response: the rest of the
/// request's body is not going to be read.
fn close_connection<B>(mut response: Response<B>) -> Response<B> {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Adds API Gateway's request-id header and turns the body into hyper's type.
fn finish(response: Response<impl Into<ReplyBody>>, request_id: &str) -> Response<ReplyBody> {
    let mut response = response.map(Into::into);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", v);
    }
    response
}
