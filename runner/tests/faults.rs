//! Faults stay inside the function: timeouts, crashes, panics and failed starts become
//! 504/502 problems, and the runner carries on.

mod common;

use common::{Runner, problem};

#[tokio::test]
async fn a_function_past_its_timeout_is_stopped_and_the_caller_gets_504() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, first) = runner.get_json("/short").await;
    let pid = first["pid"].as_u64().unwrap();
    let body = problem(runner.get("/short?do=sleep&ms=5000").await, 504).await;
    assert!(common::detail(&body).contains("timeout"), "{body}");
    let (status, next) = runner.get_json("/short").await;
    assert_eq!(status, 200);
    assert_ne!(
        next["pid"].as_u64().unwrap(),
        pid,
        "the timed-out instance must be replaced"
    );
    assert!(
        !common::process_alive(pid),
        "the timed-out instance must be killed"
    );
}

#[tokio::test]
async fn a_function_that_exits_mid_request_gives_502_and_the_next_request_a_fresh_instance() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, first) = runner.get_json("/echo").await;
    let pid = first["pid"].as_u64().unwrap();
    let body = problem(runner.get("/echo?do=exit").await, 502).await;
    runner
        .logged_not_answered(&body, "exited with status 3")
        .await;
    let (status, next) = runner.get_json("/echo").await;
    assert_eq!(status, 200);
    assert_ne!(next["pid"].as_u64().unwrap(), pid);
    assert_eq!(next["invocation"], 1);
}

#[tokio::test]
async fn a_panicking_function_gives_502_and_the_runner_carries_on() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/echo?do=panic").await, 502).await;
    assert!(
        body["type"].as_str().unwrap().ends_with("function-error"),
        "{body}"
    );
    // lambda_runtime reports a panic by the payload's type name, which the caller
    // must not see.
    runner
        .logged_not_answered(&body, "panicking as asked")
        .await;
    runner.logged_not_answered(&body, "alloc::").await;
    let (status, _) = runner.get_json("/echo").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_function_error_gives_502_and_keeps_the_instance() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, first) = runner.get_json("/echo").await;
    problem(runner.get("/echo?do=error").await, 502).await;
    let (_, next) = runner.get_json("/echo").await;
    assert_eq!(next["pid"], first["pid"]);
    runner.log_line("failing as asked").await;
}

#[tokio::test]
async fn an_init_error_gives_502_naming_the_reason_and_backs_off() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/init-error").await, 502).await;
    runner
        .logged_not_answered(&body, "Runtime.ConfigError: TEST_SETTING is missing")
        .await;
    let again = problem(runner.get("/init-error").await, 502).await;
    runner.logged_not_answered(&again, "retrying in").await;
}

#[tokio::test]
async fn a_function_that_exits_before_polling_gives_502_naming_the_exit() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/init-exit").await, 502).await;
    runner
        .logged_not_answered(&body, "exited with status 2 before polling")
        .await;
    let (status, _) = runner.get_json("/echo").await;
    assert_eq!(status, 200, "other functions are unaffected");
}

#[tokio::test]
async fn a_slow_start_is_waited_for_and_logged_as_a_cold_start() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/slow-init").await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = runner.log_line(&format!("request_id={request_id}")).await;
    for field in [
        "cold start",
        "function=SlowInit",
        "status=200",
        "duration_ms=",
        "init_ms=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[tokio::test]
async fn function_output_is_forwarded_with_its_name() {
    let runner = Runner::start("functions.yaml", &[]);
    problem(runner.get("/echo?do=exit").await, 502).await;
    problem(runner.get("/init-exit").await, 502).await;
    runner.log_line("[Echo] exiting mid-request as asked").await;
    runner.log_line("[InitExit] init-exit: giving up").await;
}

#[tokio::test]
async fn an_instance_that_does_not_poll_within_the_init_timeout_gives_502() {
    // SlowInit sleeps 300 ms before polling.
    let runner = Runner::start("functions.yaml", &["--init-timeout", "100ms"]);
    let body = problem(runner.get("/slow-init").await, 502).await;
    runner
        .logged_not_answered(&body, "did not poll for work within 0.1 s")
        .await;
}

#[tokio::test]
async fn a_function_starts_again_once_its_init_backoff_is_over() {
    let flag = std::env::temp_dir().join(format!("runner-init-flag-{}", std::process::id()));
    std::fs::write(&flag, "fail").unwrap();
    let overrides = format!("InitFlag={}", flag.display());
    let runner = Runner::start("functions.yaml", &["--parameter-overrides", &overrides]);
    let body = problem(runner.get("/recovering").await, 502).await;
    runner.logged_not_answered(&body, "init error").await;
    std::fs::remove_file(&flag).unwrap();
    // The first back-off is 1 s; within it the failure is repeated, then a start is
    // tried again and succeeds.
    for _ in 0..60 {
        let response = runner.get("/recovering").await;
        if response.status() == 200 {
            return;
        }
        let body = problem(response, 502).await;
        runner.logged_not_answered(&body, "retrying in").await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the function did not start again after its back-off");
}

#[tokio::test]
async fn a_response_over_6_mb_is_a_502_and_the_instance_carries_on() {
    let runner = Runner::start("functions.yaml", &[]);
    // Roomy's long timeout leaves a debug build time to make and send 7 MB.
    let (_, first) = runner.get_json("/roomy").await;
    let body = problem(runner.get("/roomy?do=big&bytes=7000000").await, 502).await;
    runner.logged_not_answered(&body, "exceeds 6 MB").await;
    // As on Lambda, the function hears 413 and polls again.
    let (status, next) = runner.get_json("/roomy").await;
    assert_eq!(status, 200);
    assert_eq!(next["pid"], first["pid"]);
}

#[tokio::test]
async fn a_response_upload_that_breaks_off_is_a_502_not_a_size_error() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/echo?do=truncate").await, 502).await;
    runner.logged_not_answered(&body, "cut short").await;
    let (status, _) = runner.get_json("/echo").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn stopping_an_instance_also_stops_the_processes_it_started() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/short?do=spawn").await;
    assert_eq!(response.status(), 200);
    let grandchild: u64 = response.text().await.unwrap().parse().unwrap();
    assert!(common::process_alive(grandchild));
    // Running past its timeout gets the instance killed, and its process group with it.
    problem(runner.get("/short?do=sleep&ms=5000").await, 504).await;
    assert!(
        common::gone(grandchild).await,
        "process {grandchild}, started by a killed instance, is still running"
    );
}

#[tokio::test]
async fn instances_die_with_a_runner_killed_outright() {
    let mut runner = Runner::start("functions.yaml", &[]);
    let (_, body) = runner.get_json("/echo").await;
    let pid = body["pid"].as_u64().unwrap();
    // Keep the instance busy in its handler, away from the Runtime API, so that only
    // the kernel can tell it the runner is gone.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let request = runner
        .client
        .get(runner.url(&format!("/echo?do=hold&port={port}")))
        .send();
    let pending = tokio::spawn(request);
    let (_held, _) = common::within(listener.accept()).await.unwrap();
    runner.kill_hard();
    assert!(
        common::gone(pid).await,
        "instance {pid} outlived its runner"
    );
    let _ = pending.await;
}

#[tokio::test]
async fn a_very_long_output_line_is_forwarded_in_pieces() {
    let runner = Runner::start("functions.yaml", &[]);
    let (status, _) = runner.get_json("/echo?do=shout&bytes=300000").await;
    assert_eq!(status, 200);
    let first = format!("[Echo] {}", "y".repeat(256 * 1024));
    let rest = format!("[Echo] {}", "y".repeat(300_000 - 256 * 1024));
    // Both pieces arrive through a pipe: wait (boundedly) for the second.
    for _ in 0..200 {
        let lines = runner.stdout();
        let pieces: Vec<&str> = lines
            .lines()
            .filter(|l| l.starts_with("[Echo] y"))
            .collect();
        if pieces.len() >= 2 {
            assert_eq!(pieces, [first.as_str(), rest.as_str()]);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the long line did not arrive in two pieces:\n{}",
        runner.stdout()
    );
}

#[tokio::test]
async fn an_invocation_given_to_an_instance_that_quits_runs_on_a_fresh_one() {
    let runner = Runner::start("functions.yaml", &[]);
    // The instance answers, then exits without polling again; to the pool it still
    // looks ready when the next request comes.
    let response = runner.get("/single?do=quit").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "bye");
    let (status, body) = runner.get_json("/single").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invocation"], 1, "served by a fresh instance");
    runner
        .log_line("instance exited before taking the invocation")
        .await;
}

#[tokio::test]
async fn an_instance_that_exits_takes_the_processes_it_started_with_it() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/echo?do=spawn").await;
    let grandchild: u64 = response.text().await.unwrap().parse().unwrap();
    assert!(common::process_alive(grandchild));
    problem(runner.get("/echo?do=exit").await, 502).await;
    assert!(
        common::gone(grandchild).await,
        "process {grandchild} outlived the instance that started it"
    );
}

#[tokio::test]
async fn misuse_of_the_runtime_api_is_refused_without_touching_the_invocation() {
    let runner = Runner::start("functions.yaml", &[]);
    let (status, statuses) = runner.get_json("/echo?do=probe").await;
    assert_eq!(
        status, 200,
        "the invocation survived the probes: {statuses}"
    );
    assert_eq!(statuses["unknownId"], 400, "{statuses}");
    assert_eq!(statuses["unknownPath"], 404, "{statuses}");
    assert_eq!(statuses["unknownAction"], 404, "{statuses}");
    assert_eq!(statuses["wrongMethod"], 405, "{statuses}");
    assert_eq!(statuses["lateInitError"], 403, "{statuses}");
    // Once answered, the invocation is no longer in progress: 403, not 400.
    runner.log_line("[Echo] a second answer got 403").await;
    let (status, _) = runner.get_json("/echo").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_error_whose_type_is_only_in_the_header_is_reported_by_that_type() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/echo?do=error-header").await, 502).await;
    runner.logged_not_answered(&body, "Custom.FromHeader").await;
}

#[tokio::test]
async fn the_caller_stops_waiting_at_the_integration_timeout_while_the_function_runs_on() {
    // Single has one instance and a 2 s Timeout; the API gives up after 0.5 s here
    // (30 s by default).
    let runner = Runner::start("functions.yaml", &["--integration-timeout", "500ms"]);
    let (_, first) = runner.get_json("/single").await;
    let body = problem(runner.get("/single?do=sleep&ms=1000").await, 504).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("integration-timeout"),
        "{body}"
    );
    // The instance was neither killed nor replaced: the next request waits for it to
    // finish the invocation, then runs on it.
    let (status, next) = runner.get_json("/single").await;
    assert_eq!(status, 200);
    assert_eq!(next["pid"], first["pid"]);
    assert_eq!(next["invocation"], 3);
}
