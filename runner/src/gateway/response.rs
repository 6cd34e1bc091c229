//! A function's result → the HTTP response API Gateway would send.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, SET_COOKIE};
use http::{Response, StatusCode};
use serde_json::Value;

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
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Malformed(format!("the function's response is not JSON: {e}")))?;
    let structured = value.as_object().filter(|m| m.contains_key("statusCode"));
    let Some(fields) = structured else {
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
    let status = fields["statusCode"]
        .as_u64()
        .or_else(|| fields["statusCode"].as_str().and_then(|s| s.parse().ok()))
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (100..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            Malformed(format!(
                "statusCode {} is not an HTTP status",
                fields["statusCode"]
            ))
        })?;
    let body = match &fields.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|_| {
                    Malformed("isBase64Encoded is true but the body is not base64".into())
                })?
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // Payload 2.0 has no `multiValueHeaders` and 1.0 no `cookies`: API Gateway
    // ignores them there, and so does the runner.
    if version == PayloadVersion::V1
        && let Some(Value::Object(multi)) = fields.get("multiValueHeaders")
    {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                append(headers, name, value)?;
            }
        }
    }
    if let Some(Value::Object(single)) = fields.get("headers") {
        for (name, value) in single {
            let name_ok = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Malformed(format!("header name {name:?} is invalid")))?;
            if !headers.contains_key(&name_ok) {
                append(headers, name, value)?;
            }
        }
    }
    if version == PayloadVersion::V2
        && let Some(Value::Array(cookies)) = fields.get("cookies")
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
        for code in ["65736", "99", "600", "-1"] {
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

    #[test]
    fn a_response_that_is_not_json_is_malformed() {
        assert!(translate(PayloadVersion::V2, b"not json").is_err());
    }
}
