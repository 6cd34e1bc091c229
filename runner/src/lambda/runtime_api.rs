//! The Lambda Runtime API (2018-06-01) that one instance polls: `next` as a long poll,
//! `response`, `error` and `init/error`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::invocation::{Current, Invocation, MAX_RESPONSE_BYTES, Outcome, Phase};
use super::stream::{self, MAX_STREAM_BYTES};
use super::wire::{BadHead, Conn, Head};
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
            converse(Conn::new(stream), &channel).await;
        });
    }
}

/// Serves one connection's requests in turn until either side ends it.
async fn converse(mut conn: Conn, channel: &Channel) {
    loop {
        let head = match conn.head().await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(bad) => {
                let (status, body) = match bad {
                    BadHead::TooLarge => (
                        431,
                        r#"{"errorType":"RequestHeaderFieldsTooLarge","errorMessage":"request head too large"}"#,
                    ),
                    BadHead::Malformed => (
                        400,
                        r#"{"errorType":"InvalidRequest","errorMessage":"malformed request"}"#,
                    ),
                };
                conn.close_after_answer();
                let _ = conn.answer(status, &[], body.as_bytes()).await;
                return;
            }
        };
        let keep = match handle(channel, &head, &mut conn).await {
            Answer::Gone => false,
            Answer::Fixed(status, body) => conn.answer(status, &[], body.as_bytes()).await,
            Answer::Next(job) => {
                let deadline = job.deadline_ms.to_string();
                let headers = [
                    ("lambda-runtime-aws-request-id", job.request_id.as_str()),
                    ("lambda-runtime-deadline-ms", deadline.as_str()),
                    ("lambda-runtime-invoked-function-arn", &*job.arn),
                    ("lambda-runtime-trace-id", job.trace_id.as_str()),
                ];
                let event = job.event;
                *channel.current.lock().expect("lock") = Some(Current {
                    request_id: job.request_id.clone(),
                    reply: job.reply,
                });
                conn.answer(200, &headers, &event).await
            }
        };
        if !keep {
            return;
        }
    }
}

/// What the Runtime API answers a request.
enum Answer {
    /// A status and a fixed JSON body.
    Fixed(u16, &'static str),
    /// The invocation `next` hands out.
    Next(Invocation),
    /// None: the client is gone.
    Gone,
}

const ACCEPTED: Answer = Answer::Fixed(202, r#"{"status":"OK"}"#);
const NOT_FOUND: Answer = Answer::Fixed(
    404,
    r#"{"errorType":"NotFound","errorMessage":"unknown path"}"#,
);

async fn handle(channel: &Channel, head: &Head, conn: &mut Conn) -> Answer {
    let Some(rest) = head.path.strip_prefix("/2018-06-01/runtime/") else {
        return NOT_FOUND;
    };
    match (head.method.as_str(), rest) {
        // A client that gives up on its poll must not take the next invocation
        // with it: the poll ends when its connection does.
        ("GET", "invocation/next") => tokio::select! {
            answer = next(channel) => answer,
            () = conn.closed() => Answer::Gone,
        },
        ("POST", "init/error") => init_error(channel, head, conn).await,
        ("POST", rest) => {
            // An unknown action must not touch the invocation in progress.
            let Some((id, kind)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.split_once('/'))
                .filter(|(_, kind)| matches!(*kind, "response" | "error"))
            else {
                return NOT_FOUND;
            };
            let tx = match take_current(channel, id) {
                Ok(Current { reply: tx, .. }) => tx,
                Err(status) => return out_of_turn(status),
            };
            post_result(tx, kind, head, conn).await
        }
        _ => Answer::Fixed(
            405,
            r#"{"errorType":"MethodNotAllowed","errorMessage":"method not allowed"}"#,
        ),
    }
}

/// `init/error`: accepted once, before the first `next`.
async fn init_error(channel: &Channel, head: &Head, conn: &mut Conn) -> Answer {
    let (error_type, message) = error_body(head, conn).await;
    let starting = channel.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::InitFailed(format!("{error_type}: {message}"));
        }
        starting
    });
    if starting {
        ACCEPTED
    } else {
        Answer::Fixed(
            403,
            r#"{"errorType":"InvalidStateTransition","errorMessage":"init/error is accepted once, before the first next"}"#,
        )
    }
}

/// The invocation in progress, if `id` names it. As in Lambda's own Runtime API,
/// the state is checked before the id: with no invocation in progress (none yet,
/// or this one already answered) it is 403, with another one in progress 400.
fn take_current(channel: &Channel, id: &str) -> Result<Current, u16> {
    let mut current = channel.current.lock().expect("lock");
    match current.take() {
        None => Err(403),
        Some(other) if other.request_id != id => {
            *current = Some(other);
            Err(400)
        }
        Some(this) => Ok(this),
    }
}

/// The Runtime API's answer to a result posted out of turn.
fn out_of_turn(status: u16) -> Answer {
    let body = if status == 403 {
        r#"{"errorType":"InvalidStateTransition","errorMessage":"no invocation in progress"}"#
    } else {
        r#"{"errorType":"InvalidRequestID","errorMessage":"not the invocation in progress"}"#
    };
    Answer::Fixed(status, body)
}

/// `invocation/{id}/response` or `…/error`: hands the outcome to the caller.
async fn post_result(
    tx: oneshot::Sender<Outcome>,
    kind: &str,
    head: &Head,
    conn: &mut Conn,
) -> Answer {
    let outcome = match kind {
        // Handed on at once, then relayed as it arrives.
        "response" if head.streaming => return relay(tx, head, conn).await,
        "response" => match response_body(conn).await {
            Ok(body) => Outcome::Response(body),
            Err(outcome) => {
                let too_large = matches!(outcome, Outcome::TooLarge);
                let _ = tx.send(outcome);
                return if too_large {
                    Answer::Fixed(
                        413,
                        r#"{"errorType":"RequestEntityTooLarge","errorMessage":"response exceeds 6 MB"}"#,
                    )
                } else {
                    Answer::Fixed(
                        400,
                        r#"{"errorType":"InvalidResponse","errorMessage":"the response body was cut short"}"#,
                    )
                };
            }
        },
        // "error", the only other action let through.
        _ => {
            let (error_type, message) = error_body(head, conn).await;
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
    ACCEPTED
}

/// A streamed `/response`: its caller gets the stream at once and its bytes
/// as they arrive (see [`stream::relay`]).
async fn relay(tx: oneshot::Sender<Outcome>, head: &Head, conn: &mut Conn) -> Answer {
    let (relay, streamed) = stream::channel(head.content_type.clone());
    let _ = tx.send(Outcome::Streamed(streamed));
    let read = conn.relay(&relay.chunks, MAX_STREAM_BYTES).await;
    let too_large = matches!(read, Err(body::Read::TooLarge));
    let broken = matches!(read, Err(body::Read::Broken));
    relay.end(read);
    if too_large {
        Answer::Fixed(
            413,
            r#"{"errorType":"RequestEntityTooLarge","errorMessage":"streamed response exceeds 200 MB"}"#,
        )
    } else if broken {
        Answer::Gone
    } else {
        ACCEPTED
    }
}

/// The long poll: answers when the pool hands this instance an invocation.
async fn next(channel: &Channel) -> Answer {
    channel.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::Ready;
        }
        starting
    });
    match channel.jobs.lock().await.recv().await {
        Some(job) => Answer::Next(job),
        None => Answer::Fixed(
            410,
            r#"{"errorType":"ShuttingDown","errorMessage":"instance stopping"}"#,
        ),
    }
}

/// A `/response` body, or why there is none. An oversized one is still read (see
/// [`body::DRAIN_LIMIT`]) so that the function's client gets the 413 on a healthy
/// connection, as on Lambda, and can poll again.
async fn response_body(conn: &mut Conn) -> Result<Bytes, Outcome> {
    if conn.declared_over(body::DRAIN_LIMIT) {
        return Err(Outcome::TooLarge);
    }
    match conn.body(MAX_RESPONSE_BYTES, body::DRAIN_LIMIT).await {
        body::Read::Complete(bytes) => Ok(bytes),
        body::Read::TooLarge => Err(Outcome::TooLarge),
        body::Read::Broken => Err(Outcome::Incomplete),
    }
}

/// `errorType` and `errorMessage` from an `/error` body, or the error-type header.
async fn error_body(head: &Head, conn: &mut Conn) -> (String, String) {
    let body = match conn.body(1024 * 1024, body::DRAIN_LIMIT).await {
        body::Read::Complete(bytes) => bytes,
        _ => Bytes::new(),
    };
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let error_type = parsed["errorType"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| head.error_type.clone())
        .unwrap_or_else(|| "Unknown".into());
    let message = parsed["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (error_type, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A connection to a Runtime API conversation on `channel`, as the instance's.
    async fn connect(channel: &Arc<Channel>) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let channel = channel.clone();
        tokio::spawn(async move { converse(Conn::new(server), &channel).await });
        client
    }

    #[tokio::test]
    async fn a_poll_whose_client_left_does_not_take_the_next_invocation() {
        let (jobs, inbox) = mpsc::channel(1);
        let channel = Channel::new(inbox);
        let next = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n";
        // A poll that gives up: sent, then the connection closed.
        let mut quitter = connect(&channel).await;
        quitter.write_all(next).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(quitter);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (reply, _outcome) = oneshot::channel();
        jobs.send(Invocation {
            request_id: "r-1".into(),
            event: Bytes::from_static(b"{\"n\":1}"),
            deadline_ms: 1,
            arn: Arc::from("arn"),
            trace_id: "t".into(),
            reply,
        })
        .await
        .unwrap();
        // The next poll gets it.
        let mut poller = connect(&channel).await;
        poller.write_all(next).await.unwrap();
        let mut answer = vec![0; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), poller.read(&mut answer))
            .await
            .expect("the invocation reaches the poll still open")
            .unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("lambda-runtime-aws-request-id: r-1\r\n"),
            "{text}"
        );
        assert!(text.ends_with("{\"n\":1}"), "{text}");
    }
}
