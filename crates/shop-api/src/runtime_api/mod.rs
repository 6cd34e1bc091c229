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
//! payload 1.0) is answered with multi-value headers; a panic, in the handler
//! or in making the event into a request, fails that invocation only, with an
//! error document that names no type and no place. And as the Runtime API asks:
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

use connection::Connection;
use event::invocation;
pub use protocol::RuntimeApiError;
use protocol::{Answer, FunctionError, INVOCATION_ID, request_id};

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
        // `lambda_http` panics on some events it cannot make into a request
        // (a raw space in the query string, a body that is not the base64 it
        // claims): that invocation fails, not the instance.
        let made = catch_unwind(AssertUnwindSafe(|| {
            invocation(&head, &event, &id, config.clone())
        }))
        .unwrap_or(Err(FunctionError::NOT_AN_HTTP_EVENT));
        let answer = match made {
            Ok((request, shape)) => {
                // Boxed where it is made: a handler's future holds the
                // database driver's, several kilobytes.
                let handled =
                    AssertUnwindSafe(async move { Box::pin(handler(instance, request)).await })
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
        api.answer(&id, head.get(INVOCATION_ID), answer).await?;
    }
}
