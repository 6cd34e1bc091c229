//! A streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`):
//! its bytes handed on as the function writes them, with backpressure, and how
//! the stream ended.

use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::body::Read;

/// Lambda's limit on a streamed response.
pub(crate) const MAX_STREAM_BYTES: usize = 200 * 1024 * 1024;

/// Pieces in flight between the function and the caller: past these, the
/// function's writes wait for the caller to read.
const IN_FLIGHT: usize = 8;

/// What the caller of a streaming invocation reads.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    /// The stream ended whole.
    End,
    /// The function reported an error after its first bytes (the error
    /// trailers), or the stream passed [`MAX_STREAM_BYTES`].
    Failed {
        error_type: String,
        message: String,
    },
}

/// How a stream ended, for the instance's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    Complete,
    /// With error trailers: the error's type.
    Failed(String),
    TooLarge,
    /// The upload broke off.
    Broken,
}

/// A streamed response as its caller gets it. A stream that stops without
/// [`Chunk::End`] or [`Chunk::Failed`] was cut short.
#[derive(Debug)]
pub struct Streamed {
    /// The `Content-Type` the function's upload declared.
    pub content_type: Option<String>,
    pub chunks: mpsc::Receiver<Chunk>,
    /// The invocation's deadline: a stream cut at it was cut by the timeout.
    pub deadline: Option<std::time::Instant>,
    /// Taken by the pool, which keeps the instance busy until the stream ends.
    pub(crate) ended: Option<oneshot::Receiver<StreamEnd>>,
}

/// The Runtime API's end of a stream.
pub(crate) struct Relay {
    pub(crate) chunks: mpsc::Sender<Chunk>,
    pub(crate) ended: oneshot::Sender<StreamEnd>,
}

/// A stream's two ends.
pub(crate) fn channel(content_type: Option<String>) -> (Relay, Streamed) {
    let (chunks_tx, chunks) = mpsc::channel(IN_FLIGHT);
    let (ended_tx, ended) = oneshot::channel();
    (
        Relay {
            chunks: chunks_tx,
            ended: ended_tx,
        },
        Streamed {
            content_type,
            chunks,
            deadline: None,
            ended: Some(ended),
        },
    )
}

impl Relay {
    /// Ends the stream as the upload ended: whole, with the error its trailers
    /// name (`Ok` with the error's type and base64 body), too large (past
    /// [`MAX_STREAM_BYTES`]: the upload is cut off), or broken off.
    pub(crate) fn end(self, read: Result<Option<(String, Option<String>)>, Read>) {
        let (last, end) = match read {
            Ok(None) => (Some(Chunk::End), StreamEnd::Complete),
            Ok(Some((error_type, body))) => {
                let message = body
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let end = StreamEnd::Failed(error_type.clone());
                let failed = Chunk::Failed {
                    error_type,
                    message,
                };
                (Some(failed), end)
            }
            Err(Read::TooLarge) => {
                let failed = Chunk::Failed {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    message: "the streamed response exceeds 200 MB".into(),
                };
                (Some(failed), StreamEnd::TooLarge)
            }
            Err(_) => (None, StreamEnd::Broken),
        };
        let _ = self.ended.send(end);
        // The function waits for its upload's answer: a caller slow to read
        // must not hold that back, so the last piece waits on its own.
        if let Some(last) = last
            && let Err(mpsc::error::TrySendError::Full(last)) = self.chunks.try_send(last)
        {
            let chunks = self.chunks;
            tokio::spawn(async move {
                let _ = chunks.send(last).await;
            });
        }
    }
}
