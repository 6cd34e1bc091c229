//! `GET /healthz` and `GET /readyz`, for an orchestrator's probes, and `GET
//! /metrics`, for Prometheus.
//!
//! - `/healthz`: the runner is alive and answering; 200 whenever it answers.
//! - `/readyz`: it takes new requests; 503 while the instances kept ready
//!   (`ProvisionedConcurrencyConfig`, `--min-instances`) are not all up, and
//!   once it has begun to drain (when the public listener closes too).
//! - `/metrics`: every function's metrics (see [`crate::lambda::metrics`]).

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;

use crate::gateway::App;
use crate::lambda::Supervisor;

/// What Prometheus reads: the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const JSON: &str = "application/json";

/// The answer, when `path` is one of the probes or the metrics.
pub(super) fn answer(
    app: &App,
    supervisor: &Supervisor,
    method: &Method,
    path: &str,
) -> Option<Response<Full<Bytes>>> {
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return None;
    }
    let (status, content_type, body) = if !matches!(*method, Method::GET | Method::HEAD) {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            JSON,
            Bytes::from_static(br#"{"status":"method not allowed: use GET"}"#),
        )
    } else if path == "/metrics" {
        for pool in &app.served().pools {
            pool.record_state();
        }
        let text = supervisor.metrics.encode();
        (StatusCode::OK, OPENMETRICS, Bytes::from(text))
    } else if path == "/healthz" {
        (
            StatusCode::OK,
            JSON,
            Bytes::from_static(br#"{"status":"alive"}"#),
        )
    } else if app.drain.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            Bytes::from_static(br#"{"status":"draining"}"#),
        )
    } else if !app.served().pools.iter().all(|pool| pool.is_ready()) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            Bytes::from_static(br#"{"status":"warming"}"#),
        )
    } else {
        (
            StatusCode::OK,
            JSON,
            Bytes::from_static(br#"{"status":"ready"}"#),
        )
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    Some(response)
}
