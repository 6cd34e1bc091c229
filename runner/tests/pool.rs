//! Instances: reused while warm, one invocation each, bounded by the concurrency limit
//! with a bounded queue and 429 beyond it, and stopped when idle.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Runner, problem, within};
use tokio::net::TcpListener;

/// A listener the test function connects to (`do=hold`) and waits on until released.
async fn hold_point() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Starts a request that keeps `path`'s only instance busy until the returned stream
/// is dropped; the handle yields its status and body.
async fn occupy(
    runner: &Arc<Runner>,
    path: &str,
) -> (
    tokio::task::JoinHandle<(u16, serde_json::Value)>,
    tokio::net::TcpStream,
) {
    let (listener, port) = hold_point().await;
    let busy = tokio::spawn({
        let (runner, path) = (runner.clone(), format!("{path}?do=hold&port={port}"));
        async move { runner.get_json(&path).await }
    });
    let (held, _) = within(listener.accept()).await.unwrap();
    (busy, held)
}

#[tokio::test]
async fn an_instance_is_reused_across_requests() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, first) = within(runner.get_json("/echo")).await;
    let (_, second) = within(runner.get_json("/echo")).await;
    assert_eq!(first["pid"], second["pid"]);
    assert_eq!(first["invocation"], 1);
    assert_eq!(second["invocation"], 2);
}

#[tokio::test]
async fn concurrent_requests_get_separate_instances() {
    let runner = Arc::new(Runner::start("functions.yaml", &[]));
    let (listener, port) = hold_point().await;
    let path = format!("/echo?do=hold&port={port}");
    let first = tokio::spawn({
        let (runner, path) = (runner.clone(), path.clone());
        async move { runner.get_json(&path).await }
    });
    let held = within(listener.accept()).await.unwrap();
    let second = tokio::spawn({
        let (runner, path) = (runner.clone(), path.clone());
        async move { runner.get_json(&path).await }
    });
    let held_too = within(listener.accept()).await.unwrap();
    drop((held, held_too));
    let (a, b) = (within(first).await.unwrap(), within(second).await.unwrap());
    assert_eq!((a.0, b.0), (200, 200));
    assert_ne!(
        a.1["pid"], b.1["pid"],
        "each instance serves one invocation at a time"
    );
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_wait_in_the_queue_and_then_get_429() {
    // Single allows one instance (ReservedConcurrentExecutions: 1); the queue holds one.
    let runner = Arc::new(Runner::start("functions.yaml", &["--queue-size", "1"]));
    let (busy, held) = occupy(&runner, "/single").await;
    let spawn_plain = || {
        let runner = runner.clone();
        tokio::spawn(async move { runner.get("/single").await })
    };
    let (mut b, mut c) = (spawn_plain(), spawn_plain());
    // Of the two extra requests one takes the queue's only place, the other is refused.
    let (refused, queued) = within(async {
        tokio::select! {
            r = &mut b => (r.unwrap(), c),
            r = &mut c => (r.unwrap(), b),
        }
    })
    .await;
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = problem(refused, 429).await;
    assert!(common::detail(&body).contains("Single"), "{body}");
    drop(held);
    let (status, first) = within(busy).await.unwrap();
    assert_eq!(status, 200);
    let queued = within(queued).await.unwrap();
    assert_eq!(queued.status(), 200);
    let queued: serde_json::Value = queued.json().await.unwrap();
    assert_eq!(
        queued["pid"], first["pid"],
        "the queued request waited for the one instance"
    );
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_queued_gives_its_place_back_and_runs_nothing() {
    let runner = Arc::new(Runner::start("functions.yaml", &["--queue-size", "1"]));
    let (busy, held) = occupy(&runner, "/single").await;
    // This caller takes the queue's only place, then gives up.
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let gave_up = within(impatient.get(runner.url("/single")).send()).await;
    assert!(gave_up.unwrap_err().is_timeout());
    // Its place is free again: the next request queues instead of getting 429.
    let queued = tokio::spawn({
        let runner = runner.clone();
        async move { runner.get_json("/single").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "the request was refused, not queued");
    drop(held);
    let (_, first) = within(busy).await.unwrap();
    let (status, second) = within(queued).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(second["pid"], first["pid"]);
    assert_eq!(
        second["invocation"], 2,
        "the abandoned request must not have been run"
    );
}

#[tokio::test]
async fn a_request_that_waits_past_the_queue_timeout_gets_429() {
    let runner = Arc::new(Runner::start(
        "functions.yaml",
        &["--queue-timeout", "300ms"],
    ));
    let (busy, held) = occupy(&runner, "/single").await;
    let refused = within(runner.get("/single")).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = problem(refused, 429).await;
    assert!(common::detail(&body).contains("0.3 s"), "{body}");
    drop(held);
    assert_eq!(within(busy).await.unwrap().0, 200);
}

#[tokio::test]
async fn idle_instances_are_stopped_after_the_idle_timeout() {
    let runner = Runner::start("functions.yaml", &["--idle-timeout", "300ms"]);
    let (_, body) = within(runner.get_json("/echo")).await;
    let pid = body["pid"].as_u64().unwrap();
    // Bounded wait for the reaper; the assertion is that it happens at all.
    for _ in 0..300 {
        if !common::process_alive(pid) {
            let (status, next) = within(runner.get_json("/echo")).await;
            assert_eq!(status, 200);
            assert_ne!(next["pid"].as_u64().unwrap(), pid);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance {pid} was not stopped after going idle");
}
