//! Instances: reused while warm, one invocation each, bounded by the concurrency limit
//! with a bounded queue and 429 beyond it, and stopped when idle.

mod common;

use common::{Runner, problem};
use tokio::net::TcpListener;

/// A listener the test function connects to (`do=hold`) and waits on until released.
async fn hold_point() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[tokio::test]
async fn an_instance_is_reused_across_requests() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, first) = runner.get_json("/echo").await;
    let (_, second) = runner.get_json("/echo").await;
    assert_eq!(first["pid"], second["pid"]);
    assert_eq!(first["invocation"], 1);
    assert_eq!(second["invocation"], 2);
}

#[tokio::test]
async fn concurrent_requests_get_separate_instances() {
    let runner = std::sync::Arc::new(Runner::start("functions.yaml", &[]));
    let (listener, port) = hold_point().await;
    let path = format!("/echo?do=hold&port={port}");
    let first = tokio::spawn({
        let (runner, path) = (runner.clone(), path.clone());
        async move { runner.get_json(&path).await }
    });
    let held = listener.accept().await.unwrap();
    let second = tokio::spawn({
        let (runner, path) = (runner.clone(), path.clone());
        async move { runner.get_json(&path).await }
    });
    let held_too = listener.accept().await.unwrap();
    drop((held, held_too));
    let (a, b) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((a.0, b.0), (200, 200));
    assert_ne!(
        a.1["pid"], b.1["pid"],
        "each instance serves one invocation at a time"
    );
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_wait_in_the_queue_and_then_get_429() {
    // Single allows one instance (ReservedConcurrentExecutions: 1); the queue holds one.
    let runner = std::sync::Arc::new(Runner::start("functions.yaml", &["--queue-size", "1"]));
    let (listener, port) = hold_point().await;
    let busy = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner
                .get_json(&format!("/single?do=hold&port={port}"))
                .await
        }
    });
    let held = listener.accept().await.unwrap();
    let spawn_plain = || {
        let runner = runner.clone();
        tokio::spawn(async move { runner.get("/single").await })
    };
    let (mut b, mut c) = (spawn_plain(), spawn_plain());
    // Of the two extra requests one takes the queue's only place, the other is refused.
    let (refused, queued) = tokio::select! {
        r = &mut b => (r.unwrap(), c),
        r = &mut c => (r.unwrap(), b),
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = problem(refused, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("Single"),
        "{body}"
    );
    drop(held);
    let (status, first) = busy.await.unwrap();
    assert_eq!(status, 200);
    let queued = queued.await.unwrap();
    assert_eq!(queued.status(), 200);
    let queued: serde_json::Value = queued.json().await.unwrap();
    assert_eq!(
        queued["pid"], first["pid"],
        "the queued request waited for the one instance"
    );
}

#[tokio::test]
async fn idle_instances_are_stopped_after_the_idle_timeout() {
    let runner = Runner::start("functions.yaml", &["--idle-timeout", "300ms"]);
    let (_, body) = runner.get_json("/echo").await;
    let pid = body["pid"].as_u64().unwrap();
    // Bounded wait for the reaper; the assertion is that it happens at all.
    for _ in 0..300 {
        if !common::process_alive(pid) {
            let (status, next) = runner.get_json("/echo").await;
            assert_eq!(status, 200);
            assert_ne!(next["pid"].as_u64().unwrap(), pid);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("instance {pid} was not stopped after going idle");
}
