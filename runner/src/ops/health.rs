//! `GET /healthz` and `GET /readyz`, for an orchestrator's probes.
//!
//! - `/healthz`: the runner is alive and answering; 200 whenever it answers.
//! - `/readyz`: it takes new requests; 503 once it has begun to drain, so a load
//!   balancer stops sending it traffic before the listener closes.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;

use crate::gateway::App;

/// The probe's answer, when `path` is one of the probes.
pub(super) fn answer(app: &App, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    let (status, body) = match path {
        "/healthz" => (StatusCode::OK, r#"{"status":"alive"}"#),
        "/readyz" if app.drain.is_draining() => {
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#)
        }
        "/readyz" => (StatusCode::OK, r#"{"status":"ready"}"#),
        _ => return None,
    };
    let mut response = if matches!(*method, Method::GET | Method::HEAD) {
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        response
    } else {
        let mut response = Response::new(Full::new(Bytes::from_static(
            br#"{"status":"method not allowed: use GET"}"#,
        )));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Some(response)
}
