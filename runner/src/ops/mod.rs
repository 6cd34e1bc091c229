//! The operations listener (`--ops-port`, loopback unless `--ops-host` says
//! otherwise): Lambda's Invoke API, which reaches a function's pool directly,
//! bypassing the gateway, so it is never on the public port; the health
//! probes (`/healthz`, `/readyz`); and Prometheus metrics (`/metrics`). Its error bodies
//! are Lambda's (`{"Type": …, "message": …}` with `x-amzn-ErrorType`), so
//! `aws lambda invoke --endpoint-url` and `cargo lambda invoke` read them.

mod health;
mod invoke;
mod outcome;
pub mod schedule;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::gateway::App;
use crate::gateway::stall::WriteStall;
use crate::lambda::Supervisor;
use invoke::error;

pub use outcome::AsyncRetries;

/// Connections the operations listener serves at once (more wait in the
/// kernel's backlog): with 6 MB bodies, at most ~100 MB of them in memory.
const MAX_CONNECTIONS: usize = 16;
/// The largest request body: Lambda's synchronous payload limit.
const MAX_BODY: usize = 6 * 1024 * 1024;
/// How long a client may take to send a request's headers, or its body.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the operations listener needs besides the app.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub retries: AsyncRetries,
}

/// Serves the operations API on `listener` for as long as the runner runs. It
/// keeps accepting while the runner drains, so that `/readyz` can say so; each
/// connection then serves one request and closes, and new invocations are refused.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    supervisor: Arc<Supervisor>,
    settings: Settings,
) {
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = connections.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = crate::net::accept(&listener).await;
        let app = Arc::clone(&app);
        let supervisor = Arc::clone(&supervisor);
        let open = app.drain.open();
        tokio::spawn(async move {
            let _slot = slot;
            // A client that stops reading its answer is cut off, as on the
            // public port.
            let stream = WriteStall::new(stream, app.settings.write_timeout);
            let drain = app.drain.clone();
            let service = service_fn(move |req| {
                handle(Arc::clone(&app), Arc::clone(&supervisor), settings, req)
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(CLIENT_TIMEOUT);
            drain
                .serve(open, &mut builder, TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    app: Arc<App>,
    supervisor: Arc<Supervisor>,
    settings: Settings,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(probe) = health::answer(&app, &supervisor, req.method(), req.uri().path()) {
        return Ok(probe);
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let name = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .filter(|name| !name.is_empty() && !name.contains('/'));
    let Some(name) = name else {
        return Ok(error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "the runner serves only POST /2015-03-31/functions/{name}/invocations here",
        ));
    };
    if req.method() != http::Method::POST {
        return Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnknownOperationException",
            "invoke with POST",
        ));
    }
    if app.drain.is_draining() {
        return Ok(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the runner is stopping and takes no new invocations",
        ));
    }
    let name = percent_decode(name);
    let (parts, body) = req.into_parts();
    let body =
        match tokio::time::timeout(CLIENT_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => {
                return Ok(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
                ));
            }
            Err(_) => {
                return Ok(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeoutException",
                    "the request body did not arrive in time",
                ));
            }
        };
    let qualifier = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("Qualifier="))
        .map(percent_decode);
    let call = invoke::Call {
        name: &name,
        qualifier: qualifier.as_deref(),
        headers: &parts.headers,
        payload: body,
    };
    Ok(invoke::invoke(&app, settings.retries, call).await)
}

/// `%XX` escapes decoded (a function name or ARN in a path has `:` escaped by
/// some clients); what does not decode to UTF-8 stays as it was.
fn percent_decode(text: &str) -> String {
    String::from_utf8(crate::gateway::query::percent_decode_bytes(text))
        .unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_in_names_are_decoded_and_broken_ones_kept() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3AEcho"),
            "arn:aws:lambda:us-east-1:1:function:Echo"
        );
        assert_eq!(percent_decode("Echo%"), "Echo%");
        assert_eq!(percent_decode("Echo%zz"), "Echo%zz");
        assert_eq!(percent_decode("%ff"), "%ff");
    }
}
