//! Lambda's own lines around every invocation (`START`, `END`, `REPORT`) in the
//! runner's stdout, as text and as JSON, parsed back. Real processes, real HTTP.

mod common;

use common::Runner;
use serde_json::Value;

/// The `REPORT` line's `Name: value unit` fields.
fn report_fields(line: &str) -> Vec<(String, String)> {
    line.split('\t')
        .skip(1)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (name, value) = f.split_once(": ").unwrap_or_else(|| panic!("{f:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn number(value: &str, unit: &str) -> f64 {
    value
        .strip_suffix(unit)
        .unwrap_or_else(|| panic!("{value:?} is not in {unit}"))
        .trim()
        .parse()
        .unwrap()
}

/// The instance's peak resident set (`VmHWM`), in MB rounded up.
fn peak_mb(pid: u64) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    (kib / 1024.0).ceil()
}

#[tokio::test]
async fn every_invocation_is_framed_by_start_end_and_report_in_order() {
    let runner = Runner::start("functions.yaml", &[]);
    let mut ids = Vec::new();
    let mut pid = 0;
    for _ in 0..2 {
        let (status, body) = runner.get_json("/echo").await;
        assert_eq!(status, 200);
        ids.push(body["context"]["requestId"].as_str().unwrap().to_owned());
        pid = body["pid"].as_u64().unwrap();
    }
    for (n, id) in ids.iter().enumerate() {
        let report = runner.log_line(&format!("REPORT RequestId: {id}\t")).await;
        let stdout = runner.stdout();
        let start = stdout
            .find(&format!("[Echo] START RequestId: {id} Version: $LATEST\n"))
            .expect("a START line");
        let end = stdout
            .find(&format!("[Echo] END RequestId: {id}\n"))
            .expect("an END line");
        let at = stdout.find(&report).unwrap();
        assert!(start < end && end < at, "out of order:\n{stdout}");
        assert!(report.starts_with("[Echo] REPORT RequestId: "));

        let fields = report_fields(&report);
        let duration = number(field(&fields, "Duration").unwrap(), "ms");
        let billed = number(field(&fields, "Billed Duration").unwrap(), "ms");
        assert!(duration > 0.0);
        // Billed: the exact duration rounded up, which the two decimals shown
        // may hide (2.001 ms shows as 2.00 and bills 3).
        assert!(
            billed >= duration.max(1.0) && billed < duration + 1.01,
            "{report}"
        );
        assert_eq!(billed.fract(), 0.0);
        assert_eq!(field(&fields, "Memory Size"), Some("256 MB"));
        let used = number(field(&fields, "Max Memory Used").unwrap(), "MB");
        assert!(
            used >= 1.0 && used <= peak_mb(pid),
            "{used} MB against a peak of {} MB",
            peak_mb(pid)
        );
        // Only the first invocation started its instance.
        let init = field(&fields, "Init Duration");
        assert_eq!(init.is_some(), n == 0, "{report}");
        if let Some(init) = init {
            assert!(number(init, "ms") > 0.0);
        }
        assert_eq!(field(&fields, "Status"), None, "{report}");
    }
}

#[tokio::test]
async fn a_timeout_and_a_crash_are_reported_as_lambda_reports_them() {
    let runner = Runner::start("functions.yaml", &[]);
    let timed_out = runner.get("/short?do=sleep&ms=5000").await;
    assert_eq!(timed_out.status(), 504);
    let id = timed_out.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let report = runner.log_line(&format!("REPORT RequestId: {id}\t")).await;
    let fields = report_fields(&report);
    assert_eq!(field(&fields, "Status"), Some("timeout"), "{report}");
    // Short's timeout is 1 s.
    assert!(number(field(&fields, "Duration").unwrap(), "ms") >= 1000.0);

    let crashed = runner.get("/echo?do=exit").await;
    assert_eq!(crashed.status(), 502);
    let id = crashed.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let report = runner.log_line(&format!("REPORT RequestId: {id}\t")).await;
    let fields = report_fields(&report);
    assert_eq!(field(&fields, "Status"), Some("error"));
    assert_eq!(field(&fields, "Error Type"), Some("Runtime.ExitError"));
}

#[tokio::test]
async fn with_json_logs_the_lines_are_lambdas_platform_records() {
    let runner = Runner::start("functions.yaml", &["--log-format", "json"]);
    let (_, body) = runner.get_json("/echo").await;
    let id = body["context"]["requestId"].as_str().unwrap();
    let needle = "\"type\":\"platform.report\"";
    let mut report = Value::Null;
    for _ in 0..200 {
        let found = runner
            .stdout()
            .lines()
            .filter(|l| l.contains(needle) && l.contains(id))
            .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
            .next();
        if let Some(found) = found {
            report = found;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(report["function"], "Echo", "{}", runner.stdout());
    let record = &report["record"];
    assert_eq!(record["requestId"], id);
    assert_eq!(record["status"], "success");
    assert_eq!(record["metrics"]["memorySizeMB"], 256);
    assert!(record["metrics"]["durationMs"].as_f64().unwrap() > 0.0);
    assert!(record["metrics"]["billedDurationMs"].as_u64().unwrap() >= 1);
    assert!(record["metrics"]["maxMemoryUsedMB"].as_u64().unwrap() >= 1);
    assert!(record["metrics"]["initDurationMs"].as_f64().unwrap() > 0.0);
    let start: Value = runner
        .stdout()
        .lines()
        .find(|l| l.contains("platform.start") && l.contains(id))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("a platform.start line");
    assert_eq!(start["record"]["version"], "$LATEST");
    assert!(start["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        runner
            .stdout()
            .lines()
            .any(|l| l.contains("platform.runtimeDone") && l.contains(id))
    );
}
