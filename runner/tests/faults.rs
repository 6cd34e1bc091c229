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
    assert!(
        body["detail"].as_str().unwrap().contains("timeout"),
        "{body}"
    );
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
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("exited with status 3"),
        "{body}"
    );
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
    assert!(
        !body.to_string().contains("panicking as asked"),
        "no function internals in the body"
    );
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
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Runtime.ConfigError") && detail.contains("TEST_SETTING is missing"),
        "{detail}"
    );
    let again = problem(runner.get("/init-error").await, 502).await;
    assert!(
        again["detail"].as_str().unwrap().contains("retrying in"),
        "{again}"
    );
}

#[tokio::test]
async fn a_function_that_exits_before_polling_gives_502_naming_the_exit() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = problem(runner.get("/init-exit").await, 502).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("exited with status 2 before polling"),
        "{body}"
    );
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
    let line = runner.log_line(&request_id).await;
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
