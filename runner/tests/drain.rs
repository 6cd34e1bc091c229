//! Stopping the runner: SIGTERM or Ctrl-C drains (the listener closes, requests in
//! progress are answered, the instances are stopped, exit 0), a second signal stops
//! at once, and the operations listener's probes say which state it is in. Real
//! processes, real signals, real HTTP.

mod common;

use std::time::Duration;

use common::Runner;
use serde_json::Value;

fn runner() -> Runner {
    // Debug logs say when an instance starts.
    Runner::start_with_env(
        "functions.yaml",
        &["--ops-port", "0"],
        &[("RUST_LOG", "info,runner::lambda=debug")],
    )
}

/// GETs a probe on a connection of its own, as an orchestrator's probes do (a
/// kept-alive one closes when the drain begins).
async fn probe(ops: &str, path: &str) -> (u16, Value) {
    let response = common::unpooled_client()
        .get(format!("{ops}{path}"))
        .send()
        .await
        .expect("the operations listener answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON probe body"))
}

/// Starts a request that takes `ms` in the function, and waits until the runner
/// has started an instance for it (the runner has started `started` before).
async fn slow_request(
    runner: &Runner,
    ms: u64,
    started: usize,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let client = runner.client.clone();
    let url = runner.url(&format!("/roomy?do=sleep&ms={ms}"));
    let request = tokio::spawn(async move { client.get(url).send().await });
    for _ in 0..500 {
        if runner.stderr().matches("instance started").count() > started {
            return request;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no instance started for the request:\n{}", runner.stderr());
}

/// How the runner exits by itself, waited for (at most `limit`) off the test's
/// runtime; fails the test if it does not.
async fn exit_of(mut runner: Runner, limit: Duration) -> (std::process::ExitStatus, Runner) {
    let (status, runner) =
        tokio::task::spawn_blocking(move || (runner.wait_for_exit(limit), runner))
            .await
            .unwrap();
    match status {
        Some(status) => (status, runner),
        None => panic!("the runner did not exit:\n{}", runner.stderr()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_progress_finish_and_the_runner_exits_by_itself() {
    let runner = runner();
    let ops = runner.ops_url().await;
    assert_eq!(
        probe(&ops, "/readyz").await,
        (200, serde_json::json!({"status": "ready"}))
    );
    let (_, warm) = runner.get_json("/echo").await;
    let echo_pid = warm["pid"].as_u64().unwrap();

    let request = slow_request(&runner, 2000, 1).await;
    runner.signal("TERM");

    // Draining: not ready, still alive, and the public port takes no one new.
    let mut draining = false;
    for _ in 0..100 {
        if probe(&ops, "/readyz").await.0 == 503 {
            draining = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(draining, "/readyz never said 503:\n{}", runner.stderr());
    assert_eq!(
        probe(&ops, "/readyz").await,
        (503, serde_json::json!({"status": "draining"}))
    );
    assert_eq!(probe(&ops, "/healthz").await.0, 200);
    let invoked = common::unpooled_client()
        .post(format!("{ops}/2015-03-31/functions/Echo/invocations"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        invoked.status(),
        503,
        "a new invocation was taken while draining"
    );
    assert_eq!(invoked.headers()["x-amzn-errortype"], "ServiceException");
    let newcomer = common::unpooled_client()
        .get(runner.url("/echo"))
        .send()
        .await;
    assert!(
        newcomer.is_err(),
        "a new connection was served during the drain"
    );

    let response = request.await.unwrap().expect("answered");
    assert_eq!(
        response.status(),
        200,
        "the request in progress was cut off"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["event"]["queryStringParameters"]["ms"], "2000");

    let (status, runner) = exit_of(runner, Duration::from_secs(15)).await;
    assert!(status.success(), "exit {status}:\n{}", runner.stderr());
    assert!(runner.stderr().contains("drained"), "{}", runner.stderr());
    assert!(
        common::gone(echo_pid).await,
        "an instance outlived the runner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_with_nothing_in_progress_stops_at_once_on_ctrl_c() {
    let runner = runner();
    let (_, warm) = runner.get_json("/echo").await;
    let echo_pid = warm["pid"].as_u64().unwrap();
    // An idle kept-alive connection does not hold the drain up.
    assert_eq!(runner.get("/echo").await.status(), 200);
    runner.signal("INT");
    // The longest function timeout here is 30 s: the drain does not wait for it.
    let (status, _) = exit_of(runner, Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status}");
    assert!(
        common::gone(echo_pid).await,
        "an instance outlived the runner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_the_drain_at_once() {
    let runner = runner();
    let request = slow_request(&runner, 20_000, 0).await;
    runner.signal("TERM");
    runner.log_line("draining").await;
    runner.signal("TERM");
    let (status, runner) = exit_of(runner, Duration::from_secs(10)).await;
    assert!(!status.success(), "a cut-short drain must not exit 0");
    assert!(
        runner.stderr().contains("a second signal"),
        "{}",
        runner.stderr()
    );
    // Its request ends with its instance, long before its 20 s: a 502, or a
    // reset when the runner is gone before the answer is written.
    if let Ok(response) = request.await.unwrap() {
        assert_eq!(response.status(), 502);
    }
}
