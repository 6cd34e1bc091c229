//! What an invocation's outcome means for the Invoke API (a result, or an
//! error as Lambda reports it), and asynchronous invocations with Lambda's
//! retries, for `Event` invocations and schedules alike.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::lambda::invocation::Outcome;
use crate::lambda::pool::{Invoked, Pool, PoolError};

/// How a failed asynchronous invocation is retried.
#[derive(Debug, Clone, Copy)]
pub struct AsyncRetries {
    /// Retries after the first attempt (Lambda's default: 2).
    pub attempts: u32,
    /// The wait before the first retry; each further one waits twice as long.
    pub delay: Duration,
}

/// The function's result; `Err(Some(error JSON))` for a function error,
/// `Err(None)` when it was throttled.
pub(super) fn result(
    pool: &Pool,
    request_id: &str,
    invoked: Invoked,
) -> Result<Bytes, Option<Bytes>> {
    let failure = |kind: &str, message: String| {
        let body = serde_json::json!({"errorType": kind, "errorMessage": message});
        Err(Some(Bytes::from(body.to_string())))
    };
    match invoked.result {
        Ok(Outcome::Response(bytes)) => Ok(bytes),
        Ok(Outcome::Error {
            error_type,
            message,
        }) => failure(&error_type, message),
        Ok(Outcome::TooLarge) => failure(
            "Function.ResponseSizeTooLarge",
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).".into(),
        ),
        Ok(Outcome::Incomplete) => failure(
            "Runtime.TruncatedResponse",
            format!("RequestId: {request_id} Error: the response upload was cut short"),
        ),
        Ok(Outcome::Streamed) => failure(
            "Runtime.StreamingNotSupported",
            "the function streamed its response, which the runner does not support yet".into(),
        ),
        Err(PoolError::Throttled | PoolError::QueueTimeout(_)) => Err(None),
        Err(PoolError::InitFailed(_)) => failure(
            "Runtime.InitError",
            format!(
                "RequestId: {request_id} Error: the function did not start (the runner's log says why)"
            ),
        ),
        Err(PoolError::Crashed(reason)) => failure(
            "Runtime.ExitError",
            format!("RequestId: {request_id} Error: Runtime {reason}"),
        ),
        Err(PoolError::Timeout | PoolError::IntegrationTimeout(_)) => failure(
            "Sandbox.Timedout",
            format!(
                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                pool.runtime.timeout.as_secs_f64()
            ),
        ),
    }
}

/// Runs an `Event` invocation, retrying a failure as Lambda does.
pub(super) async fn asynchronous(
    pool: Arc<Pool>,
    request_id: String,
    payload: Bytes,
    retries: AsyncRetries,
) {
    let function = pool.runtime.name.clone();
    for attempt in 0..=retries.attempts {
        // Lambda keeps a throttled event queued: so does the runner.
        let admission = loop {
            match pool.admit().await {
                Ok(admission) => break admission,
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        let invoked = pool
            .invoke(
                admission,
                request_id.clone(),
                payload.clone(),
                trace_id(),
                false,
            )
            .await;
        match result(&pool, &request_id, invoked) {
            Ok(_) => {
                tracing::info!(%function, %request_id, attempt = attempt + 1, "asynchronous invocation succeeded");
                return;
            }
            Err(error) => {
                let error = error
                    .map(|e| String::from_utf8_lossy(&e).into_owned())
                    .unwrap_or_default();
                tracing::warn!(%function, %request_id, attempt = attempt + 1, %error, "asynchronous invocation failed");
            }
        }
        if attempt < retries.attempts {
            tokio::time::sleep(retries.delay * 2u32.pow(attempt)).await;
        }
    }
    tracing::error!(%function, %request_id, attempts = retries.attempts + 1, "asynchronous invocation dropped after its retries");
}

fn trace_id() -> String {
    crate::ids::trace_id(std::time::SystemTime::now())
}
