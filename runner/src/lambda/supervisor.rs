//! Who owns the function processes: one value per runner, shared by its pools,
//! instead of process-wide state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Set once the runner stops its instances: none may start after.
    stopping: AtomicBool,
}

impl Supervisor {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Whether the runner is stopping its instances, so that none may start.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Kills every instance and waits (at most `limit`) until each is reaped, so
    /// that no process outlives the runner.
    pub async fn stop_all(&self, limit: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        let deadline = Instant::now() + limit;
        while self.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
