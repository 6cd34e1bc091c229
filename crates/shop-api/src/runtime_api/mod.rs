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
//!
//! What it does as `lambda_runtime` and `lambda_http` do: the request carries
//! the Lambda context and `x-amzn-trace-id` set to the invocation's trace id;
//! a body goes as text or base64 by its `Content-Type`; a REST API event (or
//! payload 1.0) is answered with multi-value headers; a panic in the handler
//! fails that invocation only, with an error document that names no type and
//! no place. Where they differ: an event `lambda_http` panics on while making
//! it into a request (a client's malformed query string reaches it on AWS) is
//! answered 400 rather than failed (its query string, a header or its body is
//! not well-formed), and a panic is logged as one plain line
//! ([`quiet_panics`]). And as the Runtime API asks:
//! a `lambda-runtime-invocation-id` goes back with the answer, a 5xx to an
//! answer ends the instance, a `next` with nothing (204) is asked again, and
//! 410 Gone ends the loop cleanly.

mod connection;
mod event;
mod protocol;
#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures::FutureExt;
use lambda_http::lambda_runtime::Config;
use lambda_http::{Body, Request, Response};
use shop_domain::validation::FieldError;

use crate::error::ApiError;

use connection::Connection;
pub use protocol::RuntimeApiError;
use protocol::{Answer, FunctionError, INVOCATION_ID, request_id};

/// Logs a panic as one fixed line that names no place and no message: a
/// panic a client can cause (see [`serve`]) must not put source paths or type
/// names into the log. The line goes straight to stderr, not through
/// `tracing`, so a panic inside the subscriber cannot lock it up. With
/// `RUST_BACKTRACE` set (to anything but `0`), Rust's own report is kept, for
/// whoever debugs the function; the line says so.
pub fn quiet_panics() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|_| {
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"a panic, caught or fatal; set RUST_BACKTRACE=1 for its place and message\n",
        );
    }));
}

/// The Runtime API's address, as Lambda gives it to every instance.
pub fn address() -> Result<String, RuntimeApiError> {
    std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RuntimeApiError::NotSet)
}

/// Serves invocations with `handler`, the function's settings in `config`
/// (`Config::from_env()` on Lambda), until the Runtime API at `address` goes
/// away (an error) or ends this instance (410 Gone, `Ok`).
pub async fn serve<S, F>(
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
        let Some((head, event)) = api.next().await? else {
            return Ok(());
        };
        let id = request_id(&head)?.to_owned();
        let read = catch_unwind(AssertUnwindSafe(|| {
            event::read(&head, &event, &id, config.clone())
        }))
        .unwrap_or(Err(FunctionError::NOT_AN_HTTP_EVENT));
        let answer = match read {
            Ok(event) => {
                let shape = event.shape;
                // `lambda_http` panics on a few events a client can cause:
                // they are answered 400, and the instance lives on.
                match catch_unwind(AssertUnwindSafe(|| event.into_request())) {
                    Ok(request) => match handle(instance, handler, request).await {
                        Some(response) => Answer::Response(shape.answer(response)),
                        None => {
                            tracing::error!(request_id = %id, "the handler panicked");
                            Answer::Error(FunctionError::PANIC)
                        }
                    },
                    Err(_) => {
                        tracing::warn!(request_id = %id, "the event cannot be made into a request: 400");
                        Answer::Response(shape.answer(unreadable(&id)))
                    }
                }
            }
            Err(refused) => {
                tracing::warn!(request_id = %id, "{}", refused.message);
                Answer::Error(refused)
            }
        };
        api.answer(&id, head.get(INVOCATION_ID), answer).await?;
    }
}

/// The handler's response, or none if it panicked.
async fn handle<S, F>(
    instance: &'static S,
    handler: fn(&'static S, Request) -> F,
    request: Request,
) -> Option<Response<Body>>
where
    F: Future<Output = Response<Body>> + Send,
{
    // Boxed where it is made: a handler's future holds the database
    // driver's, several kilobytes.
    AssertUnwindSafe(async move { Box::pin(handler(instance, request)).await })
        .catch_unwind()
        .await
        .ok()
}

/// The answer to a request whose query string or body cannot be read.
fn unreadable(request_id: &str) -> Response<Body> {
    let problem = FieldError::new("request", "is not well-formed");
    ApiError::InvalidRequest(vec![problem]).into_response(request_id)
}
