//! Lambda's Invoke API on the operations listener (`--ops-port`): raw JSON
//! events straight to a function, with Lambda's answers, through reqwest, `aws
//! lambda invoke` (awscli) and `cargo lambda invoke`. Real processes, real HTTP.

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use common::Runner;
use serde_json::{Value, json};

fn runner() -> Runner {
    Runner::start(
        "functions.yaml",
        &["--ops-port", "0", "--async-retry-delay", "200ms"],
    )
}

async fn invoke(
    runner: &Runner,
    name: &str,
    headers: &[(&str, &str)],
    payload: &str,
) -> reqwest::Response {
    let url = format!(
        "{}/2015-03-31/functions/{name}/invocations",
        runner.ops_url().await
    );
    let mut request = runner.client.post(url).body(payload.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The echo function's view of the event it got.
fn echoed(result: &Value) -> Value {
    serde_json::from_str(result["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_json_event_runs_the_function_and_answers_its_result() {
    let runner = runner();
    for name in [
        "Echo",
        "Echo:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:Echo",
        "echo-v1",
    ] {
        let response = invoke(&runner, name, &[], r#"{"order": 42}"#).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(header(&response, "x-amz-executed-version"), Some("$LATEST"));
        assert!(header(&response, "x-amz-function-error").is_none());
        let id = header(&response, "x-amzn-requestid").unwrap().to_owned();
        let result: Value = response.json().await.unwrap();
        let seen = echoed(&result);
        assert_eq!(seen["event"], json!({"order": 42}), "{name}");
        assert_eq!(seen["context"]["requestId"], id);
    }
    // No payload is an empty object, as for `aws lambda invoke` without one.
    let response = invoke(&runner, "Echo", &[], "").await;
    let result: Value = response.json().await.unwrap();
    assert_eq!(echoed(&result)["event"], json!({}));
}

#[tokio::test]
async fn failures_are_lambdas_answers() {
    let runner = runner();
    let error = invoke(
        &runner,
        "Echo",
        &[],
        r#"{"queryStringParameters": {"do": "error"}}"#,
    )
    .await;
    assert_eq!(error.status(), 200);
    assert_eq!(header(&error, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = error.json().await.unwrap();
    assert_eq!(body["errorMessage"], "failing as asked");

    let slow = r#"{"queryStringParameters": {"do": "sleep", "ms": "3000"}}"#;
    let timeout = invoke(&runner, "Short", &[], slow).await;
    assert_eq!(timeout.status(), 200);
    assert_eq!(header(&timeout, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = timeout.json().await.unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds")
    );

    let crash = invoke(
        &runner,
        "Echo",
        &[],
        r#"{"queryStringParameters": {"do": "exit"}}"#,
    )
    .await;
    assert_eq!(header(&crash, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = crash.json().await.unwrap();
    assert_eq!(body["errorType"], "Runtime.ExitError");
}

#[tokio::test]
async fn requests_lambda_would_refuse_are_refused_as_lambda_does() {
    let runner = runner();
    for (name, status, kind) in [
        ("Nope", 404, "ResourceNotFoundException"),
        ("Echo:7", 404, "ResourceNotFoundException"),
    ] {
        let response = invoke(&runner, name, &[], "{}").await;
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(header(&response, "x-amzn-errortype"), Some(kind), "{name}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("Function not found")
        );
    }
    let bad = invoke(&runner, "Echo", &[], "{not json").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        header(&bad, "x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );
    let kind = invoke(
        &runner,
        "Echo",
        &[("x-amz-invocation-type", "Sometime")],
        "{}",
    )
    .await;
    assert_eq!(kind.status(), 400);
    let big = format!("\"{}\"", "x".repeat(300 * 1024));
    let too_big = invoke(&runner, "Echo", &[("x-amz-invocation-type", "Event")], &big).await;
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        header(&too_big, "x-amzn-errortype"),
        Some("RequestTooLargeException")
    );
    let dry = invoke(
        &runner,
        "Echo",
        &[("x-amz-invocation-type", "DryRun")],
        "{}",
    )
    .await;
    assert_eq!(dry.status(), 204);
    // The public port does not serve the Invoke API.
    let public = runner
        .client
        .post(runner.url("/2015-03-31/functions/Echo/invocations"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
}

#[tokio::test]
async fn a_log_tail_is_the_invocations_output_between_lambdas_lines() {
    let runner = runner();
    let payload = r#"{"queryStringParameters": {"do": "shout", "bytes": "12"}}"#;
    let response = invoke(&runner, "Echo", &[("x-amz-log-type", "Tail")], payload).await;
    assert_eq!(response.status(), 200);
    let id = header(&response, "x-amzn-requestid").unwrap().to_owned();
    let tail = header(&response, "x-amz-log-result").unwrap();
    let tail = base64::engine::general_purpose::STANDARD
        .decode(tail)
        .unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(
        tail.starts_with(&format!("START RequestId: {id} Version: $LATEST\n")),
        "{tail}"
    );
    assert!(tail.contains(&format!("{}\n", "y".repeat(12))), "{tail}");
    assert!(
        tail.contains(&format!(
            "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: "
        )),
        "{tail}"
    );
    // The same REPORT the runner printed, peak memory and cold start included.
    assert!(tail.contains("\tMax Memory Used: "), "{tail}");
    assert!(tail.contains("\tInit Duration: "), "{tail}");
    // Without asking, no tail.
    let plain = invoke(&runner, "Echo", &[], "{}").await;
    assert!(header(&plain, "x-amz-log-result").is_none());
}

#[tokio::test]
async fn an_event_invocation_is_accepted_at_once_and_a_failure_retried_twice() {
    let runner = runner();
    let ok = invoke(&runner, "Echo", &[("x-amz-invocation-type", "Event")], "{}").await;
    assert_eq!(ok.status(), 202);
    let id = header(&ok, "x-amzn-requestid").unwrap().to_owned();
    let line = runner.log_line("asynchronous invocation succeeded").await;
    assert!(line.contains(&id), "{line}");

    let failing = r#"{"queryStringParameters": {"do": "error"}}"#;
    let failed = invoke(
        &runner,
        "Echo",
        &[("x-amz-invocation-type", "Event")],
        failing,
    )
    .await;
    assert_eq!(failed.status(), 202);
    let id = header(&failed, "x-amzn-requestid").unwrap().to_owned();
    let dropped = runner
        .log_line("asynchronous invocation dropped after its retries")
        .await;
    assert!(dropped.contains(&id), "{dropped}");
    let attempts = runner
        .stderr()
        .lines()
        .filter(|l| l.contains("asynchronous invocation failed") && l.contains(&id))
        .count();
    assert_eq!(attempts, 3, "one attempt and two retries");
}

/// The project venv's `bin` (awscli and cargo-lambda from PyPI, which
/// `scripts/test` installs).
fn venv_tool(name: &str) -> PathBuf {
    let tool = common::venv_bin().join(name);
    assert!(
        tool.exists(),
        "{} is missing: run the tests with scripts/test, which installs it",
        tool.display()
    );
    tool
}

#[tokio::test]
async fn aws_lambda_invoke_and_cargo_lambda_invoke_work_against_it() {
    let runner = runner();
    let ops = runner.ops_url().await;
    let out = std::env::temp_dir().join(format!("invoke-{}.json", std::process::id()));
    let aws = Command::new(venv_tool("aws"))
        .args(["lambda", "invoke", "--endpoint-url", &ops])
        .args([
            "--function-name",
            "Echo",
            "--payload",
            r#"{"from": "awscli"}"#,
        ])
        .args(["--log-type", "Tail"])
        .arg(&out)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        aws.status.success(),
        "{}",
        String::from_utf8_lossy(&aws.stderr)
    );
    let printed: Value = serde_json::from_slice(&aws.stdout).unwrap();
    assert_eq!(printed["StatusCode"], 200);
    assert!(printed["LogResult"].as_str().is_some());
    let result: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(echoed(&result)["event"], json!({"from": "awscli"}));
    std::fs::remove_file(&out).unwrap();

    let port = ops.rsplit(':').next().unwrap();
    let cargo_lambda = Command::new(venv_tool("cargo-lambda"))
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
        .args([
            "--invoke-port",
            port,
            "--data-ascii",
            r#"{"from": "cargo-lambda"}"#,
        ])
        .arg("Echo")
        .output()
        .unwrap();
    assert!(
        cargo_lambda.status.success(),
        "{}",
        String::from_utf8_lossy(&cargo_lambda.stderr)
    );
    let result: Value = serde_json::from_slice(&cargo_lambda.stdout).unwrap();
    assert_eq!(echoed(&result)["event"], json!({"from": "cargo-lambda"}));
}

#[tokio::test]
async fn a_function_with_no_concurrency_is_throttled_and_its_events_dropped_at_once() {
    let runner = runner();
    let sync = invoke(&runner, "Closed", &[], "{}").await;
    assert_eq!(sync.status(), 429);
    assert_eq!(
        header(&sync, "x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    let event = invoke(
        &runner,
        "Closed",
        &[("x-amz-invocation-type", "Event")],
        "{}",
    )
    .await;
    assert_eq!(event.status(), 202);
    let id = header(&event, "x-amzn-requestid").unwrap().to_owned();
    let dropped = runner
        .log_line("asynchronous invocation dropped: the function's reserved concurrency is 0")
        .await;
    assert!(dropped.contains(&id), "{dropped}");
}
