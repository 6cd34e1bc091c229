//! A pool's upkeep between invocations: instances idle too long are stopped,
//! and the ones kept ready (`min_instances`) are started and replaced.

use std::sync::Weak;
use std::time::Duration;

use std::sync::atomic::Ordering;

use super::Pool;
use crate::lambda::instance::Instance;

impl Pool {
    /// Invocations running (or starting an instance to run on) now.
    pub(super) fn busy(&self) -> usize {
        self.limits
            .concurrency
            .saturating_sub(self.permits.available_permits())
    }

    /// Instances alive now, busy or idle.
    pub(super) fn live(&self) -> usize {
        let idle = self.idle.lock().expect("lock");
        self.busy() + idle.iter().filter(|i| i.is_alive()).count()
    }

    /// Whether the instances kept ready (`min_instances`) are all up.
    pub fn is_ready(&self) -> bool {
        self.live() >= self.limits.min_instances
    }

    /// Records the pool's instances (busy, idle) and queue as they are now.
    pub fn record_state(&self) {
        let busy = self.busy();
        let idle = self.idle.lock().expect("lock").len();
        let queued = self.waiting.load(Ordering::SeqCst);
        self.supervisor
            .metrics
            .set_pool_state(&self.runtime.name, busy, idle, queued);
    }
}

/// How often a pool with instances kept ready checks that they are all up.
const KEEP_READY_PERIOD: Duration = Duration::from_millis(250);

/// Keeps the pool's `min_instances` alive, starting one whenever fewer are,
/// until the pool is gone or the runner stops. A failing start backs off as on
/// demand; one start at most per period, so that an instance that exits at
/// once is not restarted in a tight loop.
pub(super) async fn keep_ready(pool: Weak<Pool>) {
    loop {
        let Some(strong) = pool.upgrade() else { return };
        if strong.supervisor.is_stopping() {
            return;
        }
        if strong.live() < strong.limits.min_instances {
            let _ = strong.warm().await;
        }
        drop(strong);
        tokio::time::sleep(KEEP_READY_PERIOD).await;
    }
}

/// Stops instances idle for longer than `idle_timeout`, keeping the pool's
/// `min_instances`, until the pool is gone.
pub(super) async fn reap(pool: Weak<Pool>, idle_timeout: Duration) {
    let period = (idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else { return };
        let floor = pool.limits.min_instances.saturating_sub(pool.busy());
        let stale: Vec<Instance> = {
            let mut idle = pool.idle.lock().expect("lock");
            idle.retain(Instance::is_alive);
            // Oldest first: the next invocation takes the newest, so that the
            // others idle out when traffic falls.
            idle.sort_by_key(|i| i.last_used);
            let fresh = idle
                .iter()
                .filter(|i| i.last_used.elapsed() < idle_timeout)
                .count();
            let keep = fresh.max(floor).min(idle.len());
            let stale = idle.len() - keep;
            idle.drain(..stale).collect()
        };
        for instance in stale {
            tracing::info!(function = %pool.runtime.name, pid = instance.pid, "stopping idle instance");
        }
    }
}
