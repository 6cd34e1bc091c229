//! The instances of one function: started on demand, one invocation each at a time,
//! at most the concurrency limit, a bounded queue beyond it, and idle ones stopped.

mod hand_on;
mod upkeep;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::lambda::Supervisor;
use crate::lambda::instance::{Fault, Instance, Runtime};
use crate::lambda::invocation::Outcome;
use crate::lambda::metrics::FunctionMetrics;
use crate::lambda::report::{self, Report};

/// Instances an invocation is offered to when each exits before taking it.
const MAX_ATTEMPTS: u32 = 3;

/// Why the pool produced no outcome.
#[derive(Debug)]
pub enum PoolError {
    /// Every instance is busy and the queue is full.
    Throttled,
    /// The request waited in the queue this long without an instance coming free.
    QueueTimeout(Duration),
    /// The caller stopped waiting after the API's integration timeout; the
    /// invocation runs on.
    IntegrationTimeout(Duration),
    /// Start-up failed now or recently (backing off); the reason.
    InitFailed(String),
    Crashed(String),
    Timeout,
}

/// How one invocation went.
#[derive(Debug)]
pub struct Invoked {
    pub result: Result<Outcome, PoolError>,
    /// The start-up time, when this invocation started a new instance.
    pub init: Option<Duration>,
    /// The last 4 KB the instance printed during it, when asked for.
    pub log: Option<Vec<u8>>,
    /// How long the instance worked on it, when it ran.
    pub ran: Option<Duration>,
    /// With the log tail: Lambda's `END` and `REPORT` lines for it.
    pub report: Option<String>,
}

impl Invoked {
    /// An invocation that did not run.
    pub fn failed(error: PoolError) -> Invoked {
        Invoked {
            result: Err(error),
            init: None,
            log: None,
            ran: None,
            report: None,
        }
    }
}

/// Limits shared by every pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub concurrency: usize,
    pub queue_size: usize,
    /// The longest a request waits in the queue before it gets 429.
    pub queue_timeout: Duration,
    pub idle_timeout: Duration,
    pub init_timeout: Duration,
    /// Instances kept started and ready, even idle, and replaced when they
    /// exit (`ProvisionedConcurrencyConfig`, `--min-instances`).
    pub min_instances: usize,
}

#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
    reason: String,
}

/// A place in a pool: the right to run one invocation now.
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// One function's instances.
pub struct Pool {
    pub runtime: Runtime,
    limits: Limits,
    supervisor: Arc<Supervisor>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    idle: Mutex<Vec<Instance>>,
    backoff: Mutex<Backoff>,
    metrics: FunctionMetrics,
}

struct Waiting<'a>(&'a AtomicUsize);
impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    /// A pool with `limits.concurrency` instances at most, stopping idle ones;
    /// `supervisor` stops them all at shutdown.
    pub fn new(runtime: Runtime, limits: Limits, supervisor: Arc<Supervisor>) -> Arc<Pool> {
        let metrics = supervisor.metrics.function(&runtime.name);
        let pool = Arc::new(Pool {
            runtime,
            limits,
            supervisor,
            permits: Arc::new(Semaphore::new(limits.concurrency)),
            waiting: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            backoff: Mutex::new(Backoff::default()),
            metrics,
        });
        tokio::spawn(upkeep::reap(Arc::downgrade(&pool), limits.idle_timeout));
        if limits.min_instances > 0 {
            tokio::spawn(upkeep::keep_ready(Arc::downgrade(&pool)));
        }
        pool
    }

    /// The pool's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes one of the pool's places, waiting in the queue (at most `queue_timeout`)
    /// when every instance is busy. The caller waits in person: dropping this future,
    /// as a hyper service does when its client hangs up, gives the queue place back.
    pub async fn admit(&self) -> Result<Admission, PoolError> {
        let admitted = self.wait_for_place().await;
        if matches!(
            admitted,
            Err(PoolError::Throttled | PoolError::QueueTimeout(_))
        ) {
            self.metrics.throttles.inc();
        }
        admitted
    }

    async fn wait_for_place(&self) -> Result<Admission, PoolError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Admission { _permit: permit });
        }
        if self.limits.concurrency == 0 {
            return Err(PoolError::Throttled);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        // Gives the place back however this ends, the caller hanging up included.
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.limits.queue_size {
            return Err(PoolError::Throttled);
        }
        let acquire = self.permits.clone().acquire_owned();
        match tokio::time::timeout(self.limits.queue_timeout, acquire).await {
            Ok(Ok(permit)) => Ok(Admission { _permit: permit }),
            Ok(Err(_)) => Err(PoolError::Throttled),
            Err(_) => Err(PoolError::QueueTimeout(self.limits.queue_timeout)),
        }
    }

    /// Runs one invocation on a free instance, starting one if none is idle;
    /// with `tail`, keeps what the instance prints meanwhile. A streamed
    /// response is handed on as it comes with `stream`, else gathered whole.
    pub async fn invoke(
        self: &Arc<Self>,
        admission: Admission,
        request_id: String,
        event: Bytes,
        trace_id: String,
        tail: bool,
        stream: bool,
    ) -> Invoked {
        let permit = admission;
        let failed = Invoked::failed;
        // An instance can exit between two invocations (it crashed after answering,
        // say) before the pool notices; an invocation it never took runs on another.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (mut instance, init) = match self.instance().await {
                Ok(taken) => taken,
                Err(reason) => {
                    self.metrics.invocations.inc();
                    self.metrics.errors.inc();
                    return failed(PoolError::InitFailed(reason));
                }
            };
            instance.begin_tail(tail).await;
            // Once per invocation, however many instances it is offered to.
            if attempts == 1 {
                report::write_start(&self.runtime.name, &request_id);
            }
            let began = Instant::now();
            let result = instance
                .invoke(
                    &self.runtime,
                    request_id.clone(),
                    event.clone(),
                    trace_id.clone(),
                )
                .await;
            let result = match result {
                Ok(Outcome::Streamed(streamed)) if stream => {
                    let started = (request_id, began, init);
                    return self.hand_on(instance, streamed, permit, started);
                }
                Ok(Outcome::Streamed(streamed)) => hand_on::collect(&mut instance, streamed).await,
                other => other,
            };
            let ran = began.elapsed();
            let retried = matches!(result, Err(Fault::NotDelivered)) && attempts < MAX_ATTEMPTS;
            let report = if retried {
                None
            } else {
                let figures = Report {
                    request_id: &request_id,
                    duration: ran,
                    memory_size_mb: self.runtime.memory_mb,
                    max_memory_used_mb: instance.max_memory_mb(),
                    init,
                    status: Fault::report_status(&result),
                };
                self.reported(&figures, tail)
            };
            let log = instance.take_tail(tail).await;
            let result = match result {
                Ok(outcome) => {
                    if instance.is_alive() {
                        self.idle.lock().expect("lock").push(instance);
                    }
                    Ok(outcome)
                }
                Err(Fault::NotDelivered) if attempts < MAX_ATTEMPTS => {
                    tracing::info!(function = %self.runtime.name, pid = instance.pid, "instance exited before taking the invocation; handing it to another");
                    continue;
                }
                Err(Fault::NotDelivered) => Err(PoolError::Crashed(
                    "exited before taking the invocation".into(),
                )),
                Err(Fault::Timeout) => Err(PoolError::Timeout),
                Err(Fault::Crashed(reason)) => Err(PoolError::Crashed(reason)),
            };
            return Invoked {
                result,
                init,
                log,
                ran: Some(ran),
                report,
            };
        }
    }

    /// An idle instance, or else a new one and its start-up time; the error is
    /// why none started.
    async fn instance(&self) -> Result<(Instance, Option<Duration>), String> {
        let idle = {
            let mut idle = self.idle.lock().expect("lock");
            idle.retain(Instance::is_alive);
            idle.pop()
        };
        match idle {
            Some(instance) => Ok((instance, None)),
            None => self
                .start()
                .await
                .map(|(instance, init)| (instance, Some(init))),
        }
    }

    /// Writes an invocation's `END` and `REPORT` lines and counts it; with
    /// `tail`, returns those lines for the log tail.
    fn reported(&self, figures: &Report<'_>, tail: bool) -> Option<String> {
        report::write_end(&self.runtime.name, figures);
        self.metrics.count(figures);
        tail.then(|| figures.end_and_report_text())
    }

    /// Starts one instance and keeps it idle for the first invocation; the
    /// error is why it did not start.
    pub async fn warm(&self) -> Result<(), String> {
        let (instance, _) = self.start().await?;
        self.idle.lock().expect("lock").push(instance);
        Ok(())
    }

    async fn start(&self) -> Result<(Instance, Duration), String> {
        {
            let backoff = self.backoff.lock().expect("lock");
            if let Some(until) = backoff.until.filter(|u| *u > Instant::now()) {
                let wait = until - Instant::now();
                return Err(format!(
                    "{} (retrying in {:.1} s)",
                    backoff.reason,
                    wait.as_secs_f32()
                ));
            }
        }
        let started = Instant::now();
        match Instance::start(&self.runtime, self.limits.init_timeout, &self.supervisor).await {
            Ok(instance) => {
                *self.backoff.lock().expect("lock") = Backoff::default();
                tracing::debug!(function = %self.runtime.name, pid = instance.pid, "instance started");
                Ok((instance, started.elapsed()))
            }
            Err(reason) => {
                let mut backoff = self.backoff.lock().expect("lock");
                backoff.failures += 1;
                let delay = Duration::from_millis(500 << backoff.failures.min(6))
                    .min(Duration::from_secs(30));
                backoff.until = Some(Instant::now() + delay);
                backoff.reason = reason.clone();
                tracing::warn!(function = %self.runtime.name, %reason, retry_in_ms = delay.as_millis() as u64, "instance failed to start");
                Err(reason)
            }
        }
    }
}
