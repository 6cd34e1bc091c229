//! The body the gateway answers with: whole, or a function URL's response
//! streamed as the function writes it (`InvokeMode: RESPONSE_STREAM`), its
//! status and headers taken from the stream's prelude.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

use super::problem::Problem;
use super::response;
use crate::lambda::stream::{Chunk, Streamed};

/// The content type of a stream that opens with a prelude: its status and
/// headers as JSON, then eight NUL bytes, then the body.
const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";
/// The longest prelude taken.
const MAX_PRELUDE: usize = 16 * 1024;
const DELIMITER: [u8; 8] = [0; 8];

/// A response body.
#[derive(Debug)]
pub(super) enum ReplyBody {
    Whole(Option<Bytes>),
    /// Bytes already read (after a prelude), then the rest as it comes.
    Stream {
        first: Option<Bytes>,
        chunks: mpsc::Receiver<Chunk>,
    },
}

impl From<Bytes> for ReplyBody {
    fn from(bytes: Bytes) -> ReplyBody {
        ReplyBody::Whole(Some(bytes))
    }
}

/// A stream that ended with an error or was cut short: the client's
/// connection is cut, so it cannot take the response for a whole one.
#[derive(Debug, thiserror::Error)]
#[error("the streamed response was cut short")]
pub(super) struct StreamCut;

impl hyper::body::Body for ReplyBody {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        let this = self.get_mut();
        let (first, chunks) = match this {
            ReplyBody::Whole(bytes) => {
                return Poll::Ready(
                    bytes
                        .take()
                        .filter(|b| !b.is_empty())
                        .map(|b| Ok(Frame::data(b))),
                );
            }
            ReplyBody::Stream { first, chunks } => (first, chunks),
        };
        if let Some(bytes) = first.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        loop {
            match ready!(chunks.poll_recv(cx)) {
                Some(Chunk::Data(bytes)) if bytes.is_empty() => {}
                Some(Chunk::Data(bytes)) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Some(Chunk::End) => {
                    *this = ReplyBody::Whole(None);
                    return Poll::Ready(None);
                }
                Some(Chunk::Failed { .. }) | None => return Poll::Ready(Some(Err(StreamCut))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Whole(None))
            || matches!(self, ReplyBody::Whole(Some(b)) if b.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Whole(None) => SizeHint::with_exact(0),
            ReplyBody::Whole(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            ReplyBody::Stream { .. } => SizeHint::default(),
        }
    }
}

/// Why a streamed response could not begin.
#[derive(Debug)]
pub(super) enum Unstreamable {
    /// The function reported an error before its first byte.
    Error { error_type: String, message: String },
    /// The stream's opening was not a response (the reason).
    Malformed(String),
    /// The function's timeout cut the stream before its prelude ended.
    TimedOut,
}

/// The problem a stream that could not begin is.
impl Unstreamable {
    pub(super) fn problem(
        self,
        function: &str,
        timeout: std::time::Duration,
        request_id: &str,
    ) -> Problem {
        match self {
            Unstreamable::Error {
                error_type,
                message,
            } => {
                tracing::warn!(function = %function, request_id = %request_id, %error_type, %message, "function returned an error");
                Problem::FunctionError {
                    function: function.to_owned(),
                }
            }
            Unstreamable::Malformed(reason) => Problem::BadResponse {
                function: function.to_owned(),
                reason,
            },
            Unstreamable::TimedOut => Problem::Timeout {
                function: function.to_owned(),
                timeout,
            },
        }
    }
}

fn too_long() -> Unstreamable {
    Unstreamable::Malformed(format!(
        "the stream's prelude is longer than {MAX_PRELUDE} bytes, or has no end"
    ))
}

/// The response for a stream: its prelude's status and headers when it has
/// one, else 200 with the content type the function gave; the body follows as
/// it comes.
pub(super) async fn response(streamed: Streamed) -> Result<Response<ReplyBody>, Unstreamable> {
    let Streamed {
        content_type,
        mut chunks,
        deadline,
        ..
    } = streamed;
    if content_type.as_deref() != Some(HTTP_INTEGRATION) {
        let mut response = Response::new(ReplyBody::Stream {
            first: None,
            chunks,
        });
        let value = content_type
            .and_then(|t| HeaderValue::from_str(&t).ok())
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        response.headers_mut().insert(CONTENT_TYPE, value);
        return Ok(response);
    }
    let mut opening = BytesMut::new();
    // Where the delimiter may begin that was not searched yet.
    let mut searched = 0;
    let split = loop {
        if let Some(at) = opening[searched..]
            .windows(DELIMITER.len())
            .position(|w| w == DELIMITER)
        {
            break searched + at;
        }
        searched = opening.len().saturating_sub(DELIMITER.len() - 1);
        if searched > MAX_PRELUDE {
            return Err(too_long());
        }
        match chunks.recv().await {
            Some(Chunk::Data(bytes)) => opening.extend_from_slice(&bytes),
            Some(Chunk::Failed {
                error_type,
                message,
            }) => {
                return Err(Unstreamable::Error {
                    error_type,
                    message,
                });
            }
            None if deadline.is_some_and(|d| std::time::Instant::now() >= d) => {
                return Err(Unstreamable::TimedOut);
            }
            Some(Chunk::End) | None => {
                return Err(Unstreamable::Malformed(
                    "the stream ended before its prelude did".into(),
                ));
            }
        }
    };
    if split > MAX_PRELUDE {
        return Err(too_long());
    }
    let head = response::prelude(&opening[..split]).map_err(|e| Unstreamable::Malformed(e.0))?;
    let rest = opening.split_off(split + DELIMITER.len()).freeze();
    let (mut parts, ()) = head.into_parts();
    if !parts.headers.contains_key(CONTENT_TYPE) {
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    let body = ReplyBody::Stream {
        first: (!rest.is_empty()).then_some(rest),
        chunks,
    };
    Ok(Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::stream::channel;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_prelude_makes_the_head_and_the_rest_is_the_body() {
        let (relay, streamed) = channel(Some(HTTP_INTEGRATION.into()));
        let prelude = br#"{"statusCode":201,"headers":{"x-a":["1","2"],"content-type":"text/plain"},"cookies":["c=1"]}"#;
        tokio::spawn(async move {
            let mut opening = prelude.to_vec();
            opening.extend_from_slice(&[0; 8]);
            opening.extend_from_slice(b"hel");
            for part in [opening, b"lo".to_vec()] {
                relay.chunks.send(Chunk::Data(part.into())).await.unwrap();
            }
            relay.chunks.send(Chunk::End).await.unwrap();
        });
        let answer = response(streamed).await.unwrap();
        assert_eq!(answer.status(), 201);
        let values: Vec<_> = answer.headers().get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(answer.headers()["set-cookie"], "c=1");
        assert_eq!(answer.headers()[CONTENT_TYPE], "text/plain");
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hello");
    }

    #[tokio::test]
    async fn a_stream_that_fails_is_cut_and_one_without_a_prelude_is_200() {
        let (relay, streamed) = channel(Some("text/event-stream".into()));
        tokio::spawn(async move {
            relay
                .chunks
                .send(Chunk::Data("data: 1\n\n".into()))
                .await
                .unwrap();
            let failed = Chunk::Failed {
                error_type: "E".into(),
                message: "m".into(),
            };
            relay.chunks.send(failed).await.unwrap();
        });
        let answer = response(streamed).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()[CONTENT_TYPE], "text/event-stream");
        assert!(answer.into_body().collect().await.is_err());

        // An error before the prelude is the function's error.
        let (relay, streamed) = channel(Some(HTTP_INTEGRATION.into()));
        drop(relay.chunks.try_send(Chunk::Failed {
            error_type: "E".into(),
            message: "m".into(),
        }));
        assert!(matches!(
            response(streamed).await,
            Err(Unstreamable::Error { .. })
        ));

        // A prelude over 16 KiB is refused even when it ends in the same piece.
        let (relay, streamed) = channel(Some(HTTP_INTEGRATION.into()));
        let mut long = br#"{"statusCode":200,"headers":{"x":""#.to_vec();
        long.extend(std::iter::repeat_n(b'a', 20 * 1024));
        long.extend_from_slice(br#""}}"#);
        long.extend_from_slice(&[0; 8]);
        relay.chunks.try_send(Chunk::Data(long.into())).unwrap();
        assert!(matches!(
            response(streamed).await,
            Err(Unstreamable::Malformed(_))
        ));

        // A prelude that never ends is no response.
        let (relay, streamed) = channel(Some(HTTP_INTEGRATION.into()));
        tokio::spawn(async move {
            for _ in 0..20 {
                let part = Chunk::Data(Bytes::from(vec![b'{'; 1024]));
                if relay.chunks.send(part).await.is_err() {
                    break;
                }
            }
        });
        assert!(matches!(
            response(streamed).await,
            Err(Unstreamable::Malformed(_))
        ));
    }
}
