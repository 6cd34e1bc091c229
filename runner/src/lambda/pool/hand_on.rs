//! A streamed response: handed on as it comes while its instance stays busy,
//! or gathered whole for a caller that wants one answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::{Admission, Invoked, Pool};
use crate::lambda::instance::{Fault, Instance};
use crate::lambda::invocation::{MAX_RESPONSE_BYTES, Outcome};
use crate::lambda::report::{Report, Status};
use crate::lambda::stream::{Chunk, StreamEnd, Streamed};

impl Pool {
    /// Hands a streamed response on, and keeps its instance (and the pool's
    /// place) busy until the stream ends; then reports the invocation.
    pub(super) fn hand_on(
        self: &Arc<Self>,
        mut instance: Instance,
        streamed: Streamed,
        permit: Admission,
        (request_id, began, init): (String, Instant, Option<Duration>),
    ) -> Invoked {
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            let _permit = permit;
            let ended = instance.stream_ended().await;
            let figures = Report {
                request_id: &request_id,
                duration: began.elapsed(),
                memory_size_mb: pool.runtime.memory_mb,
                max_memory_used_mb: instance.max_memory_mb(),
                init,
                status: Fault::stream_status(&ended),
            };
            pool.reported(&figures, false);
            let status = figures.status;
            match ended {
                Ok(StreamEnd::Complete) => {}
                Ok(end) => {
                    tracing::warn!(function = %pool.runtime.name, %request_id, ?end, "the streamed response did not end whole");
                }
                Err(fault) => {
                    tracing::warn!(function = %pool.runtime.name, %request_id, ?fault, "the streamed response was cut off");
                }
            }
            if matches!(status, Status::Success | Status::Error) && instance.is_alive() {
                pool.idle.lock().expect("lock").push(instance);
            }
        });
        Invoked {
            result: Ok(Outcome::Streamed(streamed)),
            init,
            log: None,
            ran: None,
            report: None,
        }
    }
}

/// The whole stream as one buffered outcome, within the invocation's deadline,
/// as Lambda's `Invoke` gives a streaming function's answer: its bytes (within
/// [`MAX_RESPONSE_BYTES`]), or the error it ended with. The instance stays
/// busy until the upload ends, even past what is kept.
pub(super) async fn collect(instance: &mut Instance, streamed: Streamed) -> Result<Outcome, Fault> {
    let gathered = match instance.stream_deadline() {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), gather(streamed)).await,
        None => Ok(gather(streamed).await),
    };
    let ended = instance.stream_ended().await;
    match (gathered, ended) {
        (_, Err(fault)) => Err(fault),
        (Err(_), Ok(_)) => Err(Fault::Timeout),
        (Ok(outcome), Ok(_)) => Ok(outcome),
    }
}

async fn gather(mut streamed: Streamed) -> Outcome {
    let mut body = BytesMut::new();
    while let Some(chunk) = streamed.chunks.recv().await {
        match chunk {
            Chunk::Data(bytes) => {
                if body.len() + bytes.len() > MAX_RESPONSE_BYTES {
                    return Outcome::TooLarge;
                }
                body.extend_from_slice(&bytes);
            }
            Chunk::End => return Outcome::Response(body.freeze()),
            Chunk::Failed {
                error_type,
                message,
            } => {
                return Outcome::Error {
                    error_type,
                    message,
                };
            }
        }
    }
    Outcome::Incomplete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::stream::channel;
    use bytes::Bytes;

    #[tokio::test]
    async fn a_collected_stream_is_its_bytes_or_how_it_failed() {
        let (relay, streamed) = channel(None);
        tokio::spawn(async move {
            for part in [&b"ab"[..], b"cd"] {
                relay
                    .chunks
                    .send(Chunk::Data(Bytes::from_static(part)))
                    .await
                    .unwrap();
            }
            relay.chunks.send(Chunk::End).await.unwrap();
        });
        assert!(matches!(gather(streamed).await, Outcome::Response(b) if b == "abcd"));

        let (relay, streamed) = channel(None);
        tokio::spawn(async move {
            let failed = Chunk::Failed {
                error_type: "E".into(),
                message: "m".into(),
            };
            relay.chunks.send(failed).await.unwrap();
        });
        assert!(
            matches!(gather(streamed).await, Outcome::Error { error_type, .. } if error_type == "E")
        );

        // Cut short: the sender went without saying the stream ended.
        let (relay, streamed) = channel(None);
        drop(relay);
        assert!(matches!(gather(streamed).await, Outcome::Incomplete));
    }
}
