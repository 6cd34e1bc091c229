//! The benchmark's tools (`scripts/bench-runner` runs them): the Runtime API
//! floor measures a real function, the minimal runner serves it, and the bare hyper
//! baseline serves its body.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, contents).expect("a scratch file");
    path
}

/// A connection to `port`, once `server` listens there (within 10 s).
fn connect(port: u16, server: &str) -> TcpStream {
    let started = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("{server} did not listen: {e}"),
        }
    }
}

#[test]
fn the_floor_runs_a_function_and_prints_its_figures() {
    let function = common::test_function_binary();
    let event = scratch_file(
        "floor-event.json",
        r#"{"rawPath": "/", "queryStringParameters": {}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bench-floor"))
        .args([function.as_os_str(), event.as_os_str()])
        .args(["1", "1"])
        .output()
        .expect("bench-floor runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Vec<f64> = stdout
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    assert_eq!(figures.len(), 5, "{stdout}");
    assert!(figures[0] > 0.0, "invocations were measured: {stdout}");
    let usage = Command::new(env!("CARGO_BIN_EXE_bench-floor"))
        .output()
        .expect("bench-floor runs");
    assert!(!usage.status.success());
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage: bench-floor"));
}

#[test]
fn the_hyper_baseline_answers_its_body() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let body = scratch_file("hyper-body.json", r#"{"ok":true}"#);
    let mut server = Command::new(env!("CARGO_BIN_EXE_bench-hyper"))
        .arg(port.to_string())
        .arg(&body)
        .stdout(Stdio::null())
        .spawn()
        .expect("bench-hyper starts");
    let mut stream = connect(port, "bench-hyper");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"ok":true}"#), "{answer}");
}

#[test]
fn the_minimal_runner_hands_the_event_to_the_function_and_answers_its_result() {
    let function = common::test_function_binary();
    let event = scratch_file(
        "minimal-event.json",
        r#"{"rawPath": "/minimal", "queryStringParameters": {}}"#,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_bench-minimal"))
        .args([function.as_os_str(), event.as_os_str()])
        .args(["2", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("bench-minimal starts");
    let mut answers = Vec::new();
    // More requests than instances.
    for _ in 0..3 {
        let mut stream = connect(port, "bench-minimal");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answers.push(answer);
    }
    let _ = server.kill();
    let _ = server.wait();
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // The echo function's result, with the event it was handed.
        assert!(answer.contains(r#"\"rawPath\":\"/minimal\""#), "{answer}");
    }
}
