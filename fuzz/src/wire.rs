//! Raw bytes → the request hyper's HTTP/1 server would give the runner, or
//! nothing where hyper would answer by itself (400, 414, 431) or wait for more.
//!
//! This repeats what hyper 1.x does in its server's `parse`: `httparse` with the
//! default configuration and 100 header slots, `Method::from_bytes`, `Uri` parsing
//! of the request target, and its rules for `Content-Length` and
//! `Transfer-Encoding`. Modelling it keeps the fuzzer to requests the runner can
//! actually receive, so that what it finds is reachable over the network.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

/// hyper's default limit on the number of header lines.
const MAX_HEADERS: usize = 100;
/// hyper's limit on the request target (it answers 414 past it).
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// A request as the runner's `handle` sees it.
pub struct Request<'a> {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// Everything after the head. With a chunked body hyper hands over the
    /// de-chunked bytes, which can be anything, so the rest of the input stands
    /// for them whatever the framing headers say.
    pub body: &'a [u8],
}

/// Reads `data` as one HTTP/1.0 or 1.1 request.
pub fn parse(data: &[u8]) -> Option<Request<'_>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let httparse::Status::Complete(head_len) = parsed.parse(data).ok()? else {
        return None;
    };
    let target = parsed.path?;
    if target.len() > MAX_URI_LEN {
        return None;
    }
    let method = Method::from_bytes(parsed.method?.as_bytes()).ok()?;
    let uri = Uri::try_from(target).ok()?;
    let http_11 = parsed.version? == 1;
    let headers = header_map(parsed.headers, http_11)?;
    Some(Request {
        method,
        uri,
        headers,
        body: &data[head_len..],
    })
}

/// The headers as hyper keeps them: a second `Content-Length` with the same
/// value is dropped, and a `Transfer-Encoding` drops every `Content-Length`.
/// `None` for framing hyper refuses with 400.
fn header_map(lines: &[httparse::Header<'_>], http_11: bool) -> Option<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(lines.len());
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for line in lines {
        let name = HeaderName::from_bytes(line.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(line.value).ok()?;
        if name == TRANSFER_ENCODING {
            if !http_11 {
                return None;
            }
            chunked = Some(ends_chunked(&value));
            headers.remove(CONTENT_LENGTH);
        } else if name == CONTENT_LENGTH {
            if chunked.is_some() {
                continue;
            }
            let this = content_length(&value)?;
            match length {
                Some(earlier) if earlier != this => return None,
                Some(_) => continue,
                None => length = Some(this),
            }
        }
        headers.append(name, value);
    }
    (chunked != Some(false)).then_some(headers)
}

/// A `Content-Length` value: digits, or a comma-separated list of equal ones.
fn content_length(value: &HeaderValue) -> Option<u64> {
    let mut length = None;
    for part in value.to_str().ok()?.split(',') {
        let part = part.trim();
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = part.parse().ok()?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

/// Whether the last transfer coding is `chunked`, as a request's must be.
fn ends_chunked(value: &HeaderValue) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}
