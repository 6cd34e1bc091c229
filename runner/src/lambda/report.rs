//! Lambda's own lines around every invocation, in the function's log: `START`
//! before it, `END` and `REPORT` (duration, billed duration, memory size, the
//! instance's peak memory, and the init duration on a cold start) after it. As
//! text they read as in CloudWatch; with `--log-format json` they are the
//! `platform.*` records of Lambda's JSON log format.

use std::time::{Duration, SystemTime};

use crate::decimal::Decimal;

/// How an invocation ended, as `REPORT` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    /// The function reported an error (`/error`) or gave an unusable answer.
    Error,
    /// The process exited or was lost mid-invocation.
    Crashed,
    Timeout,
}

impl Status {
    fn json(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error | Status::Crashed => "error",
            Status::Timeout => "timeout",
        }
    }
}

/// The figures of one invocation.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_size_mb: u32,
    /// The instance's largest resident set seen so far, in MB (rounded up).
    pub max_memory_used_mb: Option<u64>,
    /// The instance's start-up time, when this invocation started it.
    pub init: Option<Duration>,
    pub status: Status,
}

/// `START RequestId: … Version: $LATEST`, without a newline.
pub fn start_text(request_id: &str) -> String {
    let mut line = String::with_capacity(64);
    push_start(&mut line, "", request_id);
    line.pop();
    line
}

/// `{prefix}START RequestId: … Version: $LATEST` and a newline. These lines
/// go out with every invocation, so they are put together by hand: `format!`
/// costs several times as much.
fn push_start(out: &mut String, prefix: &str, request_id: &str) {
    out.push_str(prefix);
    out.push_str("START RequestId: ");
    out.push_str(request_id);
    out.push_str(" Version: $LATEST\n");
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Milliseconds with two decimals, rounded half up: 2,714 µs is `2.71`.
fn push_milliseconds(out: &mut String, duration: Duration) {
    let hundredths = (duration.as_nanos() + 5_000) / 10_000;
    let hundredths = u64::try_from(hundredths).unwrap_or(u64::MAX);
    out.push_str(Decimal::of(hundredths / 100).as_str());
    out.push('.');
    let fraction = hundredths % 100;
    out.push(char::from(b'0' + (fraction / 10) as u8));
    out.push(char::from(b'0' + (fraction % 10) as u8));
}

impl Report<'_> {
    /// Lambda bills whole milliseconds, rounded up.
    pub fn billed_ms(&self) -> u64 {
        self.duration.as_micros().div_ceil(1000).max(1) as u64
    }

    /// `END` and `REPORT`, each ending with a newline. `REPORT`'s fields are
    /// separated by tabs, as CloudWatch shows them.
    pub fn end_and_report_text(&self) -> String {
        let mut text = String::with_capacity(256);
        self.push_end_and_report(&mut text, "");
        text
    }

    /// `END` and `REPORT`, each line opening with `prefix`.
    fn push_end_and_report(&self, out: &mut String, prefix: &str) {
        let id = self.request_id;
        out.push_str(prefix);
        out.push_str("END RequestId: ");
        out.push_str(id);
        out.push('\n');
        out.push_str(prefix);
        out.push_str("REPORT RequestId: ");
        out.push_str(id);
        out.push_str("\tDuration: ");
        push_milliseconds(out, self.duration);
        out.push_str(" ms\tBilled Duration: ");
        out.push_str(Decimal::of(self.billed_ms()).as_str());
        out.push_str(" ms\tMemory Size: ");
        out.push_str(Decimal::of(u64::from(self.memory_size_mb)).as_str());
        out.push_str(" MB\t");
        if let Some(used) = self.max_memory_used_mb {
            out.push_str("Max Memory Used: ");
            out.push_str(Decimal::of(used).as_str());
            out.push_str(" MB\t");
        }
        if let Some(init) = self.init {
            out.push_str("Init Duration: ");
            push_milliseconds(out, init);
            out.push_str(" ms\t");
        }
        match self.status {
            Status::Success => {}
            Status::Error => out.push_str("Status: error\t"),
            Status::Crashed => out.push_str("Status: error\tError Type: Runtime.ExitError\t"),
            Status::Timeout => out.push_str("Status: timeout\t"),
        }
        out.push('\n');
    }
}

/// The `platform.start` record, one JSON line for `function`.
pub fn start_json(function: &str, request_id: &str, at: SystemTime) -> String {
    serde_json::json!({
        "time": crate::clock::timestamp_string(at),
        "type": "platform.start",
        "function": function,
        "record": {"requestId": request_id, "version": "$LATEST"},
    })
    .to_string()
}

impl Report<'_> {
    /// The `platform.runtimeDone` and `platform.report` records, one JSON line
    /// each, each ending with a newline.
    pub fn end_and_report_json(&self, function: &str, at: SystemTime) -> String {
        let time = crate::clock::timestamp_string(at);
        let status = self.status.json();
        let done = serde_json::json!({
            "time": time,
            "type": "platform.runtimeDone",
            "function": function,
            "record": {"requestId": self.request_id, "status": status},
        });
        let mut metrics = serde_json::json!({
            "durationMs": round2(milliseconds(self.duration)),
            "billedDurationMs": self.billed_ms(),
            "memorySizeMB": self.memory_size_mb,
        });
        if let Some(used) = self.max_memory_used_mb {
            metrics["maxMemoryUsedMB"] = used.into();
        }
        if let Some(init) = self.init {
            metrics["initDurationMs"] = round2(milliseconds(init)).into();
        }
        let mut record = serde_json::json!({
            "requestId": self.request_id,
            "metrics": metrics,
            "status": status,
        });
        if self.status == Status::Crashed {
            record["errorType"] = "Runtime.ExitError".into();
        }
        let report = serde_json::json!({
            "time": time,
            "type": "platform.report",
            "function": function,
            "record": record,
        });
        format!("{done}\n{report}\n")
    }
}

/// Writes `START` for an invocation of `function` to the runner's stdout, where
/// the function's own output goes.
pub(crate) fn write_start(function: &str, request_id: &str) {
    let line = if crate::output::json_logs() {
        start_json(function, request_id, SystemTime::now()) + "\n"
    } else {
        let mut line = String::with_capacity(64 + function.len());
        push_start(&mut line, &prefix(function), request_id);
        line
    };
    crate::output::platform_lines(line.into_bytes());
}

/// Writes `END` and `REPORT` for an invocation of `function`, as
/// [`write_start`] does `START`.
pub(crate) fn write_end(function: &str, report: &Report<'_>) {
    let lines = if crate::output::json_logs() {
        report.end_and_report_json(function, SystemTime::now())
    } else {
        let mut lines = String::with_capacity(256 + 2 * function.len());
        report.push_end_and_report(&mut lines, &prefix(function));
        lines
    };
    crate::output::platform_lines(lines.into_bytes());
}

/// `[Function] `, as the function's own lines begin.
fn prefix(function: &str) -> String {
    let mut prefix = String::with_capacity(function.len() + 3);
    prefix.push('[');
    prefix.push_str(function);
    prefix.push_str("] ");
    prefix
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: Status, init: Option<Duration>) -> Report<'static> {
        Report {
            request_id: "id-1",
            duration: Duration::from_micros(2_714),
            memory_size_mb: 256,
            max_memory_used_mb: Some(19),
            init,
            status,
        }
    }

    #[test]
    fn text_lines_read_as_cloudwatch_shows_them() {
        assert_eq!(start_text("id-1"), "START RequestId: id-1 Version: $LATEST");
        assert_eq!(
            report(Status::Success, Some(Duration::from_micros(8_126))).end_and_report_text(),
            "END RequestId: id-1\nREPORT RequestId: id-1\tDuration: 2.71 ms\tBilled Duration: 3 ms\t\
             Memory Size: 256 MB\tMax Memory Used: 19 MB\tInit Duration: 8.13 ms\t\n"
        );
        assert!(
            report(Status::Timeout, None)
                .end_and_report_text()
                .ends_with("Max Memory Used: 19 MB\tStatus: timeout\t\n")
        );
        assert!(
            report(Status::Crashed, None)
                .end_and_report_text()
                .ends_with("Status: error\tError Type: Runtime.ExitError\t\n")
        );
    }

    #[test]
    fn durations_read_with_two_decimals_rounded_half_up() {
        for (nanos, text) in [
            (0, "0.00"),
            (4_999, "0.00"),
            (5_000, "0.01"),
            (2_714_000, "2.71"),
            (8_125_000, "8.13"),
            (1_234_567_890, "1234.57"),
        ] {
            let mut out = String::new();
            push_milliseconds(&mut out, Duration::from_nanos(nanos));
            assert_eq!(out, text, "{nanos} ns");
        }
    }

    #[test]
    fn billing_rounds_up_to_whole_milliseconds() {
        let mut r = report(Status::Success, None);
        for (micros, billed) in [(0, 1), (1, 1), (1_000, 1), (1_001, 2), (2_999, 3)] {
            r.duration = Duration::from_micros(micros);
            assert_eq!(r.billed_ms(), billed, "{micros} µs");
        }
    }

    #[test]
    fn json_lines_are_lambdas_platform_records() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let start: serde_json::Value =
            serde_json::from_str(&start_json("Echo", "id-1", at)).unwrap();
        assert_eq!(start["type"], "platform.start");
        assert_eq!(start["function"], "Echo");
        assert_eq!(start["record"]["requestId"], "id-1");
        assert_eq!(start["record"]["version"], "$LATEST");
        assert_eq!(start["time"], "2023-11-14T22:13:20.123000Z");

        let both =
            report(Status::Crashed, Some(Duration::from_millis(5))).end_and_report_json("Echo", at);
        let lines: Vec<serde_json::Value> = both
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["type"], "platform.runtimeDone");
        assert_eq!(lines[0]["record"]["status"], "error");
        let record = &lines[1]["record"];
        assert_eq!(lines[1]["type"], "platform.report");
        assert_eq!(record["requestId"], "id-1");
        assert_eq!(record["status"], "error");
        assert_eq!(record["errorType"], "Runtime.ExitError");
        assert_eq!(record["metrics"]["durationMs"], 2.71);
        assert_eq!(record["metrics"]["billedDurationMs"], 3);
        assert_eq!(record["metrics"]["memorySizeMB"], 256);
        assert_eq!(record["metrics"]["maxMemoryUsedMB"], 19);
        assert_eq!(record["metrics"]["initDurationMs"], 5.0);
    }
}
