//! A function's proxy response read field by field, in one pass: its body by
//! [`json_string::read`], which finds the string's end and decodes it with one
//! look at each byte, and the small fields by serde_json. The body is most of a
//! response, and reading it through serde_json costs two passes over it (one to
//! find where it ends, one to decode it).

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::json_string;

/// The fields of a proxy response that the gateway uses.
#[derive(Debug, Default)]
pub(super) struct Proxy {
    pub status_code: Value,
    /// The body's bytes, decoded; `None` when absent or null.
    pub body: Option<Vec<u8>>,
    pub is_base64_encoded: Option<bool>,
    pub headers: Option<Map<String, Value>>,
    pub multi_value_headers: Option<Map<String, Value>>,
    pub cookies: Option<Vec<Value>>,
}

/// Reads `payload` if it is a JSON object with a `statusCode` whose fields have
/// the types the gateway expects, each at most once, and a body that is a string
/// or null. `None` for anything else, which the general path then judges.
pub(super) fn read(payload: &[u8]) -> Option<Proxy> {
    let mut proxy = Proxy::default();
    let mut seen = 0u8;
    let mut at = skip_space(payload, 0);
    if payload.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(payload, at);
        if payload.get(at) != Some(&b'"') {
            return None;
        }
        let (key, used) = key(&payload[at + 1..])?;
        at = skip_space(payload, at + 1 + used);
        if payload.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(payload, at + 1);
        let bit = match &*key {
            b"statusCode" => {
                proxy.status_code = value(payload, &mut at)?;
                1
            }
            b"body" => {
                proxy.body = body(payload, &mut at)?;
                2
            }
            b"isBase64Encoded" => {
                proxy.is_base64_encoded = value(payload, &mut at)?;
                4
            }
            b"headers" => {
                proxy.headers = value(payload, &mut at)?;
                8
            }
            b"multiValueHeaders" => {
                proxy.multi_value_headers = value(payload, &mut at)?;
                16
            }
            b"cookies" => {
                proxy.cookies = value(payload, &mut at)?;
                32
            }
            // Read as strictly as the general path reads it (serde_json's skipping
            // checks less: UTF-8, surrogates, number range, depth).
            _ => {
                value::<Value>(payload, &mut at)?;
                0
            }
        };
        // A repeated field: the general path decides which one counts.
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        at = skip_space(payload, at);
        match payload.get(at)? {
            b',' => at += 1,
            b'}' => break,
            _ => return None,
        }
    }
    let rest_is_space = skip_space(payload, at + 1) == payload.len();
    (rest_is_space && seen & 1 != 0).then_some(proxy)
}

/// The key that starts right after an opening quote in `input`, and the length
/// it took: as it stands when it holds no escape or control character (every
/// key a function writes, in practice), otherwise decoded.
fn key(input: &[u8]) -> Option<(Cow<'_, [u8]>, usize)> {
    let end = input
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < b' ')?;
    if input[end] == b'"' {
        std::str::from_utf8(&input[..end]).ok()?;
        return Some((Cow::Borrowed(&input[..end]), end + 1));
    }
    let (text, used) = json_string::read(input)?;
    Some((Cow::Owned(text), used))
}

/// The body at `at`: a string's decoded bytes, or `None` for null.
fn body(payload: &[u8], at: &mut usize) -> Option<Option<Vec<u8>>> {
    let rest = &payload[*at..];
    if rest.starts_with(b"null") {
        *at += 4;
        return Some(None);
    }
    if rest.first() != Some(&b'"') {
        return None;
    }
    let (text, used) = json_string::read(&rest[1..])?;
    *at += 1 + used;
    Some(Some(text))
}

/// The deepest a field's value may nest: serde_json takes 127 levels in a whole
/// document, and the response object is one of them.
const MAX_FIELD_DEPTH: usize = 126;

/// One JSON value at `at`, read by serde_json; `at` moves past it. A value that
/// nests deeper than the whole response may is left to the general path.
fn value<T: DeserializeOwned>(payload: &[u8], at: &mut usize) -> Option<T> {
    let mut values = serde_json::Deserializer::from_slice(&payload[*at..]).into_iter::<T>();
    let value = values.next()?.ok()?;
    let read = &payload[*at..*at + values.byte_offset()];
    if depth(read) > MAX_FIELD_DEPTH {
        return None;
    }
    *at += read.len();
    Some(value)
}

/// How deeply the arrays and objects of one JSON value nest.
fn depth(value: &[u8]) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in value {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                now += 1;
                most = most.max(now);
            }
            b']' | b'}' => now = now.saturating_sub(1),
            _ => {}
        }
    }
    most
}

fn skip_space(payload: &[u8], mut at: usize) -> usize {
    while payload
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}
