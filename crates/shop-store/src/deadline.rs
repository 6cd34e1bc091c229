//! Every database operation of a request runs under a deadline: a stalled or dead
//! database becomes a 503 within [`REQUEST_LIMIT`] of the request's start, never a
//! hang and never a timeout of the whole invocation.
//!
//! The deadline belongs to the request, so it is kept in the request's task
//! ([`scope`], set by the API around each request) rather than passed to every store
//! method: the handlers and the storage traits stay free of it, and the MongoDB
//! adapter bounds each operation with [`bounded`]. Outside a scope (the operator
//! command, tests), operations are bounded by [`OPERATION_LIMIT`] alone.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

// Tokio's clock, which tests can pause; on a running system it is the same as std's.
use tokio::time::Instant;

use crate::StoreError;

/// The longest one database operation may take, however much time the invocation
/// has left.
pub const OPERATION_LIMIT: Duration = Duration::from_secs(2);

/// Every database operation of one request ends within this of the request's start
/// (sooner when the invocation has less time left): whatever fails, and however
/// many steps a request takes, its answer comes within about this.
pub const REQUEST_LIMIT: Duration = Duration::from_millis(2700);

struct Scope {
    /// The invocation's deadline, less what the request needs to answer.
    deadline: Option<Instant>,
    /// Set once an operation of this request found the database unavailable.
    failed: Cell<bool>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `request` with its database operations bounded by [`REQUEST_LIMIT`] from
/// now, by `deadline` (the invocation's, when it has one) and each by
/// [`OPERATION_LIMIT`]. Once one operation finds the database unavailable, the
/// request's later operations fail at once: a request meets a stalled database
/// once, not once per operation.
pub async fn scope<F: Future>(deadline: Option<std::time::Instant>, request: F) -> F::Output {
    let limit = Instant::now() + REQUEST_LIMIT;
    let scope = Scope {
        deadline: Some(deadline.map_or(limit, |d| Instant::from_std(d).min(limit))),
        failed: Cell::new(false),
    };
    SCOPE.scope(scope, request).await
}

/// The time left before the current request's database deadline, if it runs in a
/// [`scope`]: other calls the request makes (the product lookup) end in time for
/// the database work that follows them.
pub fn remaining() -> Option<Duration> {
    let now = Instant::now();
    SCOPE
        .try_with(|scope| scope.deadline.map(|d| d.saturating_duration_since(now)))
        .ok()
        .flatten()
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
    async fn a_request_ends_its_database_work_within_the_request_limit() {
        let started = Instant::now();
        let outcome = scope(None, async {
            // A fast step, a pause, then a stalled one: cut off at the request's limit.
            bounded(async {}).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert!(remaining().unwrap() <= REQUEST_LIMIT - Duration::from_millis(1500));
            bounded(std::future::pending::<()>()).await
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(started.elapsed(), REQUEST_LIMIT);
        assert_eq!(remaining(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_invocations_deadline_shortens_the_limit() {
        let started = Instant::now();
        let deadline = std::time::Instant::now() + Duration::from_millis(300);
        let stalled = scope(Some(deadline), bounded(std::future::pending::<()>())).await;
        assert!(stalled.is_err());
        // The deadline came from the real clock, which moved a little meanwhile.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_millis(400),
            "{waited:?}"
        );
    }
}
