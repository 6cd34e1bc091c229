//! A function's result → the HTTP response API Gateway would send.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, SET_COOKIE};
use http::{Response, StatusCode};
use serde_json::Value;

use super::proxy::Proxy;

use crate::template::PayloadVersion;

/// Why a function's result is not a proxy response (API Gateway answers 502).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Malformed(pub String);

/// Translates `payload`, the bytes the function posted as its response.
pub(super) fn translate(
    version: PayloadVersion,
    payload: &[u8],
) -> Result<Response<Bytes>, Malformed> {
    // The common shape, read fast; anything else (a missing statusCode, a field of
    // another type, a repeated key) takes the general path below, which decides.
    if let Some(mut proxy) = super::proxy::read(payload)
        && let Some(body) = fast_body(&mut proxy)
    {
        let parts = Parts {
            status: &proxy.status_code,
            headers: proxy.headers.as_ref(),
            multi_value_headers: proxy.multi_value_headers.as_ref(),
            cookies: proxy.cookies.as_deref(),
        };
        return structured(version, &parts, body);
    }
    general(version, payload)
}

/// The status and headers of a streamed response from its prelude (the JSON
/// before the eight NUL bytes): `statusCode` (200 when absent), `headers`
/// (each a string or a list of them), `multiValueHeaders` and `cookies`.
pub(super) fn prelude(payload: &[u8]) -> Result<Response<()>, Malformed> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Malformed(format!("the stream's prelude is not JSON: {e}")))?;
    let fields = value
        .as_object()
        .ok_or_else(|| Malformed("the stream's prelude is not a JSON object".into()))?;
    let ok = Value::from(200);
    let parts = Parts {
        status: fields.get("statusCode").unwrap_or(&ok),
        headers: None,
        multi_value_headers: None,
        cookies: fields
            .get("cookies")
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    };
    let mut response = structured(PayloadVersion::V2, &parts, Bytes::new())?;
    for key in ["headers", "multiValueHeaders"] {
        for (name, values) in fields
            .get(key)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            match values {
                Value::Array(values) => {
                    for value in values {
                        append(response.headers_mut(), name, value)?;
                    }
                }
                value => append(response.headers_mut(), name, value)?,
            }
        }
    }
    Ok(response.map(|_| ()))
}

/// Translates any payload: the path that judges every shape.
fn general(version: PayloadVersion, payload: &[u8]) -> Result<Response<Bytes>, Malformed> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Malformed(format!("the function's response is not JSON: {e}")))?;
    let structured_fields = value.as_object().filter(|m| m.contains_key("statusCode"));
    let Some(fields) = structured_fields else {
        if version == PayloadVersion::V1 {
            return Err(Malformed(
                "the function's response has no statusCode".into(),
            ));
        }
        // Payload 2.0: API Gateway takes any other JSON as a 200 application/json body.
        let mut response = Response::new(Bytes::copy_from_slice(payload));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    };
    let body = match &fields.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            decode_base64(text)?
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    let parts = Parts {
        status: &fields["statusCode"],
        headers: fields.get("headers").and_then(Value::as_object),
        multi_value_headers: fields.get("multiValueHeaders").and_then(Value::as_object),
        cookies: fields
            .get("cookies")
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    };
    structured(version, &parts, body)
}

/// The fields of a proxy response that make its status and headers.
struct Parts<'v> {
    status: &'v Value,
    headers: Option<&'v serde_json::Map<String, Value>>,
    multi_value_headers: Option<&'v serde_json::Map<String, Value>>,
    cookies: Option<&'v [Value]>,
}

/// The body of a fast-read response, or `None` to leave it to the general path:
/// a body that is neither a string nor null, or a string this reader does not take.
fn fast_body(proxy: &mut Proxy) -> Option<Bytes> {
    let Some(text) = proxy.body.take() else {
        return Some(Bytes::new());
    };
    if proxy.is_base64_encoded == Some(true) {
        return decode_base64(&String::from_utf8(text).ok()?).ok();
    }
    Some(Bytes::from(text))
}

fn decode_base64(text: &str) -> Result<Bytes, Malformed> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(|_| Malformed("isBase64Encoded is true but the body is not base64".into()))
}

/// The response for a proxy result whose `statusCode` is there; `body` is its body.
fn structured(
    version: PayloadVersion,
    fields: &Parts,
    body: Bytes,
) -> Result<Response<Bytes>, Malformed> {
    let status = fields
        .status
        .as_u64()
        .or_else(|| fields.status.as_str().and_then(|s| s.parse().ok()))
        .and_then(|code| u16::try_from(code).ok())
        // 1xx are interim answers, never a response's final status.
        .filter(|code| (200..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            Malformed(format!(
                "statusCode {} is not a final HTTP status (200 to 599)",
                fields.status
            ))
        })?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // Payload 2.0 has no `multiValueHeaders` and 1.0 no `cookies`: API Gateway
    // ignores them there, and so does the runner.
    if version == PayloadVersion::V1
        && let Some(multi) = fields.multi_value_headers
    {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                append(headers, name, value)?;
            }
        }
    }
    if let Some(single) = fields.headers {
        for (name, value) in single {
            let name_ok = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Malformed(format!("header name {name:?} is invalid")))?;
            if !headers.contains_key(&name_ok) {
                append(headers, name, value)?;
            }
        }
    }
    if version == PayloadVersion::V2
        && let Some(cookies) = fields.cookies
    {
        for cookie in cookies {
            append(headers, SET_COOKIE.as_str(), cookie)?;
        }
    }
    // Both APIs call a body without a type JSON.
    if !headers.contains_key(CONTENT_TYPE) && !response.body().is_empty() {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(response)
}

fn append(headers: &mut http::HeaderMap, name: &str, value: &Value) -> Result<(), Malformed> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => return Ok(()),
        other => other.to_string(),
    };
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Malformed(format!("header name {name:?} is invalid")))?;
    // Framing is the runner's to decide, as it is API Gateway's: a function's
    // own Content-Length or Transfer-Encoding could break the response.
    if matches!(
        name.as_str(),
        "content-length" | "transfer-encoding" | "connection"
    ) {
        return Ok(());
    }
    let value = HeaderValue::from_str(&text)
        .map_err(|_| Malformed(format!("header {name} has an invalid value")))?;
    headers.append(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_code_outside_http_is_malformed_not_wrapped() {
        for code in ["65736", "99", "101", "600", "-1"] {
            let payload = format!(r#"{{"statusCode": {code}}}"#);
            assert!(
                translate(PayloadVersion::V2, payload.as_bytes()).is_err(),
                "{code}"
            );
        }
    }

    #[test]
    fn framing_headers_of_the_function_are_dropped() {
        let payload = br#"{"statusCode": 200, "body": "hi", "headers": {"content-length": "999", "transfer-encoding": "chunked", "x-kept": "yes"}}"#;
        let r = translate(PayloadVersion::V2, payload).unwrap();
        assert!(r.headers().get("content-length").is_none());
        assert!(r.headers().get("transfer-encoding").is_none());
        assert_eq!(r.headers()["x-kept"], "yes");
    }

    #[test]
    fn a_v2_response_without_status_code_is_a_json_200() {
        let r = translate(PayloadVersion::V2, br#"{"hello":"world"}"#).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.body().as_ref(), br#"{"hello":"world"}"#);
    }

    #[test]
    fn a_v1_response_without_status_code_is_malformed() {
        assert!(translate(PayloadVersion::V1, br#"{"hello":"world"}"#).is_err());
    }

    #[test]
    fn cookies_count_in_2_0_and_multi_value_headers_in_1_0_only() {
        let payload = br#"{"statusCode":201,"cookies":["a=1","b=2"],
            "headers":{"x-one":"1","x-many":"single"},"multiValueHeaders":{"x-many":["a","b"]},"body":"hi"}"#;
        let r = translate(PayloadVersion::V2, payload).unwrap();
        assert_eq!(r.status(), 201);
        let cookies: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        let many: Vec<_> = r.headers().get_all("x-many").iter().collect();
        assert_eq!(many, ["single"]);
        assert_eq!(r.headers()["x-one"], "1");
        assert_eq!(r.body().as_ref(), b"hi");
        // 1.0: multiValueHeaders win over headers for the same name; no cookies.
        let r = translate(PayloadVersion::V1, payload).unwrap();
        assert!(r.headers().get(SET_COOKIE).is_none());
        let many: Vec<_> = r.headers().get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
        assert_eq!(r.headers()["x-one"], "1");
    }

    #[test]
    fn a_body_without_a_content_type_is_json_in_both_payloads() {
        for version in [PayloadVersion::V1, PayloadVersion::V2] {
            let r = translate(version, br#"{"statusCode":200,"body":"<p>"}"#).unwrap();
            assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
            let r = translate(version, br#"{"statusCode":204}"#).unwrap();
            assert!(r.headers().get(CONTENT_TYPE).is_none());
        }
    }

    #[test]
    fn a_base64_body_is_decoded_to_bytes() {
        let r = translate(
            PayloadVersion::V1,
            br#"{"statusCode":200,"body":"AAH+/w==","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(r.body().as_ref(), [0, 1, 0xfe, 0xff]);
    }

    /// Asserts that the fast path answers `payload` as the general one does.
    fn same_answer(payload: &[u8]) {
        for version in [PayloadVersion::V1, PayloadVersion::V2] {
            let fast = translate(version, payload).map_err(|e| e.0);
            let general = general(version, payload).map_err(|e| e.0);
            let shown = String::from_utf8_lossy(payload);
            match (fast, general) {
                (Ok(f), Ok(g)) => {
                    assert_eq!(f.status(), g.status(), "{shown}");
                    assert_eq!(f.headers(), g.headers(), "{shown}");
                    assert_eq!(f.body(), g.body(), "{shown}");
                }
                (f, g) => assert_eq!(f.err(), g.err(), "{shown}"),
            }
        }
    }

    #[test]
    fn the_fast_path_answers_as_the_general_one() {
        let payloads: [&[u8]; 26] = [
            br#"["a","b"]"#,
            br#"[404,"x"]"#,
            br#" [200,"ok",false,{"x-a":"1"}]"#,
            br#"{"statusCode":200,"body":"{\"a\":\"\u00e9\"}","headers":{"x-a":"1","x-n":2}}"#,
            br#"{"statusCode":"201","body":null,"cookies":["a=1"],"multiValueHeaders":{"x-m":["a","b"]}}"#,
            br#"{"statusCode":200,"body":"AAH+/w==","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"body":"not base64!","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"body":{"nested":true}}"#,
            br#"{"statusCode":200,"body":"a","body":"b"}"#,
            br#"{"statusCode":700}"#,
            br#"{"statusCode":200,"headers":{"bad name":"x"}}"#,
            b" \n{ \"statusCode\" :\t200 , \"body\" : \"x\" ,\"other\":[1,{\"a\":null}] }\r\n",
            br#"{"body":"x","st\u0061tusCode":202}"#,
            br#"{"statusCode":200,}"#,
            br#"{"statusCode":200} trailing"#,
            br#"{"statusCode":200,"body":nullx}"#,
            b"{\"statusCode\":200,\"body\":\"raw\ncontrol\"}",
            b"{\"statusCode\":200,\"body\":\"\xff\xfe\"}",
            br#"{"statusCode":200.0}"#,
            br#"{}"#,
            b"",
            br#"{"statusCode":200,"isBase64Encoded":"true","body":"AAH+/w=="}"#,
            b"{\"statusCode\":200,\"x\":\"\xff\"}",
            br#"{"statusCode":200,"x":"\udc00"}"#,
            br#"{"statusCode":200,"x":{"\ud800":1}}"#,
            br#"{"statusCode":200,"x":1e400}"#,
        ];
        for payload in payloads {
            same_answer(payload);
        }
        // Nesting at and past serde_json's limit, in a known field and another.
        for field in ["cookies", "statusCode", "x"] {
            for levels in [125, 126, 127, 200] {
                let payload = format!(
                    r#"{{"statusCode":200,"{field}":{}{}}}"#,
                    "[".repeat(levels),
                    "]".repeat(levels)
                );
                same_answer(
                    payload
                        .replace(r#""statusCode":200,"statusCode""#, r#""statusCode""#)
                        .as_bytes(),
                );
            }
        }
    }

    #[test]
    fn random_objects_get_the_same_answer_from_both_paths() {
        let keys = [
            r#""statusCode""#,
            r#""body""#,
            r#""headers""#,
            r#""cookies""#,
            r#""isBase64Encoded""#,
            r#""multiValueHeaders""#,
            r#""other""#,
        ];
        let values = [
            "200",
            r#""404""#,
            "null",
            "true",
            r#""text \" with \\ escapes \u00e9""#,
            r#"{"x-a":"1"}"#,
            r#"["a=1","b=2"]"#,
            r#"{"x-m":["1","2"]}"#,
            "[1,2]",
            r#""AAH+/w==""#,
        ];
        // A fixed linear congruential sequence: the same cases every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize % n
        };
        for _ in 0..3000 {
            let fields: Vec<String> = (0..next(5))
                .map(|_| format!("{}:{}", keys[next(keys.len())], values[next(values.len())]))
                .collect();
            same_answer(format!("{{{}}}", fields.join(",")).as_bytes());
        }
    }

    #[test]
    fn a_response_that_is_not_json_is_malformed() {
        assert!(translate(PayloadVersion::V2, b"not json").is_err());
    }
}
