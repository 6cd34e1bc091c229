//! Hostile clients and local processes: what they send is refused or contained, and
//! everyone else is served as before. Each test would fail against a runner without
//! the defence it names.

mod common;

use std::time::Duration;

use common::{Runner, problem, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn address(runner: &Runner) -> String {
    runner.base.trim_start_matches("http://").to_owned()
}

/// Sends `head` (and nothing more) and reads what comes back until the runner
/// closes the connection or `limit` passes.
async fn exchange(runner: &Runner, head: &str, limit: Duration) -> String {
    let mut stream = TcpStream::connect(address(runner)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

/// A connection to the runner from another loopback address: a second client.
async fn connect_from(source: &str, runner: &Runner) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(address(runner).parse().unwrap()).await
}

async fn invocations(runner: &Runner) -> u64 {
    let (_, body) = runner.get_json("/echo").await;
    body["invocation"].as_u64().unwrap()
}

#[tokio::test]
async fn a_host_no_gateway_could_serve_is_a_400_and_reaches_no_function() {
    let runner = Runner::start("functions.yaml", &[]);
    let before = invocations(&runner).await;
    for host in ["Host: a b\r\n", "Host: [::1\r\n", "Host: x\r\nHost: y\r\n"] {
        let head = format!("GET /echo HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
        let reply = exchange(&runner, &head, Duration::from_secs(10)).await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{host:?}: {reply}");
        assert!(reply.contains("application/problem+json"), "{reply}");
    }
    // The next invocation is the one after `before`: none of those reached it.
    assert_eq!(invocations(&runner).await, before + 1);
}

#[tokio::test]
async fn the_domain_name_is_the_runners_own_never_the_clients_host() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .get(runner.url("/echo"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["event"]["requestContext"]["domainName"],
        address(&runner)
    );
    let public = Runner::start(
        "functions.yaml",
        &["--public-url", "https://shop.example.com"],
    );
    let (_, body) = public.get_json("/v1/echo").await;
    assert_eq!(
        body["event"]["requestContext"]["domainName"],
        "shop.example.com"
    );
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_is_sent() {
    // A long body timeout: a runner that waited for the body would answer nothing
    // within the ten seconds this test listens.
    let runner = Runner::start("functions.yaml", &["--body-timeout", "60s"]);
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Content-Length: 8000000\r\n\r\n";
    let reply = exchange(&runner, head, Duration::from_secs(10)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
}

/// The runner's peak resident memory so far (VmHWM), in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Sends an 8 MB chunked JSON body of 0x01 bytes (six bytes each once escaped) and
/// returns the status line.
async fn send_control_characters(runner: &Runner) -> String {
    let mut stream = TcpStream::connect(address(runner)).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![1u8; 512 * 1024];
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        for _ in 0..16 {
            let size = format!("{:x}\r\n", chunk.len());
            if writer.write_all(size.as_bytes()).await.is_err()
                || writer.write_all(&chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut reply = vec![0u8; 256];
    let n = reader.read(&mut reply).await.unwrap_or(0);
    sender.abort();
    String::from_utf8_lossy(&reply[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn parallel_large_bodies_cannot_make_the_runner_hold_much_memory() {
    let runner = Runner::start("functions.yaml", &["--body-memory-mib", "16"]);
    let _ = runner.get_json("/echo").await;
    let pid = runner.pid();
    let before = peak_memory(pid);
    let sends = (0..16).map(|_| send_control_characters(&runner));
    let statuses = within(futures::future::join_all(sends)).await;
    for status in &statuses {
        assert!(status.starts_with("HTTP/1.1 413"), "{statuses:?}");
    }
    let grown = peak_memory(pid).saturating_sub(before);
    // 16 bodies held whole would be 96 MB, and their escaped events more; the body
    // budget keeps what is held at once near its 16 MiB.
    assert!(
        grown < 40 * 1024 * 1024,
        "the runner's peak memory grew by {} MB",
        grown / 1024 / 1024
    );
    let (status, _) = runner.get_json("/echo").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    // 100 connections in all, 64 per address (the default), and a header timeout
    // long enough that no idle connection is closed while the test runs.
    let runner = Runner::start(
        "functions.yaml",
        &["--max-connections", "100", "--header-timeout", "120s"],
    );
    let mut idle = Vec::new();
    for _ in 0..150 {
        match connect_from("127.0.0.2", &runner).await {
            Ok(stream) => idle.push(stream),
            Err(_) => break,
        }
    }
    // Another client is served at once (within the client's ten seconds, while the
    // idle connections would be held for two minutes).
    let response = tokio::time::timeout(Duration::from_secs(10), runner.get("/echo"))
        .await
        .expect("another client is served while one address holds idle connections");
    assert_eq!(response.status(), 200);
    // Past its share, the idle address's connections were closed.
    let probes = idle.iter_mut().map(|stream| async move {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    });
    let closed = futures::future::join_all(probes)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
    assert_eq!(
        closed,
        idle.len() - 64,
        "of {} idle connections",
        idle.len()
    );
}

#[tokio::test]
async fn another_process_cannot_take_an_instances_invocations() {
    let runner = Runner::start("functions.yaml", &[]);
    let (_, body) = runner.get_json("/echo").await;
    let api = body["env"]["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .to_owned();
    // This test process is not the instance: it asks for the next invocation.
    let mut thief = TcpStream::connect(&api).await.unwrap();
    let poll = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    thief.write_all(poll.as_bytes()).await.unwrap();
    let stolen = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), thief.read_to_end(&mut got)).await;
        got
    });
    for _ in 0..3 {
        let (status, _) = runner.get_json("/echo").await;
        assert_eq!(status, 200);
    }
    let stolen = stolen.await.unwrap();
    assert!(
        stolen.is_empty(),
        "another process got an answer from the Runtime API: {}",
        String::from_utf8_lossy(&stolen)
    );
    runner
        .log_line("refused a Runtime API connection from a process that is not the instance")
        .await;
}

#[tokio::test]
async fn a_panicking_lambda_http_style_error_shows_no_type_names() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/echo?do=panic").await;
    let body = problem(response, 502).await;
    let text = body.to_string();
    for leak in ["alloc::", "Box<dyn", "core::any", "panicked", "/target/"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}
