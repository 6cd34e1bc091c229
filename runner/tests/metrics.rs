//! `GET /metrics` on the operations listener: what real invocations (served,
//! failed, timed out, throttled) did, read back through a Prometheus text parser.
//! Real processes, real HTTP.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Runner;
use prometheus_parse::{Scrape, Value};

async fn scrape(runner: &Runner) -> Scrape {
    let response = runner
        .client
        .get(format!("{}/metrics", runner.ops_url().await))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

/// The value of `metric` for `function` (and `state`, for instances); 0 when absent.
fn value(scrape: &Scrape, metric: &str, function: &str, state: Option<&str>) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && s.labels.get("function") == Some(function))
        .filter(|s| state.is_none() || s.labels.get("state") == state)
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is {other:?}"),
        })
        .sum()
}

/// How many durations the histogram holds for `function`.
fn durations(scrape: &Scrape, function: &str) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "runner_invocation_duration_seconds"
                && s.labels.get("function") == Some(function)
        })
        .unwrap_or_else(|| panic!("no histogram for {function}"));
    match &sample.value {
        Value::Histogram(buckets) => buckets.last().unwrap().count,
        other => panic!("not a histogram: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_invocations_did() {
    // Single allows one instance, and no queue here: a second request is refused.
    let runner = Arc::new(Runner::start(
        "functions.yaml",
        &["--ops-port", "0", "--queue-size", "0"],
    ));
    for _ in 0..2 {
        assert_eq!(runner.get("/echo").await.status(), 200);
    }
    assert_eq!(runner.get("/echo?do=error").await.status(), 502);
    assert_eq!(runner.get("/short?do=sleep&ms=5000").await.status(), 504);

    let held = {
        let runner = Arc::clone(&runner);
        tokio::spawn(async move { runner.get("/single?do=sleep&ms=1500").await.status() })
    };
    let mut busy = false;
    for _ in 0..200 {
        if value(
            &scrape(&runner).await,
            "runner_instances",
            "Single",
            Some("busy"),
        ) == 1.0
        {
            busy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(busy, "Single never showed a busy instance");
    assert_eq!(runner.get("/single").await.status(), 429);
    assert_eq!(held.await.unwrap(), 200);

    let scrape = scrape(&runner).await;
    let of = |metric: &str, function: &str| value(&scrape, metric, function, None);
    assert_eq!(of("runner_invocations_total", "Echo"), 3.0);
    assert_eq!(of("runner_errors_total", "Echo"), 1.0);
    assert_eq!(of("runner_cold_starts_total", "Echo"), 1.0);
    assert_eq!(of("runner_timeouts_total", "Echo"), 0.0);
    assert_eq!(durations(&scrape, "Echo"), 3.0);
    assert_eq!(
        value(&scrape, "runner_instances", "Echo", Some("idle")),
        1.0
    );
    assert_eq!(
        value(&scrape, "runner_instances", "Echo", Some("busy")),
        0.0
    );

    assert_eq!(of("runner_invocations_total", "Short"), 1.0);
    assert_eq!(of("runner_timeouts_total", "Short"), 1.0);
    assert_eq!(of("runner_errors_total", "Short"), 1.0);
    // A timed-out instance is stopped.
    assert_eq!(
        value(&scrape, "runner_instances", "Short", Some("idle")),
        0.0
    );

    assert_eq!(of("runner_throttles_total", "Single"), 1.0);
    assert_eq!(of("runner_invocations_total", "Single"), 1.0);
    assert_eq!(of("runner_queue_depth", "Single"), 0.0);
    // Functions never invoked are listed at zero.
    assert_eq!(of("runner_invocations_total", "EchoV1"), 0.0);
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "runner_invocations_total"
                && s.labels.get("function") == Some("EchoV1"))
    );
}
