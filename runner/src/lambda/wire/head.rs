//! A request head: what the Runtime API needs of it, and how its body is framed.

/// The largest request head taken; a longer one is answered 431.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header lines in a head.
pub(super) const MAX_HEADERS: usize = 64;

/// What the Runtime API needs of a request head.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    /// `Lambda-Runtime-Function-Response-Mode: streaming`.
    pub streaming: bool,
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// `Content-Type`, read for a streamed response only.
    pub content_type: Option<String>,
    pub(super) framing: Framing,
    pub(super) expect_continue: bool,
    pub(super) close: bool,
}

/// How the body after a head is delimited.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) enum Framing {
    #[default]
    None,
    Length(u64),
    Chunked,
}

/// A head that cannot be served; the connection closes after the answer.
#[derive(Debug, PartialEq)]
pub(crate) enum BadHead {
    /// 431: over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    TooLarge,
    /// 400: not HTTP/1.x, or its framing cannot be told.
    Malformed,
}

/// A complete head at the start of `buffer`, with its length; `None` while it is
/// still arriving.
pub(super) fn parse_head(buffer: &[u8]) -> Result<Option<(Head, usize)>, BadHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let used = match request.parse(buffer) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(BadHead::TooLarge),
        Err(_) => return Err(BadHead::Malformed),
    };
    if used > MAX_HEAD_BYTES {
        return Err(BadHead::TooLarge);
    }
    let mut head = Head {
        method: request.method.unwrap_or_default().to_owned(),
        // The path alone, as a router sees it: no query.
        path: request
            .path
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned(),
        close: request.version == Some(0),
        ..Head::default()
    };
    let mut length = None;
    let mut content_type = None;
    for header in request.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("content-length") {
            // Digits only: `parse` would also take a sign.
            let digits = value.trim_ascii();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(BadHead::Malformed);
            }
            let n = std::str::from_utf8(digits)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(BadHead::Malformed)?;
            // Two lengths that disagree cannot frame a body.
            if length.is_some_and(|m| m != n) {
                return Err(BadHead::Malformed);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                return Err(BadHead::Malformed);
            }
            head.framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case(b"close") {
                head.close = true;
            } else if value.eq_ignore_ascii_case(b"keep-alive") {
                head.close = false;
            }
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("lambda-runtime-function-response-mode") {
            head.streaming = value.eq_ignore_ascii_case(b"streaming");
        } else if name.eq_ignore_ascii_case("lambda-runtime-function-error-type") {
            head.error_type = std::str::from_utf8(value).ok().map(str::to_owned);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        }
    }
    if head.streaming {
        head.content_type = content_type
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned);
    }
    match (head.framing, length) {
        // Both: the request may be smuggling a second one; refuse it.
        (Framing::Chunked, Some(_)) => return Err(BadHead::Malformed),
        (Framing::None, Some(n)) if n > 0 => head.framing = Framing::Length(n),
        _ => {}
    }
    Ok(Some((head, used)))
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}
