//! A connection whose writes fail once they have made no progress for a while, so
//! that a client that stops reading cannot hold its connection (and one of the
//! runner's connection slots) forever.
//!
//! Progress is a write the kernel accepts: a client that keeps reading frees room in
//! the send buffer, and each write it lets through starts the wait again. (Linux
//! reports room once a good part of the buffer has drained, so a reader far slower
//! than a few hundred kilobytes per limit can still be cut off.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `inner`, with each write bounded by `limit` of waiting for room.
pub(crate) struct WriteStall<S> {
    inner: S,
    limit: Duration,
    /// Running while a write waits for room.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteStall<S> {
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        WriteStall {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What a pending write does: starts (or checks) the stall timer.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took nothing for the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(&mut self, result: io::Result<T>) -> Poll<io::Result<T>> {
        self.stalled = None;
        Poll::Ready(result)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => self.progressed(result),
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => self.progressed(result),
            Poll::Pending => self.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// Passed through: a flush moves no bytes (and on TCP never waits), so it must
    /// not count as progress.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_after_the_limit() {
        let (near, _far) = tokio::io::duplex(8);
        let mut guarded = WriteStall::new(near, Duration::from_secs(5));
        let error = guarded.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_taking_is_never_cut_off() {
        let (near, mut far) = tokio::io::duplex(8);
        let mut guarded = WriteStall::new(near, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut chunk = [0; 8];
            // 8 bytes every 4 s: slower in all than the limit, never stalled that long.
            while taken.len() < 64 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let n = far.read(&mut chunk).await.unwrap();
                taken.extend_from_slice(&chunk[..n]);
            }
            taken.len()
        });
        guarded.write_all(&[1; 64]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 64);
    }
}
