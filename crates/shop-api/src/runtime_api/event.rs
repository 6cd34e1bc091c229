//! The API Gateway side of an invocation: its event made into a request, and
//! the handler's response made into the answer that API Gateway reads.

use std::sync::Arc;

use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use lambda_http::lambda_runtime::Config;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};

use super::protocol::{DEADLINE, FunctionError, TRACE_ID};

/// Which kind of API Gateway answer an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// HTTP API, payload 2.0 (the shop's template).
    HttpApi,
    /// REST API, or HTTP API with payload 1.0.
    RestApi,
}

impl Shape {
    /// The answer as that API Gateway reads it, serialized.
    pub(super) fn answer(self, response: Response<Body>) -> Vec<u8> {
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Binary(bytes) if is_text(&parts.headers) => match String::from_utf8(bytes) {
                Ok(text) => Body::Text(text),
                Err(not_utf8) => Body::Binary(not_utf8.into_bytes()),
            },
            body => body,
        };
        let is_base64_encoded = matches!(body, Body::Binary(_));
        let body = match body {
            Body::Empty => None,
            body => Some(body),
        };
        let status_code = i64::from(parts.status.as_u16());
        let mut headers = parts.headers;
        let written = match self {
            Self::HttpApi => {
                // Payload 2.0 carries cookies apart, and has no multi-value headers.
                let cookies = headers
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|value| value.to_str().ok().map(str::to_owned))
                    .collect();
                headers.remove(SET_COOKIE);
                let mut answer = ApiGatewayV2httpResponse::default();
                answer.status_code = status_code;
                answer.headers = headers;
                answer.cookies = cookies;
                answer.body = body;
                answer.is_base64_encoded = is_base64_encoded;
                serde_json::to_vec(&answer)
            }
            Self::RestApi => {
                // Only multi-value headers: API Gateway would merge both fields
                // and repeat every header.
                let mut answer = ApiGatewayProxyResponse::default();
                answer.status_code = status_code;
                answer.multi_value_headers = headers;
                answer.body = body;
                answer.is_base64_encoded = is_base64_encoded;
                serde_json::to_vec(&answer)
            }
        };
        written.unwrap_or_else(|_| {
            tracing::error!("an answer could not be written as JSON; it is a 500");
            br#"{"statusCode":500}"#.to_vec()
        })
    }
}

/// Whether a body goes to API Gateway as text rather than base64: as
/// `lambda_http` decides it, by `Content-Type` (text, JSON, JavaScript, XML,
/// YAML, or none at all), unless it has a `Content-Encoding`. A text body that
/// is not UTF-8 still goes as base64, unchanged.
fn is_text(headers: &HeaderMap) -> bool {
    const PREFIXES: [&str; 5] = [
        "text",
        "application/json",
        "application/javascript",
        "application/xml",
        "application/yaml",
    ];
    const SUFFIXES: [&str; 3] = ["+xml", "+yaml", "+json"];
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let content_type = content_type.to_str().unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    PREFIXES
        .iter()
        .any(|prefix| content_type.starts_with(prefix))
        || SUFFIXES.iter().any(|suffix| mime.ends_with(suffix))
        || headers
            .get("x-lambda-http-content-encoding")
            .is_some_and(|value| value == "text")
}

/// An invocation's event, read, with its Lambda context: a request once
/// `lambda_http` makes it into one ([`Event::into_request`]).
pub(super) struct Event {
    event: LambdaRequest,
    context: Context,
    trace: Option<HeaderValue>,
    /// The kind of answer the event asks for.
    pub(super) shape: Shape,
}

/// Reads an invocation: its Runtime API headers into a Lambda context, its
/// event as API Gateway sends one.
pub(super) fn read(
    head: &HeaderMap,
    event: &[u8],
    id: &str,
    config: Arc<Config>,
) -> Result<Event, FunctionError> {
    // `Context::new` takes the deadline as given (a missing one would panic).
    if head.get(DEADLINE).is_none() {
        return Err(FunctionError::BAD_CONTEXT);
    }
    let context = Context::new(id, config, head).map_err(|_| FunctionError::BAD_CONTEXT)?;
    let (event, shape) = read_event(event)?;
    Ok(Event {
        event,
        context,
        trace: head.get(TRACE_ID).cloned(),
        shape,
    })
}

impl Event {
    /// The request, as `lambda_http` makes it. It panics on a few events that
    /// API Gateway passes on: a query string with a raw space or `<`, a body
    /// that is not the base64 it claims to be.
    pub(super) fn into_request(self) -> Request {
        let mut request = Request::from(self.event);
        // The invocation's trace id, as `lambda_http` gives it, over the client's.
        if let Some(trace) = self.trace {
            request.headers_mut().insert("x-amzn-trace-id", trace);
        }
        request.with_lambda_context(self.context)
    }
}

/// Reads an API Gateway proxy event: an HTTP API one (payload 2.0) in one
/// pass, anything else as `lambda_http` reads it.
fn read_event(event: &[u8]) -> Result<(LambdaRequest, Shape), FunctionError> {
    if let Ok(http_api) = serde_json::from_slice::<ApiGatewayV2httpRequest>(event)
        && http_api.version.as_deref() == Some("2.0")
    {
        return Ok((LambdaRequest::ApiGatewayV2(http_api), Shape::HttpApi));
    }
    match serde_json::from_slice::<LambdaRequest>(event) {
        Ok(LambdaRequest::ApiGatewayV1(rest_api)) => {
            Ok((LambdaRequest::ApiGatewayV1(rest_api), Shape::RestApi))
        }
        Ok(LambdaRequest::ApiGatewayV2(http_api)) => {
            Ok((LambdaRequest::ApiGatewayV2(http_api), Shape::HttpApi))
        }
        _ => Err(FunctionError::NOT_AN_HTTP_EVENT),
    }
}
