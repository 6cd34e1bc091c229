//! What an invocation's outcome means for the Invoke API (a result, or an
//! error as Lambda reports it), and asynchronous invocations with Lambda's
//! retries, for `Event` invocations and schedules alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::gateway::App;
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
        // Not asked for: the pool gathers a streamed response whole.
        Ok(Outcome::Streamed(_)) => failure(
            "Runtime.StreamingNotSupported",
            "the streamed response was not gathered".into(),
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

/// Asynchronous invocations queued or running at once, every function's
/// together: beyond it they are refused (429) rather than kept, so that a flood
/// of `Event` invocations cannot fill the runner's memory. The last
/// [`SCHEDULES_ONLY`] places are kept for schedules, which a flood of `Event`
/// invocations cannot take.
const MAX_ASYNC: usize = 1000;
const SCHEDULES_ONLY: usize = 100;
static ASYNC: AtomicUsize = AtomicUsize::new(0);

/// A place among the asynchronous invocations; given back when dropped.
#[derive(Debug)]
pub(super) struct AsyncSlot(());

impl AsyncSlot {
    /// A place for an `Event` invocation, if there is one.
    pub(super) fn for_event() -> Option<AsyncSlot> {
        AsyncSlot::take(MAX_ASYNC - SCHEDULES_ONLY)
    }

    /// A place for a schedule's firing, if there is one.
    pub(super) fn for_schedule() -> Option<AsyncSlot> {
        AsyncSlot::take(MAX_ASYNC)
    }

    fn take(limit: usize) -> Option<AsyncSlot> {
        ASYNC
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| AsyncSlot(()))
    }
}

impl Drop for AsyncSlot {
    fn drop(&mut self) {
        ASYNC.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs an `Event` invocation of `function` (a logical id), in the place `slot`
/// holds, retrying a failure as Lambda does. Each attempt runs on the function
/// as served then (after a `--watch` reload, the new build); a throttled
/// attempt counts as a failed one, and a function whose reserved concurrency
/// is 0 is never invoked.
pub(super) async fn asynchronous(
    app: Arc<App>,
    function: String,
    request_id: String,
    payload: Bytes,
    retries: AsyncRetries,
    slot: AsyncSlot,
) {
    let _slot = slot;
    for attempt in 0..=retries.attempts {
        let pool = {
            let served = app.served();
            served
                .pools
                .iter()
                .find(|p| p.runtime.name == function)
                .cloned()
        };
        let Some(pool) = pool else {
            tracing::warn!(%function, %request_id, "asynchronous invocation dropped: the function is no longer served");
            return;
        };
        if pool.limits().concurrency == 0 {
            tracing::warn!(%function, %request_id, "asynchronous invocation dropped: the function's reserved concurrency is 0");
            return;
        }
        let error = match pool.admit().await {
            Err(_) => "throttled".to_owned(),
            Ok(admission) => {
                let invoked = pool
                    .invoke(
                        admission,
                        request_id.clone(),
                        payload.clone(),
                        trace_id(),
                        false,
                        false,
                    )
                    .await;
                match result(&pool, &request_id, invoked) {
                    Ok(_) => {
                        tracing::info!(%function, %request_id, attempt = attempt + 1, "asynchronous invocation succeeded");
                        return;
                    }
                    Err(error) => error
                        .map(|e| String::from_utf8_lossy(&e).into_owned())
                        .unwrap_or_else(|| "throttled".to_owned()),
                }
            }
        };
        tracing::warn!(%function, %request_id, attempt = attempt + 1, %error, "asynchronous invocation failed");
        drop(pool);
        if attempt < retries.attempts {
            tokio::time::sleep(retries.delay.saturating_mul(2u32.saturating_pow(attempt))).await;
        }
    }
    tracing::error!(%function, %request_id, attempts = retries.attempts + 1, "asynchronous invocation dropped after its retries");
}

/// A fresh trace header for an invocation that came with none.
pub(super) fn trace_id() -> String {
    crate::ids::trace_id(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asynchronous_places_are_bounded_with_a_share_kept_for_schedules() {
        let events: Vec<AsyncSlot> = std::iter::from_fn(AsyncSlot::for_event)
            .take(MAX_ASYNC + 1)
            .collect();
        assert_eq!(events.len(), MAX_ASYNC - SCHEDULES_ONLY);
        assert!(AsyncSlot::for_event().is_none());
        let schedules: Vec<AsyncSlot> = std::iter::from_fn(AsyncSlot::for_schedule)
            .take(MAX_ASYNC + 1)
            .collect();
        assert_eq!(schedules.len(), SCHEDULES_ONLY);
        drop(events);
        assert!(AsyncSlot::for_event().is_some());
    }
}
