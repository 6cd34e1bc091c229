//! Instances kept ready (`ProvisionedConcurrencyConfig`, `--min-instances`):
//! started before the first request, never stopped for idling, replaced when
//! they die, and `/readyz` waits for them. Real processes, real signals.

mod common;

use std::time::Duration;

use common::Runner;

async fn readyz(runner: &Runner, ops: &str) -> u16 {
    common::unpooled_client()
        .get(format!("{ops}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{e}:\n{}", runner.stderr()))
}

/// Waits (boundedly) until `/readyz` says 200.
async fn until_ready(runner: &Runner, ops: &str) {
    for _ in 0..250 {
        if readyz(runner, ops).await == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never ready:\n{}", runner.stderr());
}

fn started(runner: &Runner, function: &str) -> usize {
    runner
        .stderr()
        .lines()
        .filter(|l| l.contains("instance started") && l.contains(&format!("function={function}")))
        .count()
}

/// The `REPORT` line of the request `id` has an `Init Duration`: it was a cold start.
async fn was_cold(runner: &Runner, response: reqwest::Response) -> bool {
    let id = response.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.status(), 200);
    let report = runner.log_line(&format!("REPORT RequestId: {id}\t")).await;
    report.contains("Init Duration")
}

#[tokio::test]
async fn provisioned_instances_are_ready_before_the_first_request_and_kept() {
    // Idle instances would be stopped after 200 ms; the provisioned ones stay.
    let runner = Runner::start_with_env(
        "prewarm.yaml",
        &["--ops-port", "0", "--idle-timeout", "200ms"],
        &[("RUST_LOG", "info,runner::lambda=debug")],
    );
    let ops = runner.ops_url().await;
    // Each instance takes 1 s to start: not ready at first.
    assert_eq!(readyz(&runner, &ops).await, 503);
    until_ready(&runner, &ops).await;
    assert_eq!(started(&runner, "Ready"), 2, "{}", runner.stderr());
    assert_eq!(started(&runner, "OnDemand"), 0);

    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !runner.stderr().contains("stopping idle instance"),
        "{}",
        runner.stderr()
    );
    assert!(!was_cold(&runner, runner.get("/ready").await).await);
    assert!(was_cold(&runner, runner.get("/on-demand").await).await);

    // A dead instance is replaced.
    let (_, body) = runner.get_json("/ready").await;
    let pid = body["pid"].as_u64().unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    for _ in 0..250 {
        if started(&runner, "Ready") == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(started(&runner, "Ready"), 3, "{}", runner.stderr());
    until_ready(&runner, &ops).await;
    // The unprovisioned function's instance idles out as before.
    runner.log_line("stopping idle instance").await;

    // At shutdown the kept instances are stopped, not replaced.
    let before = started(&runner, "Ready");
    runner.signal("TERM");
    let (status, runner) = exit_of(runner).await;
    assert!(status.success(), "exit {status}:\n{}", runner.stderr());
    assert_eq!(started(&runner, "Ready"), before, "{}", runner.stderr());
}

/// How the runner exits by itself (within 15 s).
async fn exit_of(mut runner: Runner) -> (std::process::ExitStatus, Runner) {
    tokio::task::spawn_blocking(move || {
        let status = runner.wait_for_exit(Duration::from_secs(15));
        (status.expect("the runner exits"), runner)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn min_instances_on_the_command_line_override_the_template() {
    let runner = Runner::start_with_env(
        "prewarm.yaml",
        &[
            "--ops-port",
            "0",
            "--min-instances",
            "OnDemand=1",
            "--min-instances",
            "Ready=0",
        ],
        &[("RUST_LOG", "info,runner::lambda=debug")],
    );
    let ops = runner.ops_url().await;
    until_ready(&runner, &ops).await;
    assert_eq!(started(&runner, "OnDemand"), 1, "{}", runner.stderr());
    assert!(!was_cold(&runner, runner.get("/on-demand").await).await);
    assert!(was_cold(&runner, runner.get("/ready").await).await);
}

#[test]
fn min_instances_for_an_unknown_function_is_refused_at_start() {
    let message = common::start_failure_with("prewarm.yaml", &["--min-instances", "Nope=1"], &[]);
    assert!(message.contains("--min-instances Nope"), "{message}");
    assert!(message.contains("Ready"), "{message}");
}
