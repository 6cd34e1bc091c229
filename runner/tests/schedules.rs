//! `Schedule` and `ScheduleV2` events: fired on their `rate()` by the runner
//! (sped up 60 times, so a minute is a second), with EventBridge's scheduled
//! event or the schedule's `Input`; disabled ones never. Real processes.

mod common;

use std::time::{Duration, Instant};

use common::Runner;
use serde_json::Value;

/// The events `function` printed so far.
fn events(runner: &Runner, function: &str) -> Vec<Value> {
    let prefix = format!("[{function}] event: ");
    runner
        .stdout()
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

#[tokio::test]
async fn schedules_fire_on_their_rate_with_the_scheduled_event_or_their_input() {
    let runner = Runner::start("schedules.yaml", &["--schedule-speed", "60"]);
    let started = Instant::now();
    while events(&runner, "Ticker").len() < 3 || events(&runner, "Sweeper").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the schedules did not fire:\n{}\n{}",
            runner.stdout(),
            runner.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticks = events(&runner, "Ticker");
    let tick = &ticks[0];
    assert_eq!(tick["detail-type"], "Scheduled Event");
    assert_eq!(tick["source"], "aws.events");
    assert_eq!(tick["account"], "123456789012");
    assert_eq!(tick["region"], "us-east-1");
    assert_eq!(
        tick["resources"][0],
        "arn:aws:events:us-east-1:123456789012:rule/local-TickerEveryMinute"
    );
    assert_ne!(ticks[0]["id"], ticks[1]["id"]);
    assert_ne!(ticks[0]["time"], ticks[1]["time"]);
    // The disabled schedule never fired.
    assert!(ticks.iter().all(|event| event.get("never").is_none()));
    assert!(
        runner
            .stderr()
            .contains("schedule=Never expression=rate(2 minutes) enabled=false")
    );
    // ScheduleV2 with Input delivers it; the cron one has not fired (03:00 UTC
    // is not within this test, or if it is, it fires once with {}).
    let sweeps = events(&runner, "Sweeper");
    assert_eq!(sweeps[0], serde_json::json!({"job": "sweep"}));
    let fired = runner
        .stderr()
        .lines()
        .filter(|l| l.contains("schedule fired"))
        .count();
    assert!(fired >= 4, "{fired}");
}
