//! Reading a body with a size limit, as both the public side and the Runtime API do,
//! and the memory the public side may hold in request bodies at once.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A function's response over its limit but up to this size is read and thrown
/// away, so that the function, still sending, gets the refusal on a healthy
/// connection rather than a reset one (as on Lambda), and can poll again. A body
/// declared or found larger is refused without reading further.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Bodies up to this size are read without drawing on the [`Budget`]: every API
/// call of an ordinary client, however many of them arrive at once.
pub const FREE_BYTES: usize = 64 * 1024;

/// How long a refused request's remaining body is read and thrown away after the
/// answer, at most, and how much of it: enough for a client still sending to read
/// the refusal before the connection closes (closing with its bytes unread would
/// reset the connection and lose the answer), without holding any of it.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the rest of a refused request's body in the background and throws it away
/// (see [`LINGER`] and [`DRAIN_LIMIT`]); the connection closes after it. A client
/// that asked `Expect: 100-continue` has sent nothing yet and is told to send
/// nothing: reading would invite the body.
pub fn linger(mut body: Incoming, headers: &HeaderMap) {
    if headers.contains_key(http::header::EXPECT) {
        return;
    }
    tokio::spawn(async move {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
                if seen > DRAIN_LIMIT {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}

/// How reading a body ended.
#[derive(Debug)]
pub enum Read {
    Complete(Bytes),
    /// Over the limit (read to its end if it stayed within the drain limit).
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

/// Whether a body announced as longer than `limit` is refused without reading it.
pub fn refused_unread(headers: &HeaderMap, limit: usize) -> bool {
    declared_length(headers).is_some_and(|n| n > limit as u64)
}

/// Memory for large request bodies, shared by every request. A body that grows past
/// [`FREE_BYTES`] takes, at once, all it may need: its declared length (the limit
/// when it declares none) plus the limit, for the event made from it, which can be
/// up to six times the body (escaped control characters) but is cut off at the
/// limit. While the budget cannot grant that, the request waits
/// without reading, which leaves the sender's bytes in the kernel and slows the
/// sender down. A request never holds part of what it needs while it waits for the
/// rest, so those that hold their grant always finish.
#[derive(Debug, Clone)]
pub struct Budget {
    kib: Arc<Semaphore>,
    total_kib: usize,
}

/// What one request holds of the [`Budget`], given back when dropped.
#[derive(Debug, Default)]
pub struct Lease {
    permits: Option<OwnedSemaphorePermit>,
}

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        let total_kib = bytes.div_ceil(1024).max(1);
        Budget {
            kib: Arc::new(Semaphore::new(total_kib)),
            total_kib,
        }
    }

    /// A grant for a body of at most `bytes` and an event of at most `event`,
    /// waiting for it.
    async fn grant(&self, bytes: usize, event: usize) -> Lease {
        let wanted = bytes
            .saturating_add(event)
            .div_ceil(1024)
            .min(self.total_kib);
        let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
        Lease {
            permits: self.kib.clone().acquire_many_owned(wanted).await.ok(),
        }
    }

    /// What is left, in bytes (for tests and logs).
    pub fn available(&self) -> usize {
        self.kib.available_permits() * 1024
    }
}

/// Reads `body` whole if it holds at most `limit` bytes. Reading stops once it is
/// past `drain` (at least `limit`); bytes between the two are read and discarded.
/// With a `budget`, a body past [`FREE_BYTES`] takes its memory from it (see
/// [`Budget`]), and the returned lease holds it.
pub async fn read(
    body: &mut Incoming,
    limit: usize,
    drain: usize,
    budget: Option<&Budget>,
) -> (Read, Lease) {
    let declared = hyper::body::Body::size_hint(&*body).exact();
    let mut lease = Lease::default();
    let mut collected = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            let read = if seen > limit {
                Read::TooLarge
            } else {
                Read::Broken
            };
            return (read, lease);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            if seen > drain.max(limit) {
                return (Read::TooLarge, lease);
            }
            continue;
        }
        if let Some(budget) = budget
            && seen > FREE_BYTES
            && lease.permits.is_none()
        {
            let most = declared.map_or(limit, |n| usize::try_from(n).unwrap_or(limit));
            let most = most.min(limit);
            lease = budget.grant(most, limit).await;
            // Room for all of it at once: growing by doubling would hold more
            // than the grant.
            collected.reserve(most.saturating_sub(collected.len()));
        }
        collected.extend_from_slice(&data);
    }
    let read = if seen > limit {
        Read::TooLarge
    } else {
        Read::Complete(collected.freeze())
    };
    (read, lease)
}
