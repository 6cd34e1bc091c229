//! The runner's Prometheus metrics, per function: invocations, errors,
//! throttles, timeouts, cold starts and durations, counted as invocations end;
//! instances by state and the queue's depth, read from the pools when scraped.
//! Counters are kept by function name for the runner's whole life, so a
//! `--watch` reload, which replaces pools, does not reset them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::report::{Report, Status};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByFunction {
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByState {
    function: String,
    /// `busy` or `idle`.
    state: &'static str,
}

type Durations = Family<ByFunction, Histogram, fn() -> Histogram>;

/// From 1 ms to about 33 s, doubling: the span of Lambda timeouts that matter
/// locally.
fn durations() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every function's metrics, and the registry they are read through.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    invocations: Family<ByFunction, Counter>,
    errors: Family<ByFunction, Counter>,
    throttles: Family<ByFunction, Counter>,
    timeouts: Family<ByFunction, Counter>,
    cold_starts: Family<ByFunction, Counter>,
    duration: Durations,
    instances: Family<ByState, Gauge>,
    queued: Family<ByFunction, Gauge>,
}

/// One function's counters, taken once per pool: an invocation then updates
/// them without a lookup.
#[derive(Debug, Clone)]
pub struct FunctionMetrics {
    pub invocations: Counter,
    /// Function errors, crashes, timeouts and failed starts, as Lambda's
    /// `Errors` counts them.
    pub errors: Counter,
    /// Requests refused with 429: the pool and its queue full, or the queue
    /// waited out.
    pub throttles: Counter,
    pub timeouts: Counter,
    pub cold_starts: Counter,
    pub duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("runner"),
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            timeouts: Family::default(),
            cold_starts: Family::default(),
            duration: Family::new_with_constructor(durations),
            instances: Family::default(),
            queued: Family::default(),
        };
        let registry = &mut metrics.registry;
        for (name, help, family) in [
            (
                "invocations",
                "Invocations that ran or failed to start",
                &metrics.invocations,
            ),
            (
                "errors",
                "Invocations that ended in a function error, a crash, a timeout or a failed start",
                &metrics.errors,
            ),
            (
                "throttles",
                "Requests refused with 429: every instance busy and the queue full or waited out",
                &metrics.throttles,
            ),
            (
                "timeouts",
                "Invocations that ran past the function's Timeout",
                &metrics.timeouts,
            ),
            (
                "cold_starts",
                "Invocations that started a new instance",
                &metrics.cold_starts,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "invocation_duration_seconds",
            "From handing the event to the instance to its answer",
            metrics.duration.clone(),
        );
        registry.register(
            "instances",
            "Instances of the functions served now, busy (running or starting for an invocation) or idle",
            metrics.instances.clone(),
        );
        registry.register(
            "queue_depth",
            "Requests waiting for an instance",
            metrics.queued.clone(),
        );
        metrics
    }
}

impl Metrics {
    /// The counters of the function named `name`, created at zero the first time.
    pub fn function(&self, name: &str) -> FunctionMetrics {
        let label = ByFunction {
            function: name.to_owned(),
        };
        FunctionMetrics {
            invocations: self.invocations.get_or_create(&label).clone(),
            errors: self.errors.get_or_create(&label).clone(),
            throttles: self.throttles.get_or_create(&label).clone(),
            timeouts: self.timeouts.get_or_create(&label).clone(),
            cold_starts: self.cold_starts.get_or_create(&label).clone(),
            duration: self.duration.get_or_create(&label).clone(),
        }
    }

    /// Records a function's instances and queue as they are now.
    pub fn set_pool_state(&self, name: &str, busy: usize, idle: usize, queued: usize) {
        for (state, count) in [("busy", busy), ("idle", idle)] {
            let label = ByState {
                function: name.to_owned(),
                state,
            };
            self.instances.get_or_create(&label).set(gauge(count));
        }
        let label = ByFunction {
            function: name.to_owned(),
        };
        self.queued.get_or_create(&label).set(gauge(queued));
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl FunctionMetrics {
    /// Counts one invocation that ran, from its `REPORT` figures.
    pub fn count(&self, report: &Report<'_>) {
        self.invocations.inc();
        self.duration.observe(report.duration.as_secs_f64());
        if report.init.is_some() {
            self.cold_starts.inc();
        }
        match report.status {
            Status::Success => {}
            Status::Error | Status::Crashed => {
                self.errors.inc();
            }
            Status::Timeout => {
                self.errors.inc();
                self.timeouts.inc();
            }
        }
    }
}

fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_counters_outlive_its_handles_and_reach_the_text() {
        let metrics = Metrics::default();
        let echo = metrics.function("Echo");
        echo.invocations.inc();
        echo.duration.observe(0.003);
        drop(echo);
        // A reload takes the same counters again.
        metrics.function("Echo").invocations.inc();
        metrics.set_pool_state("Echo", 1, 2, 3);
        let text = metrics.encode();
        assert!(
            text.contains("runner_invocations_total{function=\"Echo\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("runner_instances{function=\"Echo\",state=\"idle\"} 2\n"));
        assert!(text.contains("runner_queue_depth{function=\"Echo\"} 3\n"));
        assert!(text.contains(
            "runner_invocation_duration_seconds_bucket{le=\"0.004\",function=\"Echo\"} 1\n"
        ));
        assert!(text.ends_with("# EOF\n"));
    }
}
