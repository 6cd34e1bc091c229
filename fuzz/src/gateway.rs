//! An event as the functions read it: the AWS event type of its payload format,
//! then `lambda_http`'s own conversion into an `http::Request`.
//!
//! `lambda_http` 1.x panics inside that conversion when the URL it assembles from
//! `X-Forwarded-Proto`, the `Host` header (or `requestContext.domainName`) and the
//! path does not parse. A panic there takes down a function on every request of
//! that shape, so the targets call it unguarded: the panic is the finding.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use runner::template::PayloadVersion;

/// What the function must find in the request it is handed.
pub struct Expected<'a> {
    pub method: &'a str,
    pub body: &'a [u8],
}

/// Checks `event`, built for a route of payload format `payload`.
pub fn check(event: &[u8], payload: PayloadVersion, expected: &Expected<'_>) -> Result<(), String> {
    let json = std::str::from_utf8(event).map_err(|e| format!("the event is not UTF-8: {e}"))?;
    let typed = match payload {
        PayloadVersion::V2 => serde_json::from_str::<ApiGatewayV2httpRequest>(json).map(drop),
        PayloadVersion::V1 => serde_json::from_str::<ApiGatewayProxyRequest>(json).map(drop),
    };
    typed.map_err(|e| format!("not a {payload:?} event: {e}\n{json}"))?;
    let request = lambda_http::request::from_str(json)
        .map_err(|e| format!("lambda_http refuses the event: {e}\n{json}"))?;
    let context_matches = matches!(
        (payload, request.request_context_ref()),
        (PayloadVersion::V2, Some(RequestContext::ApiGatewayV2(_)))
            | (PayloadVersion::V1, Some(RequestContext::ApiGatewayV1(_)))
    );
    if !context_matches {
        return Err(format!(
            "lambda_http reads a {payload:?} event as another kind\n{json}"
        ));
    }
    if request.method().as_str() != expected.method {
        return Err(format!(
            "the method {} arrives as {}",
            expected.method,
            request.method()
        ));
    }
    if request.body().as_ref() != expected.body {
        return Err(format!("the body does not arrive intact\n{json}"));
    }
    Ok(())
}
