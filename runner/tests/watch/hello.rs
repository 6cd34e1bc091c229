//! A function for the `--watch` test, with no dependencies so that it builds in
//! a moment: a small Lambda Runtime API client answering every invocation with
//! its greeting (from the `greeting` crate), the `SUFFIX` variable, and its
//! process id. An event whose query has `slow` takes 1.5 s; the greeting
//! `crash` makes it exit at start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    // A build that compiles but cannot start.
    if greeting::text() == "crash" {
        std::process::exit(3);
    }
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    loop {
        let (id, event) = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "");
        let id = id.expect("a request id");
        if event.contains("\"slow\"") {
            std::thread::sleep(Duration::from_millis(1500));
        }
        let body = format!(
            "{}{} {}",
            greeting::text(),
            std::env::var("SUFFIX").unwrap_or_default(),
            std::process::id()
        );
        let answer = format!(
            "{{\"statusCode\":200,\"headers\":{{\"content-type\":\"text/plain\"}},\"body\":\"{body}\"}}"
        );
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        call(&api, "POST", &path, &answer);
    }
}

/// One HTTP/1.1 exchange on its own connection: the request id header, if any,
/// and the body.
fn call(api: &str, method: &str, path: &str, body: &str) -> (Option<String>, String) {
    let mut stream = TcpStream::connect(api).expect("the Runtime API");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("a request");
    let mut reader = BufReader::new(stream);
    let mut id = None;
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.to_ascii_lowercase();
            if name == "lambda-runtime-aws-request-id" {
                id = Some(value.trim().to_owned());
            } else if name == "content-length" {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).expect("the body");
        }
        None => {
            reader.read_to_end(&mut body).expect("the body");
        }
    }
    (id, String::from_utf8_lossy(&body).into_owned())
}
