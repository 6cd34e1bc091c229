//! Every database operation of a request runs under a deadline: a stalled or dead
//! database becomes a 503 within [`OPERATION_LIMIT`], never a hang and never a
//! timeout of the whole invocation.
//!
//! The deadline belongs to the request, so it is kept in the request's task
//! ([`scope`], set by [`crate::http::serve`]) rather than passed to every store
//! method: the handlers and the storage traits stay free of it, and the MongoDB
//! adapter bounds each operation with [`bounded`]. Outside a scope (the operator
//! command, tests), operations are bounded by [`OPERATION_LIMIT`] alone.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use super::StoreError;

/// The longest one database operation may take, however much time the invocation
/// has left.
pub const OPERATION_LIMIT: Duration = Duration::from_millis(2500);

struct Scope {
    /// The invocation's deadline, less what the request needs to answer.
    deadline: Option<Instant>,
    /// Set once an operation of this request found the database unavailable.
    failed: Cell<bool>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `request` with its database operations bounded by `deadline` (when the
/// invocation has one) and by [`OPERATION_LIMIT`]. Once one operation finds the
/// database unavailable, the request's later operations fail at once: a request
/// meets a stalled database once, not once per operation.
pub async fn scope<F: Future>(deadline: Option<Instant>, request: F) -> F::Output {
    let scope = Scope {
        deadline,
        failed: Cell::new(false),
    };
    SCOPE.scope(scope, request).await
}

/// Notes that the database failed this request (see [`scope`]).
pub(crate) fn mark_failed() {
    let _ = SCOPE.try_with(|scope| scope.failed.set(true));
}

/// Runs one operation within the request's bounds.
pub(crate) async fn bounded<T>(operation: impl Future<Output = T>) -> Result<T, StoreError> {
    let now = Instant::now();
    let (limit, failed) = SCOPE
        .try_with(|scope| {
            let left = scope
                .deadline
                .map_or(OPERATION_LIMIT, |d| d.saturating_duration_since(now));
            (left.min(OPERATION_LIMIT), scope.failed.get())
        })
        .unwrap_or((OPERATION_LIMIT, false));
    if failed {
        return Err(StoreError::Unavailable(
            "an earlier operation of this request found the database unavailable".into(),
        ));
    }
    match tokio::time::timeout(limit, operation).await {
        Ok(output) => Ok(output),
        Err(_) => {
            mark_failed();
            Err(StoreError::Unavailable(format!(
                "a database operation took longer than {} ms",
                limit.as_millis()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_operation_is_cut_off_at_the_limit_and_the_rest_of_the_request_fails_fast() {
        let outcome = scope(None, async {
            let stalled = bounded(std::future::pending::<()>()).await;
            let next = bounded(async { 1 }).await;
            (stalled, next)
        })
        .await;
        assert!(matches!(outcome.0, Err(StoreError::Unavailable(_))));
        assert!(matches!(outcome.1, Err(StoreError::Unavailable(_))));
        // Another request starts afresh.
        let fresh = scope(None, bounded(async { 2 })).await;
        assert_eq!(fresh.unwrap(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_invocations_deadline_shortens_the_limit() {
        let started = tokio::time::Instant::now();
        let deadline = Instant::now() + Duration::from_millis(300);
        let stalled = scope(Some(deadline), bounded(std::future::pending::<()>())).await;
        assert!(stalled.is_err());
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}
