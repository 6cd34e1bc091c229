//! What the Runtime API and the loop say to each other: its paths and
//! headers, the loop's errors, and what an invocation is answered with.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::Serialize;

/// Where the Runtime API's invocation paths start, after the base path
/// `AWS_LAMBDA_RUNTIME_API` may carry.
pub(super) const API_PREFIX: &str = "/2018-06-01/runtime/invocation/";
pub(super) const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
pub(super) const DEADLINE: &str = "lambda-runtime-deadline-ms";
pub(super) const TRACE_ID: &str = "lambda-runtime-trace-id";
/// Given with an invocation by some Runtime APIs, and sent back with its answer.
pub(super) const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
/// How long to wait before polling again after a `next` with nothing in it.
pub(super) const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(50);

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
    #[error("the Runtime API answered {0} to an invocation's answer: this instance must end")]
    AnswerFailed(StatusCode),
    #[error("the Runtime API gave an invocation without a usable request id")]
    NoRequestId,
}

/// What an invocation is answered with.
pub(super) enum Answer {
    Response(Vec<u8>),
    Error(FunctionError),
}

/// The error document the Runtime API takes for a failed invocation.
#[derive(Debug, Serialize)]
pub(super) struct FunctionError {
    #[serde(rename = "errorType")]
    kind: &'static str,
    #[serde(rename = "errorMessage")]
    pub(super) message: &'static str,
}

impl FunctionError {
    pub(super) const PANIC: Self = Self {
        kind: "Panic",
        message: "the function panicked",
    };
    pub(super) const NOT_AN_HTTP_EVENT: Self = Self {
        kind: "InvalidEvent",
        message: "the event is not an API Gateway HTTP or REST API proxy event",
    };
    pub(super) const BAD_CONTEXT: Self = Self {
        kind: "InvalidContext",
        message: "the invocation's Runtime API headers cannot be read",
    };
}

/// The invocation's id, which goes into the path of its answer: Lambda's are
/// UUIDs, and anything beyond letters, digits, `-` and `_` is refused.
pub(super) fn request_id(head: &HeaderMap) -> Result<&str, RuntimeApiError> {
    head.get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or(RuntimeApiError::NoRequestId)
}
