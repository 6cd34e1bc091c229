//! Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`): any
//! JSON payload, straight to the function's pool.
//!
//! - `X-Amz-Invocation-Type: RequestResponse` (the default): 200 with the
//!   function's result; a function error, crash or timeout is still a 200, with
//!   `X-Amz-Function-Error: Unhandled` and the error as JSON, as Lambda answers.
//! - `Event`: 202 at once; the invocation runs later and is retried twice after
//!   a failure, after one and then two `--async-retry-delay`s (a minute and two
//!   on Lambda), then dropped with a log line.
//! - `DryRun`: 204 when the function exists.
//! - `X-Amz-Log-Type: Tail`: `X-Amz-Log-Result` is the last 4 KB of the
//!   invocation's log, base64, between Lambda's `START` and `END` lines.
//!
//! The function is named by its `FunctionName`, its logical id, or its ARN,
//! with no qualifier or `$LATEST`.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::outcome::{AsyncRetries, AsyncSlot, asynchronous, result, trace_id};
use crate::gateway::App;
use crate::lambda::pool::{Invoked, Pool, PoolError};
use crate::lambda::report::start_text;

/// Lambda's limit on an asynchronous invocation's payload.
const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;

/// One Invoke API request.
pub(super) struct Call<'a> {
    pub name: &'a str,
    pub qualifier: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub payload: Bytes,
}

pub(super) async fn invoke(
    app: &Arc<App>,
    retries: AsyncRetries,
    call: Call<'_>,
) -> Response<Full<Bytes>> {
    let (name, qualifier) = split_qualifier(call.name);
    // Only the pool: what else is served may be replaced meanwhile (--watch),
    // and its old instances should not wait for this call to stop.
    let pool = app.served().pools.iter().find(|p| names(p, name)).cloned();
    let Some(pool) = pool else {
        return not_found(call.name);
    };
    let pool = &pool;
    if let Some(qualifier) = qualifier.or(call.qualifier)
        && qualifier != "$LATEST"
    {
        return not_found(&format!("{name}:{qualifier}"));
    }
    let header = |name: &str| call.headers.get(name).and_then(|v| v.to_str().ok());
    let kind = header("x-amz-invocation-type").unwrap_or("RequestResponse");
    let limit = if kind == "Event" {
        MAX_ASYNC_PAYLOAD
    } else {
        6 * 1024 * 1024
    };
    if call.payload.len() > limit {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            &format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        );
    }
    let payload = if call.payload.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&call.payload) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            &format!("Could not parse request body into json: {e}"),
        );
    } else {
        call.payload
    };
    let request_id = crate::ids::request_id();
    match kind {
        "RequestResponse" => {
            let tail = header("x-amz-log-type") == Some("Tail");
            synchronous(pool, request_id, payload, tail).await
        }
        "Event" => {
            let Some(slot) = AsyncSlot::for_event() else {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    "too many asynchronous invocations are queued",
                );
            };
            tracing::info!(function = %pool.runtime.name, %request_id, "asynchronous invocation queued");
            let function = pool.runtime.name.clone();
            let id = request_id.clone();
            tokio::spawn(asynchronous(
                Arc::clone(app),
                function,
                id,
                payload,
                retries,
                slot,
            ));
            answer(StatusCode::ACCEPTED, &request_id, Bytes::new())
        }
        "DryRun" => answer(StatusCode::NO_CONTENT, &request_id, Bytes::new()),
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("unknown X-Amz-Invocation-Type {other:?}: RequestResponse, Event or DryRun"),
        ),
    }
}

async fn synchronous(
    pool: &Arc<Pool>,
    request_id: String,
    payload: Bytes,
    tail: bool,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let Ok(admission) = pool.admit().await else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.",
        );
    };
    // Run in a task of its own: a caller who hangs up does not abandon an
    // instance halfway through.
    let invocation = {
        let (pool, id) = (Arc::clone(pool), request_id.clone());
        tokio::spawn(async move {
            pool.invoke(admission, id, payload, trace_id(), tail, false)
                .await
        })
    };
    let invoked = invocation
        .await
        .unwrap_or_else(|_| Invoked::failed(PoolError::Crashed("was lost".into())));
    let duration = invoked.ran.unwrap_or_else(|| started.elapsed());
    let log = invoked.log.clone();
    let report = invoked.report.clone();
    let (function_error, body) = match result(pool, &request_id, invoked) {
        Ok(body) => (false, body),
        Err(Some(body)) => (true, body),
        Err(None) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate Exceeded.",
            );
        }
    };
    tracing::info!(function = %pool.runtime.name, %request_id, function_error, duration_ms = duration.as_secs_f64() * 1000.0, "invoked");
    let mut response = answer(StatusCode::OK, &request_id, body);
    let headers = response.headers_mut();
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if function_error {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(log) = log {
        let text = tail_text(&request_id, &log, report.as_deref().unwrap_or_default());
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("x-amz-log-result", value);
        }
    }
    response
}

/// Whether `name` (without qualifier) names the pool's function.
fn names(pool: &Pool, name: &str) -> bool {
    pool.runtime.name == name || function_name(&pool.runtime.arn) == name
}

/// `FunctionName` from `arn:aws:lambda:<region>:<account>:function:<name>`.
fn function_name(arn: &str) -> &str {
    arn.rsplit_once(":function:").map_or(arn, |(_, name)| name)
}

/// A name, a `name:qualifier`, an ARN or a qualified ARN, as the name and the
/// qualifier.
fn split_qualifier(name: &str) -> (&str, Option<&str>) {
    let name = name
        .rsplit_once(":function:")
        .map_or(name, |(_, rest)| rest);
    match name.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (name, None),
    }
}

/// Lambda's error answer: `x-amzn-ErrorType` names the exception, the body
/// says what happened.
pub(super) fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"Type": "User", "message": message});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Ok(kind) = http::HeaderValue::from_str(kind) {
        headers.insert("x-amzn-errortype", kind);
    }
    response
}

fn not_found(name: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("Function not found: {name}"),
    )
}

fn answer(status: StatusCode, request_id: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// Lambda's log around an invocation (`START`, the output, then `END` and
/// `REPORT` as the runner printed them), the last 4 KB of it.
fn tail_text(request_id: &str, output: &[u8], end_and_report: &str) -> Vec<u8> {
    let mut text = start_text(request_id).into_bytes();
    text.push(b'\n');
    text.extend_from_slice(output);
    text.extend_from_slice(end_and_report.as_bytes());
    let cut = text.len().saturating_sub(4096);
    text.split_off(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_and_qualifiers_are_told_apart() {
        assert_eq!(split_qualifier("Echo"), ("Echo", None));
        assert_eq!(split_qualifier("Echo:$LATEST"), ("Echo", Some("$LATEST")));
        assert_eq!(
            split_qualifier("arn:aws:lambda:us-east-1:123456789012:function:Echo"),
            ("Echo", None)
        );
        assert_eq!(
            split_qualifier("arn:aws:lambda:us-east-1:123456789012:function:Echo:7"),
            ("Echo", Some("7"))
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:my-echo"),
            "my-echo"
        );
    }

    #[test]
    fn the_log_tail_is_lambdas_lines_around_the_output_and_at_most_4_kb() {
        let report = "END RequestId: id-1\nREPORT RequestId: id-1\tDuration: 1.50 ms\t\n";
        let text = String::from_utf8(tail_text("id-1", b"hello\n", report)).unwrap();
        assert_eq!(
            text,
            format!("START RequestId: id-1 Version: $LATEST\nhello\n{report}")
        );
        let long = tail_text("id-2", &[b'y'; 10_000], report);
        assert_eq!(long.len(), 4096);
        assert!(String::from_utf8(long).unwrap().ends_with(report));
    }
}
