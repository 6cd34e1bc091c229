//! Reading a body with a size limit, as both the public side and the Runtime API do.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Bodies over the limit but up to this size are read and thrown away, so that the
/// sender, still sending, gets the refusal on a healthy connection rather than a
/// reset one. A body declared or found larger is refused without reading further,
/// which closes the connection.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// How reading a body ended.
#[derive(Debug)]
pub enum Read {
    Complete(Bytes),
    /// Over the limit (read to its end if it stayed within [`DRAIN_LIMIT`]).
    TooLarge,
    /// The sender broke off before the end.
    Broken,
}

/// The `Content-Length` a request announces, if it is a number.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Whether a body announced as this long is refused without reading it.
pub fn refused_unread(headers: &HeaderMap) -> bool {
    declared_length(headers).is_some_and(|n| n > DRAIN_LIMIT as u64)
}

/// Reads `body` whole if it holds at most `limit` bytes.
pub async fn read(mut body: Incoming, limit: usize) -> Read {
    let mut collected = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return if seen > limit {
                Read::TooLarge
            } else {
                Read::Broken
            };
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= limit {
                collected.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                return Read::TooLarge;
            }
        }
    }
    if seen > limit {
        Read::TooLarge
    } else {
        Read::Complete(collected.freeze())
    }
}
