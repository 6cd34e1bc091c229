//! Where a request body's bytes go while it is read: collected whole within a
//! limit, or relayed piece by piece to the caller of a streamed response.

use bytes::BytesMut;
use tokio::sync::mpsc;

use crate::body::Read;
use crate::lambda::stream::Chunk;

/// A body's destination.
pub(super) trait Sink {
    /// Takes the body's next bytes; an error stops reading.
    async fn take(&mut self, part: BytesMut) -> Result<(), Read>;
    /// How a body that broke off ended.
    fn broken(&self) -> Read;
    /// One trailer line (without its CRLF), after the last chunk.
    fn trailer(&mut self, _line: &[u8]) {}
}

/// Collects a body: kept within the limit, dropped past it, and reading stops
/// past the drain limit.
pub(super) struct Collect {
    pub(super) collected: BytesMut,
    pub(super) seen: usize,
    pub(super) limit: usize,
    pub(super) drain: usize,
}

impl Sink for Collect {
    async fn take(&mut self, part: BytesMut) -> Result<(), Read> {
        self.seen = self.seen.saturating_add(part.len());
        if self.seen > self.drain {
            return Err(Read::TooLarge);
        }
        if self.seen <= self.limit {
            self.collected.extend_from_slice(&part);
        }
        Ok(())
    }

    /// Too large if it was already past its limit.
    fn broken(&self) -> Read {
        if self.seen > self.limit {
            Read::TooLarge
        } else {
            Read::Broken
        }
    }
}

/// Relays a streamed response's bytes as they arrive. A caller who stops
/// reading holds the function's writes back (the channel is bounded); a
/// caller who is gone no longer gets them, and the rest is read and dropped.
pub(super) struct Relaying<'a> {
    chunks: &'a mpsc::Sender<Chunk>,
    seen: usize,
    limit: usize,
    /// The error trailers: `Lambda-Runtime-Function-Error-Type` and `-Body`.
    pub(super) error_type: Option<String>,
    pub(super) error_body: Option<String>,
}

impl Relaying<'_> {
    pub(super) fn new(chunks: &mpsc::Sender<Chunk>, limit: usize) -> Relaying<'_> {
        Relaying {
            chunks,
            seen: 0,
            limit,
            error_type: None,
            error_body: None,
        }
    }
}

impl Sink for Relaying<'_> {
    async fn take(&mut self, part: BytesMut) -> Result<(), Read> {
        self.seen = self.seen.saturating_add(part.len());
        if self.seen > self.limit {
            return Err(Read::TooLarge);
        }
        if !self.chunks.is_closed() {
            let _ = self.chunks.send(Chunk::Data(part.freeze())).await;
        }
        Ok(())
    }

    fn broken(&self) -> Read {
        Read::Broken
    }

    fn trailer(&mut self, line: &[u8]) {
        let Some((name, value)) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split_once(':'))
        else {
            return;
        };
        let value = Some(value.trim().to_owned());
        if name.eq_ignore_ascii_case("lambda-runtime-function-error-type") {
            self.error_type = value;
        } else if name.eq_ignore_ascii_case("lambda-runtime-function-error-body") {
            self.error_body = value;
        }
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
