//! Who owns the function processes: one value per runner, shared by its pools,
//! instead of process-wide state.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Owns the lifecycles of the instances it started: counts those not yet
/// reaped, and stops them all at shutdown. One per runner, shared by its pools.
#[derive(Default)]
pub struct Supervisor {
    /// Processes started and not yet reaped.
    pub(super) live: AtomicUsize,
    /// Tells every instance to stop, busy or not.
    pub(super) shutdown: Notify,
    /// Every function's metrics, kept across reloads.
    pub metrics: super::metrics::Metrics,
}

impl Supervisor {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Kills every instance and waits (at most `limit`) until each is reaped, so
    /// that no process outlives the runner.
    pub async fn stop_all(&self, limit: Duration) {
        self.shutdown.notify_waiters();
        let deadline = Instant::now() + limit;
        while self.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
