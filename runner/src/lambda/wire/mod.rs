//! HTTP/1.1 as the Runtime API speaks it, server side: a request head, its body
//! (by `Content-Length` or chunked), and a short answer. Its only client is the
//! instance's own runtime, one request at a time, so this is all it needs; a
//! general server costs several times the CPU per invocation.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::body::Read;

mod head;
mod sink;

pub(super) use head::{BadHead, Head};
use head::{Framing, MAX_HEAD_BYTES, parse_head, reason};
use sink::{Collect, Relaying, Sink, find};

use crate::decimal::Decimal;

/// One connection from the instance.
pub(super) struct Conn {
    stream: TcpStream,
    buffer: BytesMut,
    /// The body of the request being served is still unread.
    unread: Option<Framing>,
    /// The request asked for `100 Continue`, not yet sent.
    continue_owed: bool,
    /// Close after the answer.
    close: bool,
    /// Where answers are put together, kept between them.
    out: Vec<u8>,
}

impl Conn {
    pub(super) fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buffer: BytesMut::with_capacity(8 * 1024),
            unread: None,
            continue_owed: false,
            close: false,
            out: Vec::new(),
        }
    }

    /// The next request's head; `Ok(None)` when the client closed between requests.
    pub(super) async fn head(&mut self) -> Result<Option<Head>, BadHead> {
        loop {
            if !self.buffer.is_empty() {
                match parse_head(&self.buffer)? {
                    Some((head, used)) => {
                        self.buffer.advance(used);
                        self.unread = Some(head.framing);
                        self.continue_owed = head.expect_continue;
                        self.close = head.close;
                        return Ok(Some(head));
                    }
                    None if self.buffer.len() >= MAX_HEAD_BYTES => return Err(BadHead::TooLarge),
                    None => {}
                }
            }
            if !self.fill().await {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(BadHead::Malformed)
                };
            }
        }
    }

    /// Reads more into the buffer; `false` at the end of the stream or on an error.
    async fn fill(&mut self) -> bool {
        self.buffer.reserve(16 * 1024);
        matches!(self.stream.read_buf(&mut self.buffer).await, Ok(n) if n > 0)
    }

    /// Closes the connection after the next answer.
    pub(super) fn close_after_answer(&mut self) {
        self.unread = None;
        self.close = true;
    }

    /// Whether the current request's body is declared longer than `limit`; such a
    /// body is never read, and the connection closes after the answer.
    pub(super) fn declared_over(&mut self, limit: usize) -> bool {
        let over = matches!(self.unread, Some(Framing::Length(n)) if n > limit as u64);
        if over {
            self.unread = None;
            self.continue_owed = false;
            self.close = true;
        }
        over
    }

    /// The current request's body if it holds at most `limit` bytes. Past `limit`
    /// and up to `drain` it is read and thrown away; past `drain` reading stops and
    /// the connection closes after the answer.
    pub(super) async fn body(&mut self, limit: usize, drain: usize) -> Read {
        let Some(framing) = self.unread.take() else {
            return Read::Complete(Bytes::new());
        };
        if !self.invite(framing).await {
            return Read::Broken;
        }
        let mut sink = Collect {
            collected: BytesMut::new(),
            seen: 0,
            limit,
            drain: drain.max(limit),
        };
        let read = match framing {
            Framing::None => Ok(()),
            Framing::Length(n) => self.read_length(n, &mut sink).await,
            Framing::Chunked => self.read_chunked(&mut sink).await,
        };
        match read {
            Ok(()) if sink.seen <= limit => Read::Complete(sink.collected.freeze()),
            Ok(()) => Read::TooLarge,
            Err(read) => {
                self.close = true;
                read
            }
        }
    }

    /// Sends the `100 Continue` a client waits for before its body; `false`
    /// when the connection failed.
    async fn invite(&mut self, framing: Framing) -> bool {
        if self.continue_owed && framing != Framing::None {
            self.continue_owed = false;
            if self
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
            {
                self.close = true;
                return false;
            }
        }
        true
    }

    /// Relays the current request's body to `chunks` as it arrives, at most
    /// `limit` bytes, and reads its error trailers: `Ok` with the error's type
    /// and body when it has them. Past `limit` reading stops and the connection
    /// closes after the answer.
    pub(super) async fn relay(
        &mut self,
        chunks: &tokio::sync::mpsc::Sender<crate::lambda::stream::Chunk>,
        limit: usize,
    ) -> Result<Option<(String, Option<String>)>, Read> {
        let Some(framing) = self.unread.take() else {
            return Ok(None);
        };
        if !self.invite(framing).await {
            return Err(Read::Broken);
        }
        let mut sink = Relaying::new(chunks, limit);
        let read = match framing {
            Framing::None => Ok(()),
            Framing::Length(n) => self.pass(n, &mut sink).await,
            Framing::Chunked => self.read_chunked(&mut sink).await,
        };
        if read.is_err() {
            self.close = true;
        }
        read.map(|()| sink.error_type.take().map(|t| (t, sink.error_body.take())))
    }

    async fn read_length(&mut self, length: u64, sink: &mut Collect) -> Result<(), Read> {
        // Within the limit, the common case: the body whole in the buffer, taken
        // as it is. It is copied out rather than split off, so that the connection
        // keeps reusing its buffer instead of allocating a new one each time.
        if length <= sink.limit as u64 && self.buffer.len() as u64 >= length {
            let length = length as usize;
            sink.seen = length;
            sink.collected = BytesMut::from(&self.buffer[..length]);
            self.buffer.advance(length);
            return Ok(());
        }
        self.pass(length, sink).await
    }

    /// Passes the next `length` bytes of the stream to `sink`.
    async fn pass(&mut self, length: u64, sink: &mut impl Sink) -> Result<(), Read> {
        let mut left = length;
        while left > 0 {
            if self.buffer.is_empty() && !self.fill().await {
                return Err(sink.broken());
            }
            let n = self
                .buffer
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let part = self.buffer.split_to(n);
            sink.take(part).await?;
            left -= n as u64;
        }
        Ok(())
    }

    async fn read_chunked(&mut self, sink: &mut impl Sink) -> Result<(), Read> {
        loop {
            let size = loop {
                // httparse takes a size line without digits as 0: refuse it.
                if self.buffer.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                    return Err(Read::Broken);
                }
                match httparse::parse_chunk_size(&self.buffer) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buffer.advance(used);
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.buffer.len() < 1024 => {
                        if !self.fill().await {
                            return Err(sink.broken());
                        }
                    }
                    _ => return Err(Read::Broken),
                }
            };
            if size == 0 {
                return self.trailers(sink).await;
            }
            self.pass(size, sink).await?;
            while self.buffer.len() < 2 {
                if !self.fill().await {
                    return Err(sink.broken());
                }
            }
            if &self.buffer[..2] != b"\r\n" {
                return Err(Read::Broken);
            }
            self.buffer.advance(2);
        }
    }

    /// The trailer section after the last chunk, up to its empty line, each
    /// line handed to `sink`: at most [`MAX_HEAD_BYTES`] in all, as a head.
    async fn trailers(&mut self, sink: &mut impl Sink) -> Result<(), Read> {
        let mut taken = 0;
        // How much of the buffer is known to hold no line end.
        let mut scanned = 0;
        loop {
            if let Some(end) = find(&self.buffer[scanned..], b"\r\n").map(|at| scanned + at) {
                scanned = 0;
                taken += end + 2;
                if end == 0 {
                    self.buffer.advance(2);
                    return Ok(());
                }
                if taken > MAX_HEAD_BYTES {
                    return Err(Read::Broken);
                }
                sink.trailer(&self.buffer[..end]);
                self.buffer.advance(end + 2);
                continue;
            }
            scanned = self.buffer.len().saturating_sub(1);
            if taken + self.buffer.len() >= MAX_HEAD_BYTES || !self.fill().await {
                return Err(sink.broken());
            }
        }
    }

    /// Returns once the client has closed the connection (or it failed). Bytes it
    /// sends meanwhile (a pipelined request) are kept for later, up to a head's
    /// worth; past that it stops reading.
    pub(super) async fn closed(&mut self) {
        while self.buffer.len() < MAX_HEAD_BYTES {
            if !self.fill().await {
                return;
            }
        }
        std::future::pending::<()>().await;
    }

    /// Answers the current request. Its body, if still unread, is read and thrown
    /// away first (within [`crate::body::DRAIN_LIMIT`]), so the next request starts
    /// where it should; `Ok(false)` when the connection is to close now.
    pub(super) async fn answer(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> bool {
        // A body the handler left unread is skipped when it is all here already;
        // otherwise the connection closes after the answer rather than wait for it
        // (and a client that expects `100 Continue` is never invited to send it).
        match self.unread.take() {
            None | Some(Framing::None) => {}
            Some(Framing::Length(n)) if self.buffer.len() as u64 >= n => {
                self.buffer.advance(n as usize);
            }
            Some(_) => self.close = true,
        }
        self.continue_owed = false;
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(Decimal::of(u64::from(status)).as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
        for (name, value) in headers {
            // A value that could end the line early is left out, as a header.
            if value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if self.close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(Decimal::of(body.len() as u64).as_str().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        let written = self.stream.write_all(out).await.is_ok();
        // An event of megabytes is not kept between answers.
        if out.capacity() > 64 * 1024 {
            *out = Vec::new();
        }
        written && !self.close
    }
}

#[cfg(test)]
mod tests {
    use super::head::MAX_HEADERS;
    use super::*;
    use tokio::net::TcpListener;

    /// A connection whose client has sent `sent` (and then closed its sending
    /// side when `close` is set); the client's end, to read answers from.
    async fn pair(sent: &[u8], close: bool) -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(sent).await.unwrap();
        if close {
            client.shutdown().await.unwrap();
        }
        (Conn::new(server), client)
    }

    async fn answers(client: &mut TcpStream) -> String {
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.unwrap();
        String::from_utf8(all).unwrap()
    }

    fn complete(read: Read) -> Vec<u8> {
        match read {
            Read::Complete(bytes) => bytes.to_vec(),
            other => panic!("not complete: {other:?}"),
        }
    }

    #[tokio::test]
    async fn pipelined_requests_with_both_framings_are_read_in_turn() {
        let sent = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
            POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n\
            GET /c HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Oops\r\n\r\n";
        let (mut conn, _client) = pair(sent, true).await;
        let head = conn.head().await.unwrap().unwrap();
        assert_eq!((head.method.as_str(), head.path.as_str()), ("POST", "/a"));
        assert_eq!(complete(conn.body(100, 100).await), b"hello");
        let head = conn.head().await.unwrap().unwrap();
        assert_eq!(head.path, "/b");
        assert_eq!(complete(conn.body(100, 100).await), b"abcde");
        let head = conn.head().await.unwrap().unwrap();
        assert_eq!(head.path, "/c");
        assert_eq!(head.error_type.as_deref(), Some("Oops"));
        assert!(complete(conn.body(100, 100).await).is_empty());
        assert!(
            conn.head().await.unwrap().is_none(),
            "the end of the stream"
        );
    }

    #[tokio::test]
    async fn a_body_left_unread_is_skipped_before_the_next_request() {
        let sent = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\n\r\n";
        let (mut conn, mut client) = pair(sent, true).await;
        conn.head().await.unwrap().unwrap();
        assert!(conn.answer(404, &[], b"{}").await);
        assert_eq!(conn.head().await.unwrap().unwrap().path, "/b");
        drop(conn);
        let text = answers(&mut client).await;
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.ends_with("content-length: 2\r\n\r\n{}"), "{text}");
    }

    #[tokio::test]
    async fn a_body_past_its_limit_is_drained_and_the_connection_kept() {
        let sent =
            b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /b HTTP/1.1\r\n\r\n";
        let (mut conn, _client) = pair(sent, true).await;
        conn.head().await.unwrap().unwrap();
        assert!(matches!(conn.body(4, 100).await, Read::TooLarge));
        assert_eq!(conn.head().await.unwrap().unwrap().path, "/b");
    }

    #[tokio::test]
    async fn a_body_past_the_drain_limit_closes_the_connection() {
        let sent =
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n";
        let (mut conn, mut client) = pair(sent, true).await;
        conn.head().await.unwrap().unwrap();
        assert!(matches!(conn.body(4, 8).await, Read::TooLarge));
        assert!(
            !conn.answer(413, &[], b"{}").await,
            "closes after the answer"
        );
        drop(conn);
        assert!(answers(&mut client).await.contains("connection: close\r\n"));
        // Declared too large: refused unread.
        let sent = b"POST /a HTTP/1.1\r\nContent-Length: 999999\r\n\r\n";
        let (mut conn, _client) = pair(sent, false).await;
        conn.head().await.unwrap().unwrap();
        assert!(conn.declared_over(1000));
    }

    #[tokio::test]
    async fn a_body_cut_short_is_broken() {
        for sent in [
            &b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"[..],
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let (mut conn, _client) = pair(sent, true).await;
            conn.head().await.unwrap().unwrap();
            assert!(
                matches!(conn.body(100, 100).await, Read::Broken),
                "{sent:?}"
            );
        }
    }

    #[tokio::test]
    async fn framing_that_cannot_be_trusted_breaks_the_body_off() {
        let trailers = format!(
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEAD_BYTES / 6 + 1)
        );
        for sent in [
            trailers.as_bytes(),
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        ] {
            let (mut conn, _client) = pair(sent, true).await;
            conn.head().await.unwrap().unwrap();
            assert!(matches!(conn.body(100, 100).await, Read::Broken));
        }
        let (mut conn, _client) =
            pair(b"POST /a HTTP/1.1\r\nContent-Length: +5\r\n\r\n", true).await;
        assert_eq!(conn.head().await.err(), Some(BadHead::Malformed));
        let (mut conn, _client) = pair(b"GET /a/b?x=1 HTTP/1.1\r\n\r\n", true).await;
        assert_eq!(conn.head().await.unwrap().unwrap().path, "/a/b");
    }

    #[tokio::test]
    async fn a_body_not_here_yet_is_not_waited_for_when_left_unread() {
        // Announced, never sent: the answer goes out and the connection closes.
        let (mut conn, mut client) =
            pair(b"GET /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n", false).await;
        conn.head().await.unwrap().unwrap();
        assert!(!conn.answer(404, &[], b"{}").await);
        drop(conn);
        assert!(answers(&mut client).await.starts_with("HTTP/1.1 404 "));
    }

    #[tokio::test]
    async fn closed_keeps_what_arrives_and_ends_with_the_connection() {
        let (mut conn, mut client) = pair(b"", false).await;
        let waiting = tokio::spawn(async move {
            conn.closed().await;
            conn.head().await.unwrap().unwrap().path
        });
        client
            .write_all(b"GET /next HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "still open");
        drop(client);
        assert_eq!(waiting.await.unwrap(), "/next");
    }

    #[tokio::test]
    async fn a_client_that_expects_100_continue_is_told_to_send() {
        let sent = b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
        let (mut conn, mut client) = pair(sent, true).await;
        conn.head().await.unwrap().unwrap();
        assert_eq!(complete(conn.body(100, 100).await), b"ok");
        assert!(
            conn.answer(202, &[("x-id", "1"), ("x-bad", "a\r\nb")], b"{}")
                .await
        );
        drop(conn);
        let text = answers(&mut client).await;
        assert!(
            text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n"),
            "{text}"
        );
        assert!(text.contains("x-id: 1\r\n"), "{text}");
        assert!(
            !text.contains("x-bad"),
            "a value that breaks the line is left out: {text}"
        );
    }

    #[tokio::test]
    async fn heads_that_cannot_be_served_are_refused() {
        let huge = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        let cases: [(&[u8], BadHead); 5] = [
            (huge.as_bytes(), BadHead::TooLarge),
            (many.as_bytes(), BadHead::TooLarge),
            (b"NOT HTTP AT ALL\r\n\r\n", BadHead::Malformed),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                BadHead::Malformed,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                BadHead::Malformed,
            ),
        ];
        for (sent, expected) in cases {
            let (mut conn, _client) = pair(sent, true).await;
            assert_eq!(conn.head().await.err(), Some(expected));
        }
        // HTTP/1.0 closes after its answer unless it asks to keep the connection.
        let (mut conn, _client) = pair(b"GET / HTTP/1.0\r\n\r\n", true).await;
        conn.head().await.unwrap().unwrap();
        assert!(!conn.answer(200, &[], b"{}").await);
    }
}
