//! The Lambda Runtime API (2018-06-01) that one instance polls: `next` as a long poll,
//! `response`, `error` and `init/error`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::invocation::{Current, Invocation, MAX_RESPONSE_BYTES, Outcome, Phase};
use crate::body;

/// State shared by an instance and its Runtime API server.
#[derive(Debug)]
pub(crate) struct Channel {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<Current>>,
    pub phase: watch::Sender<Phase>,
    /// The instance's process id once it is started: only its process group may use
    /// this Runtime API.
    pub owner: watch::Sender<Option<u32>>,
}

impl Channel {
    pub(crate) fn new(jobs: mpsc::Receiver<Invocation>) -> Arc<Channel> {
        Arc::new(Channel {
            jobs: tokio::sync::Mutex::new(jobs),
            current: Mutex::new(None),
            phase: watch::Sender::new(Phase::Starting),
            owner: watch::Sender::new(None),
        })
    }

    /// Whether the connection from `peer` comes from the instance (see
    /// [`crate::lambda::peer`]). Where that cannot be told (no `/proc`: not Linux),
    /// every local process is believed.
    async fn is_the_instance(&self, peer: SocketAddr, local: SocketAddr) -> bool {
        let mut owner = self.owner.subscribe();
        let started = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            owner.wait_for(Option::is_some),
        )
        .await;
        let Ok(Ok(pid)) = started.map(|r| r.map(|pid| *pid)) else {
            return false;
        };
        let Some(pid) = pid else {
            return false;
        };
        // Reading /proc blocks: keep it off the threads serving requests.
        let held = tokio::task::spawn_blocking(move || {
            crate::lambda::peer::held_by_group(pid, peer, local)
        })
        .await;
        matches!(held, Ok(None | Some(true)))
    }
}

/// Serves the Runtime API for one instance on `listener` until the task is aborted.
/// A connection from any process other than the instance (or one it started) is
/// closed unanswered.
pub(crate) async fn serve(listener: TcpListener, channel: Arc<Channel>) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    loop {
        let (stream, peer) = crate::net::accept(&listener).await;
        let channel = channel.clone();
        tokio::spawn(async move {
            if !channel.is_the_instance(peer, local).await {
                tracing::warn!(%peer, "refused a Runtime API connection from a process that is not the instance");
                return;
            }
            let service = service_fn(move |req| handle(channel.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found() -> Response<Full<Bytes>> {
    reply(
        StatusCode::NOT_FOUND,
        r#"{"errorType":"NotFound","errorMessage":"unknown path"}"#,
    )
}

fn accepted() -> Response<Full<Bytes>> {
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

async fn handle(
    channel: Arc<Channel>,
    req: http::Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(not_found());
    };
    match (req.method(), rest) {
        (&Method::GET, "invocation/next") => Ok(next(&channel).await),
        (&Method::POST, "init/error") => Ok(init_error(&channel, req).await),
        (&Method::POST, rest) => {
            // An unknown action must not touch the invocation in progress.
            let Some((id, kind)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.split_once('/'))
                .filter(|(_, kind)| matches!(*kind, "response" | "error"))
            else {
                return Ok(not_found());
            };
            let tx = match take_current(&channel, id) {
                Ok(Current { reply: tx, .. }) => tx,
                Err(status) => return Ok(out_of_turn(status)),
            };
            Ok(post_result(tx, kind, req).await)
        }
        _ => Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"errorType":"MethodNotAllowed","errorMessage":"method not allowed"}"#,
        )),
    }
}

/// `init/error`: accepted once, before the first `next`.
async fn init_error(channel: &Channel, req: http::Request<Incoming>) -> Response<Full<Bytes>> {
    let (error_type, message) = error_body(req).await;
    let starting = channel.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::InitFailed(format!("{error_type}: {message}"));
        }
        starting
    });
    if starting {
        accepted()
    } else {
        reply(
            StatusCode::FORBIDDEN,
            r#"{"errorType":"InvalidStateTransition","errorMessage":"init/error is accepted once, before the first next"}"#,
        )
    }
}

/// The invocation in progress, if `id` names it. As in Lambda's own Runtime API,
/// the state is checked before the id: with no invocation in progress (none yet,
/// or this one already answered) it is 403, with another one in progress 400.
fn take_current(channel: &Channel, id: &str) -> Result<Current, StatusCode> {
    let mut current = channel.current.lock().expect("lock");
    match current.take() {
        None => Err(StatusCode::FORBIDDEN),
        Some(other) if other.request_id != id => {
            *current = Some(other);
            Err(StatusCode::BAD_REQUEST)
        }
        Some(this) => Ok(this),
    }
}

/// The Runtime API's answer to a result posted out of turn.
fn out_of_turn(status: StatusCode) -> Response<Full<Bytes>> {
    let body = if status == StatusCode::FORBIDDEN {
        r#"{"errorType":"InvalidStateTransition","errorMessage":"no invocation in progress"}"#
    } else {
        r#"{"errorType":"InvalidRequestID","errorMessage":"not the invocation in progress"}"#
    };
    reply(status, body)
}

/// `invocation/{id}/response` or `…/error`: hands the outcome to the caller.
async fn post_result(
    tx: oneshot::Sender<Outcome>,
    kind: &str,
    req: http::Request<Incoming>,
) -> Response<Full<Bytes>> {
    let streaming = req
        .headers()
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
    let outcome = match kind {
        // Named at once, however long the stream lasts; the rest is drained.
        "response" if streaming => {
            let _ = tx.send(Outcome::Streamed);
            let _ = body::read(&mut req.into_body(), 0, body::DRAIN_LIMIT, None).await;
            return accepted();
        }
        "response" => match response_body(req).await {
            Ok(body) => Outcome::Response(body),
            Err(outcome) => {
                let too_large = matches!(outcome, Outcome::TooLarge);
                let _ = tx.send(outcome);
                return if too_large {
                    reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        r#"{"errorType":"RequestEntityTooLarge","errorMessage":"response exceeds 6 MB"}"#,
                    )
                } else {
                    reply(
                        StatusCode::BAD_REQUEST,
                        r#"{"errorType":"InvalidResponse","errorMessage":"the response body was cut short"}"#,
                    )
                };
            }
        },
        // "error", the only other action let through.
        _ => {
            let (error_type, message) = error_body(req).await;
            Outcome::Error {
                error_type,
                message,
            }
        }
    };
    let _ = tx.send(outcome);
    // The acknowledgement goes out first, on purpose: the function's next poll
    // then races the caller's response instead of following it, which keeps it
    // off the critical path of the caller's next request.
    accepted()
}

/// The long poll: answers when the pool hands this instance an invocation.
async fn next(channel: &Channel) -> Response<Full<Bytes>> {
    channel.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::Ready;
        }
        starting
    });
    let job = channel.jobs.lock().await.recv().await;
    let Some(job) = job else {
        return reply(
            StatusCode::GONE,
            r#"{"errorType":"ShuttingDown","errorMessage":"instance stopping"}"#,
        );
    };
    let mut response = Response::new(Full::new(job.event));
    let headers = response.headers_mut();
    let value =
        |s: &str| http::HeaderValue::from_str(s).unwrap_or(http::HeaderValue::from_static(""));
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert("lambda-runtime-aws-request-id", value(&job.request_id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        http::HeaderValue::from(job.deadline_ms),
    );
    headers.insert("lambda-runtime-invoked-function-arn", value(&job.arn));
    headers.insert("lambda-runtime-trace-id", value(&job.trace_id));
    *channel.current.lock().expect("lock") = Some(Current {
        request_id: job.request_id,
        reply: job.reply,
    });
    response
}

/// A `/response` body, or why there is none. An oversized one is still read (see
/// [`body::DRAIN_LIMIT`]) so that the function's client gets the 413 on a healthy
/// connection, as on Lambda, and can poll again.
async fn response_body(req: http::Request<Incoming>) -> Result<Bytes, Outcome> {
    if body::refused_unread(req.headers(), body::DRAIN_LIMIT) {
        return Err(Outcome::TooLarge);
    }
    let (read, _) = body::read(
        &mut req.into_body(),
        MAX_RESPONSE_BYTES,
        body::DRAIN_LIMIT,
        None,
    )
    .await;
    match read {
        body::Read::Complete(bytes) => Ok(bytes),
        body::Read::TooLarge => Err(Outcome::TooLarge),
        body::Read::Broken => Err(Outcome::Incomplete),
    }
}

/// `errorType` and `errorMessage` from an `/error` body, or the error-type header.
async fn error_body(req: http::Request<Incoming>) -> (String, String) {
    let header_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(req.into_body(), 1024 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let error_type = parsed["errorType"]
        .as_str()
        .map(str::to_owned)
        .or(header_type)
        .unwrap_or_else(|| "Unknown".into());
    let message = parsed["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (error_type, message)
}
