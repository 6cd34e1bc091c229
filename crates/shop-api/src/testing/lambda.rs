//! Runs a function binary as Lambda would: a process whose only contact is a
//! Runtime API (2018-06-01) endpoint, here a stub that hands out one event.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::serve_http1;

/// What the function reported for the one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// `POST …/invocation/{id}/response`: the API Gateway response object.
    Response(Value),
    /// `…/invocation/{id}/error` or `…/init/error`: a crash.
    Error(Value),
}

struct Stub {
    event: Mutex<Option<String>>,
    done: Mutex<Option<oneshot::Sender<Outcome>>>,
}

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// Starts `binary` with `env` against a stub Runtime API, gives it `event`,
/// and returns what it answered (or panics after 30 s).
pub async fn invoke(binary: &str, env: &[(&str, String)], event: &Value) -> Outcome {
    run(binary, env, event, false).await.0
}

/// [`invoke`], and what the process wrote (its log: stdout, then stderr).
pub async fn invoke_capturing(
    binary: &str,
    env: &[(&str, String)],
    event: &Value,
) -> (Outcome, String) {
    run(binary, env, event, true).await
}

async fn run(
    binary: &str,
    env: &[(&str, String)],
    event: &Value,
    capture: bool,
) -> (Outcome, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let (tx, rx) = oneshot::channel();
    let stub = Arc::new(Stub {
        event: Mutex::new(Some(event.to_string())),
        done: Mutex::new(Some(tx)),
    });
    let server = serve_http1(listener, move |request| handle(stub.clone(), request));
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Under scripts/coverage the binary must know where to write its profile.
        .envs(std::env::var("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "under-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "eu-west-1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(if capture {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("the function binary starts");
    // Read while it runs: a pipe that fills would stall it.
    let reader = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text).await;
            }
            text
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let outcome = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("the function answered within 30 s")
        .expect("the stub reported an outcome");
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    server.abort();
    let mut log = stdout.await.unwrap_or_default();
    log.push_str(&stderr.await.unwrap_or_default());
    (outcome, log)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn handle(
    stub: Arc<Stub>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, BoxError> {
    let path = request.uri().path().to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |status: u16| {
        hyper::Response::builder()
            .status(status)
            .body(Full::new(Bytes::new()))
            .expect("a response")
    };
    if path.ends_with("/invocation/next") {
        let Some(event) = stub.event.lock().expect("lock").take() else {
            // One invocation only: the connection is dropped, the runtime gives
            // up and the process exits normally (writing its coverage profile,
            // if any).
            return Err("the stub serves one invocation".into());
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_millis()
            + 10_000;
        let response = hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", REQUEST_ID)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:under-test",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            )
            .body(Full::new(Bytes::from(event)))
            .expect("a response");
        return Ok(response);
    }
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let outcome = if path.ends_with("/response") {
        Outcome::Response(parsed)
    } else {
        Outcome::Error(parsed)
    };
    if let Some(done) = stub.done.lock().expect("lock").take() {
        let _ = done.send(outcome);
    }
    Ok(reply(202))
}

impl Outcome {
    /// The HTTP status, parsed JSON body and headers of a successful invocation.
    pub fn http(self) -> (u16, Value, Value) {
        let Outcome::Response(response) = self else {
            panic!("the function crashed instead of answering: {self:?}");
        };
        let status = response["statusCode"].as_u64().expect("a statusCode") as u16;
        let body = response["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, body, response["headers"].clone())
    }
}

/// Starts `binary` with only `MONGODB_URI` (an unused address) and, if given,
/// `JWT_SECRET`, and waits for it to give up: for tests of start-up checks.
pub fn start_with_secret(binary: &str, secret: Option<&str>) -> std::process::Output {
    start_with(binary, "JWT_SECRET", secret)
}

/// Starts `binary` with only `MONGODB_URI` (an unused address) and, if given,
/// the variable `name` set to `value`, and waits for it to give up.
pub fn start_with(binary: &str, name: &str, value: Option<&str>) -> std::process::Output {
    let mut command = std::process::Command::new(binary);
    command
        .env_clear()
        .env("MONGODB_URI", "mongodb://127.0.0.1:9");
    // Under scripts/coverage the binary must know where to write its profile.
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    if let Some(value) = value {
        command.env(name, value);
    }
    command.output().expect("the function binary runs")
}

/// What a shop function needs in its environment to run against `db`,
/// signing tokens with the tests' secret.
pub fn shop_env(db: &super::mongo::TestDb) -> Vec<(&'static str, String)> {
    vec![
        ("MONGODB_URI", super::mongo::uri()),
        ("MONGODB_DATABASE", db.name().to_string()),
        ("JWT_SECRET", super::app::TEST_SECRET.to_string()),
        (
            "SERVICE_TOKEN_SECRET",
            super::app::TEST_SERVICE_SECRET.to_string(),
        ),
    ]
}
