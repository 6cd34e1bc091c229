//! The runner's own answers (404, 405 with Allow, 413, all as problem+json) and its
//! limits on clients.

mod common;

use std::time::Duration;

use common::{Runner, problem, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/nowhere").await;
    let request_id = response.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = problem(response, 404).await;
    assert_eq!(body["requestId"], request_id.as_str());
}

#[tokio::test]
async fn a_known_path_with_another_method_is_a_405_listing_the_allowed_ones() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .delete(runner.url("/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    problem(response, 405).await;
}

#[tokio::test]
async fn a_body_over_6_mb_is_a_413() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = vec![b'a'; 6 * 1024 * 1024 + 1];
    let response = runner
        .client
        .post(runner.url("/echo"))
        .body(body)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
}

#[tokio::test]
async fn the_problem_type_prefix_can_be_chosen() {
    let runner = Runner::start(
        "functions.yaml",
        &["--problem-type-base", "https://example.invalid/p/"],
    );
    let body = problem(runner.get("/nowhere").await, 404).await;
    assert_eq!(body["type"], "https://example.invalid/p/not-found");
}

#[tokio::test]
async fn aws_error_bodies_are_api_gateways_messages() {
    let runner = Runner::start("functions.yaml", &["--aws-error-bodies"]);
    let answer = runner.get("/nowhere").await;
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert!(answer.headers().get("apigw-requestid").is_some());
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"message": "Not Found"}));
    let failed = runner.get("/echo?do=error").await;
    assert_eq!(failed.status(), 502);
    let body: serde_json::Value = failed.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": "Internal Server Error"})
    );
}

#[tokio::test]
async fn a_body_whose_event_exceeds_6_mb_is_a_413() {
    // 5 MB of binary is under the limit itself, but base64 makes its event 6.7 MB.
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .post(runner.url("/echo"))
        .header("content-type", "application/octet-stream")
        .body(vec![0xffu8; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let body = problem(response, 413).await;
    assert!(common::detail(&body).contains("event"), "{body}");
}

/// Sends `request` on a new connection and returns everything the runner sends back
/// before closing it.
async fn raw_exchange(runner: &Runner, request: &str) -> String {
    let address = runner.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    within(stream.read_to_end(&mut reply)).await.unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_body_declared_far_too_large_is_refused_without_being_read() {
    let runner = Runner::start("functions.yaml", &[]);
    // 100 MB announced, none sent: the answer cannot have waited for the body.
    let reply = raw_exchange(
        &runner,
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("application/problem+json"), "{reply}");
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_headers_is_disconnected() {
    let runner = Runner::start("functions.yaml", &["--header-timeout", "300ms"]);
    // Headers never finished: the runner closes the connection rather than wait.
    // (The bound tells the 300 ms asked for from the 30 s default.)
    let started = std::time::Instant::now();
    let reply = raw_exchange(&runner, "GET /echo HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed only after {:?}",
        started.elapsed()
    );
    assert!(!reply.contains("200 OK"), "{reply}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    let runner = Runner::start("functions.yaml", &["--body-timeout", "300ms"]);
    let reply = raw_exchange(
        &runner,
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("request-timeout"), "{reply}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let runner = Runner::start("functions.yaml", &["--max-connections", "1"]);
    let address = runner.base.trim_start_matches("http://").to_owned();
    let first = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Give the runner time to accept the first connection before the second arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = tokio::net::TcpStream::connect(&address).await.unwrap();
    // A 404 needs no function, so a server ignoring the cap would answer at once.
    second
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(500), second.read_to_end(&mut reply)).await;
    assert!(early.is_err(), "served past the connection cap");
    drop(first);
    within(second.read_to_end(&mut reply)).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_after_the_write_timeout() {
    let runner = Runner::start(
        "functions.yaml",
        &["--max-connections", "1", "--write-timeout", "300ms"],
    );
    let address: std::net::SocketAddr = runner.base.trim_start_matches("http://").parse().unwrap();
    // A small receive window, and a 5 MB answer that outgrows every kernel buffer
    // between the two ends, so the runner's write stalls.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(address).await.unwrap();
    stalled
        .write_all(b"GET /roomy?do=big&bytes=5000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // The only connection slot is the stalled client's until the runner gives up on
    // it; a 404 needs no function, so it comes as soon as the slot is free.
    let mut second = tokio::net::TcpStream::connect(address).await.unwrap();
    second
        .write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    within(second.read_to_end(&mut reply)).await.unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 404"));
    // The stalled client's connection was cut, short of the whole answer.
    let mut taken = Vec::new();
    let _ = within(stalled.read_to_end(&mut taken)).await;
    assert!(taken.len() < 5_000_000, "{} bytes arrived", taken.len());
}
