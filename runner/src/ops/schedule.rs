//! Fires the template's `Schedule` and `ScheduleV2` events on their `rate()` or
//! `cron()`, as asynchronous invocations (retried as an `Event` invocation
//! is). It follows what is served, so a `--watch` reload that adds, changes or
//! removes a schedule takes effect at once; a changed schedule counts afresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

use super::outcome::{AsyncRetries, AsyncSlot, asynchronous};
use crate::gateway::App;
use crate::lambda::pool::Pool;
use crate::template::{ScheduleSpec, scheduled_event};

/// The longest the scheduler sleeps, so that a reload is seen within it.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// Fires schedules until the runner begins to drain; `speed` makes `rate()` schedules
/// fire that many times as often.
pub async fn run(app: Arc<App>, retries: AsyncRetries, speed: u32) {
    // (function, event) → the schedule as last seen, and when it fires next.
    let mut next: HashMap<(String, String), (ScheduleSpec, Option<OffsetDateTime>)> =
        HashMap::new();
    while !app.drain.is_draining() {
        let served = app.served();
        let now = OffsetDateTime::now_utc();
        let mut earliest = now + LOOK_AGAIN;
        let mut seen = Vec::new();
        for (index, spec) in served.schedules.iter().filter(|(_, s)| s.enabled) {
            let pool = &served.pools[*index];
            let key = (pool.runtime.name.clone(), spec.name.clone());
            let entry = next
                .entry(key.clone())
                .or_insert_with(|| (spec.clone(), spec.expression.next(now, speed)));
            if entry.0 != *spec {
                *entry = (spec.clone(), spec.expression.next(now, speed));
            }
            seen.push(key);
            let Some(due) = entry.1 else { continue };
            if due <= now {
                fire(&app, pool, spec, due, retries);
                // Times missed while the machine slept are not made up.
                entry.1 = match spec.expression.next(due, speed) {
                    Some(n) if n <= now => spec.expression.next(now, speed),
                    other => other,
                };
            }
            if let Some(due) = entry.1 {
                earliest = earliest.min(due);
            }
        }
        next.retain(|key, _| seen.contains(key));
        drop(served);
        let wait = (earliest - OffsetDateTime::now_utc())
            .clamp(time::Duration::milliseconds(5), time::Duration::seconds(1));
        tokio::select! {
            () = tokio::time::sleep(wait.unsigned_abs()) => {}
            () = app.drain.begun() => {}
        }
    }
}

/// Starts one firing of `spec` as an asynchronous invocation; one that finds
/// the asynchronous invocations full is skipped, and said so.
fn fire(
    app: &Arc<App>,
    pool: &Pool,
    spec: &ScheduleSpec,
    due: OffsetDateTime,
    retries: AsyncRetries,
) {
    let function = &pool.runtime.name;
    let Some(slot) = AsyncSlot::for_schedule() else {
        tracing::warn!(%function, schedule = %spec.name, "schedule skipped: too many asynchronous invocations are queued");
        return;
    };
    let request_id = crate::ids::request_id();
    let event = scheduled_event(spec, due, &uuid::Uuid::new_v4().to_string());
    tracing::info!(%function, schedule = %spec.name, expression = %spec.text, %request_id, "schedule fired");
    let payload = Bytes::from(event);
    let app = Arc::clone(app);
    tokio::spawn(asynchronous(
        app,
        function.clone(),
        request_id,
        payload,
        retries,
        slot,
    ));
}
