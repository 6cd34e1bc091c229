//! The benchmark's minimal runner: the least a runner can be, built from the
//! same parts as the real one (a hyper HTTP/1.1 front, tokio, a Runtime API per
//! instance). Every request hands the same event to the next free instance and
//! answers the function's result as it is: no routing, no event to build, no
//! result to translate, no pool limits, queue, timeouts or logging.
//!
//! Usage: `bench-minimal BINARY EVENT_FILE INSTANCES PORT`. It serves until it
//! is killed; `scripts/bench-runner` drives it with the same wrk as the runner,
//! so the two are compared on equal terms.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

// Only the request reader: the minimal runner measures nothing itself.
#[allow(dead_code)]
mod shared;
use shared::{read_request, start_function};

/// One request's event, and where its result goes.
type Job = oneshot::Sender<Bytes>;

/// The queue every instance takes its next job from.
type Jobs = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>;

fn fail(reason: String) {
    eprintln!("bench-minimal: {reason}");
    std::process::exit(1);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, event_file, instances, port] = args.as_slice() else {
        bail!("usage: bench-minimal BINARY EVENT_FILE INSTANCES PORT");
    };
    let event: Arc<[u8]> = std::fs::read(event_file)
        .with_context(|| format!("reading {event_file}"))?
        .into();
    let instances: usize = instances.parse().context("INSTANCES")?;
    let (submit, queue) = mpsc::unbounded_channel::<Job>();
    let jobs: Jobs = Arc::new(tokio::sync::Mutex::new(queue));
    let mut children = Vec::new();
    for _ in 0..instances {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        tokio::spawn(runtime_api(listener, event.clone(), jobs.clone()));
        let child = start_function(binary, address)?;
        children.push(child);
    }
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().context("PORT")?)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let submit = submit.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let submit = submit.clone();
                async move {
                    let (reply, result) = oneshot::channel();
                    let _ = submit.send(reply);
                    let body = result.await.unwrap_or_default();
                    Ok::<_, Infallible>(Response::new(Full::new(body)))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One instance's Runtime API: `next` waits for a job and answers the event;
/// the result goes back to the job's caller.
async fn runtime_api(listener: TcpListener, event: Arc<[u8]>, jobs: Jobs) {
    let current: Arc<Mutex<Option<Job>>> = Arc::default();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            event.clone(),
            jobs.clone(),
            current.clone(),
        ));
    }
}

async fn connection(
    mut stream: TcpStream,
    event: Arc<[u8]>,
    jobs: Jobs,
    current: Arc<Mutex<Option<Job>>>,
) {
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut reply = Vec::with_capacity(event.len() + 512);
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut buffer, fail).await else {
            return;
        };
        let line = head.lines().next().unwrap_or_default().to_owned();
        reply.clear();
        if line.starts_with("GET ") && line.contains("/invocation/next ") {
            buffer.drain(..body.end);
            let Some(job) = jobs.lock().await.recv().await else {
                return;
            };
            *current.lock().expect("lock") = Some(job);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: {}\r\n\
                 lambda-runtime-deadline-ms: {}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:Echo\r\n\
                 lambda-runtime-trace-id: {}\r\n\
                 content-length: {}\r\n\r\n",
                runner::ids::request_id(),
                now.as_millis() + 10_000,
                runner::ids::trace_id(SystemTime::now()),
                event.len()
            );
            reply.extend_from_slice(head.as_bytes());
            reply.extend_from_slice(&event);
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        } else if line.starts_with("POST ") && line.contains("/response ") {
            let result = Bytes::copy_from_slice(&buffer[body.clone()]);
            buffer.drain(..body.end);
            if let Some(job) = current.lock().expect("lock").take() {
                let _ = job.send(result);
            }
            let ok = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"OK\"}";
            if stream.write_all(ok).await.is_err() {
                return;
            }
        } else {
            fail(format!("the function sent {line:?}"));
            return;
        }
    }
}
