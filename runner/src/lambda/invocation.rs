//! What passes between the gateway, an instance and its Runtime API: the
//! invocation handed out, and the outcome posted back.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;

/// Lambda's limit on a synchronous response.
pub(crate) const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// One invocation handed to the instance through `next`.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub event: Bytes,
    pub deadline_ms: u64,
    pub arn: Arc<str>,
    pub trace_id: String,
    pub reply: oneshot::Sender<Outcome>,
}

/// The invocation an instance is working on.
#[derive(Debug)]
pub(super) struct Current {
    pub(super) request_id: String,
    pub(super) reply: oneshot::Sender<Outcome>,
}

/// What the instance posted for an invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    /// `/error`: the `errorType` and `errorMessage` it reported.
    Error {
        error_type: String,
        message: String,
    },
    /// The response exceeded [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// The response upload broke off before its end.
    Incomplete,
    /// The response is being streamed (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`).
    Streamed(super::stream::Streamed),
}

/// Where an instance is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Starting,
    /// It has polled `next` at least once.
    Ready,
    InitFailed(String),
    Exited(String),
}
