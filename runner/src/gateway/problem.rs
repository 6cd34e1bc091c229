//! The runner's own errors as RFC 9457 `application/problem+json` responses.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde_json::json;

/// Everything the runner itself can answer instead of a function.
///
/// What went wrong inside a function (its error type and message, an init error, a
/// crash, a malformed response) goes to the runner's log with the request id, never
/// into the answer: it can name types, paths and messages that are nobody else's
/// business. See [`Problem::cause`].
#[derive(Debug, Clone)]
pub(super) enum Problem {
    /// 400: the `Host` header names nothing a gateway could serve.
    BadHost,
    /// 400: the request target is not a path (`OPTIONS *`).
    BadTarget,
    /// 404: no route matches the path.
    NotFound,
    /// 405: the path exists with these other methods.
    MethodNotAllowed(Vec<String>),
    /// 401: the route's JWT authorizer found no valid token.
    Unauthorized,
    /// 403: the token is valid but holds none of the route's scopes.
    Forbidden,
    /// 400: the client broke off while sending the body.
    BodyBroken,
    /// 408: the request body did not arrive within this time.
    BodyTimeout(Duration),
    /// 413: the request's event is larger than Lambda's 6 MB invocation payload.
    PayloadTooLarge,
    /// 429: the function's instances are all busy and its queue is full, or the
    /// request waited in the queue this long without an instance coming free.
    Throttled {
        function: String,
        waited: Option<Duration>,
    },
    /// 502: the function's start-up failed (the reason), or it is backing off after one.
    InitFailed { function: String, reason: String },
    /// 502: the process exited or was lost during the invocation.
    Crashed { function: String, reason: String },
    /// 502: the route's Lambda authorizer failed or gave no decision (the
    /// reason goes to the log).
    AuthorizerFailed { authorizer: String, reason: String },
    /// 502: the function reported an error (Runtime API `/error`); its type and
    /// message go to the log only.
    FunctionError { function: String },
    /// 502: the function's result is not a valid proxy response.
    BadResponse { function: String, reason: String },
    /// 504: the function ran past its Timeout and was stopped.
    Timeout { function: String, timeout: Duration },
    /// 504: the caller stopped waiting at the integration timeout; the function
    /// runs on.
    IntegrationTimeout { function: String, limit: Duration },
}

impl Problem {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::BadHost | Problem::BadTarget => StatusCode::BAD_REQUEST,
            Problem::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Problem::Unauthorized => StatusCode::UNAUTHORIZED,
            Problem::Forbidden => StatusCode::FORBIDDEN,
            Problem::BodyBroken => StatusCode::BAD_REQUEST,
            Problem::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Problem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Problem::InitFailed { .. }
            | Problem::AuthorizerFailed { .. }
            | Problem::Crashed { .. }
            | Problem::FunctionError { .. }
            | Problem::BadResponse { .. } => StatusCode::BAD_GATEWAY,
            Problem::Timeout { .. } | Problem::IntegrationTimeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Problem::NotFound => ("not-found", "No route matches the request"),
            Problem::BadHost => ("bad-request", "Invalid Host header"),
            Problem::BadTarget => ("bad-request", "Invalid request target"),
            Problem::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            Problem::Unauthorized => ("unauthorized", "Unauthorized"),
            Problem::Forbidden => ("forbidden", "Forbidden"),
            Problem::BodyBroken => ("bad-request", "Request body incomplete"),
            Problem::BodyTimeout(_) => ("request-timeout", "Request body not received in time"),
            Problem::PayloadTooLarge => ("payload-too-large", "Request body is too large"),
            Problem::Throttled { .. } => ("too-many-requests", "Too many requests"),
            Problem::InitFailed { .. } => ("function-init-failed", "The function failed to start"),
            Problem::AuthorizerFailed { .. } => ("authorizer-failed", "The authorizer failed"),
            Problem::Crashed { .. } => ("function-crashed", "The function crashed"),
            Problem::FunctionError { .. } => ("function-error", "The function failed"),
            Problem::BadResponse { .. } => (
                "bad-function-response",
                "The function's response is invalid",
            ),
            Problem::Timeout { .. } => ("function-timeout", "The function timed out"),
            Problem::IntegrationTimeout { .. } => (
                "integration-timeout",
                "The function did not answer within the API's time limit",
            ),
        }
    }

    pub(super) fn detail(&self) -> String {
        match self {
            Problem::NotFound => "No route of the template matches this method and path.".into(),
            Problem::BadHost => "The Host header must be one host name or address, with an \
                                 optional port."
                .into(),
            Problem::BadTarget => "The request target must be a path starting with /.".into(),
            Problem::MethodNotAllowed(allowed) => {
                format!("This path accepts {}.", allowed.join(", "))
            }
            Problem::Unauthorized => {
                "This route needs credentials its authorizer accepts.".into()
            }
            Problem::Forbidden => {
                "The route's authorizer does not allow this request (for a JWT: it holds none of the route's scopes).".into()
            }
            Problem::BodyBroken => "The request body ended before its announced length.".into(),
            Problem::BodyTimeout(limit) => format!(
                "The request body did not arrive within {} s.",
                limit.as_secs_f32()
            ),
            Problem::PayloadTooLarge => {
                "The request exceeds Lambda's 6 MB invocation payload limit (what counts \
                 is the event made from it, body included)."
                    .into()
            }
            Problem::Throttled {
                function,
                waited: None,
            } => format!("Every instance of {function} is busy and its queue is full."),
            Problem::Throttled {
                function,
                waited: Some(waited),
            } => format!(
                "Every instance of {function} stayed busy for the {} s this request waited.",
                waited.as_secs_f32()
            ),
            Problem::AuthorizerFailed { authorizer, .. } => {
                format!("The authorizer {authorizer} gave no decision; the runner's log says why.")
            }
            Problem::InitFailed { function, .. } => {
                format!("{function} failed to start; the runner's log has the reason.")
            }
            Problem::Crashed { function, .. } => {
                format!("{function} stopped during the invocation; the runner's log says how.")
            }
            Problem::FunctionError { function, .. } => {
                format!("{function} reported an error; the runner's log has it.")
            }
            Problem::BadResponse { function, .. } => format!(
                "{function} answered with something that is not a valid response; the \
                 runner's log says what."
            ),
            Problem::Timeout { function, timeout } => {
                format!(
                    "{function} ran past its {}-second timeout and was stopped.",
                    timeout.as_secs()
                )
            }
            Problem::IntegrationTimeout { function, limit } => format!(
                "{function} did not answer within the API's {} s integration timeout; \
                 the invocation runs on.",
                limit.as_secs_f32()
            ),
        }
    }

    /// What went wrong inside the function, for the log only.
    pub(super) fn cause(&self) -> Option<&str> {
        match self {
            Problem::InitFailed { reason, .. }
            | Problem::AuthorizerFailed { reason, .. }
            | Problem::Crashed { reason, .. }
            | Problem::BadResponse { reason, .. } => Some(reason),
            // Logged where it arrives, with the function's message.
            _ => None,
        }
    }

    /// The response in the style `settings` ask for: problem+json, or API
    /// Gateway's `{"message": …}` (`--aws-error-bodies`).
    pub(super) fn render_for(
        &self,
        request_id: &str,
        settings: &super::Settings,
    ) -> Response<Bytes> {
        let mut response = self.render(request_id, &settings.problem_type_base);
        if settings.aws_error_bodies {
            let message = aws_message(self.status());
            *response.body_mut() = Bytes::from(json!({ "message": message }).to_string());
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        response
    }

    /// The problem+json response; `type_base` prefixes the problem's slug.
    pub(super) fn render(&self, request_id: &str, type_base: &str) -> Response<Bytes> {
        let (slug, title) = self.slug_and_title();
        let status = self.status();
        let body = json!({
            "type": format!("{type_base}{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
            "requestId": request_id,
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            Problem::MethodNotAllowed(allowed) => {
                if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                    headers.insert(ALLOW, v);
                }
            }
            Problem::Throttled { .. } => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Problem::Unauthorized => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// API Gateway's message for a status it answers itself.
fn aws_message(status: StatusCode) -> &'static str {
    match status {
        // What API Gateway says for a failed or malformed integration.
        StatusCode::BAD_GATEWAY => "Internal Server Error",
        StatusCode::GATEWAY_TIMEOUT => "Endpoint request timed out",
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_went_wrong_inside_a_function_stays_out_of_the_answer() {
        let secrets = "Box<dyn core::any::Any + Send> at /home/me/target/debug/f: expected value";
        for problem in [
            Problem::InitFailed {
                function: "F".into(),
                reason: secrets.into(),
            },
            Problem::Crashed {
                function: "F".into(),
                reason: secrets.into(),
            },
            Problem::FunctionError {
                function: "F".into(),
            },
            Problem::BadResponse {
                function: "F".into(),
                reason: secrets.into(),
            },
        ] {
            let body = String::from_utf8(problem.render("r", "urn:").body().to_vec()).unwrap();
            assert!(!body.contains("Box<") && !body.contains("/home"), "{body}");
            if !matches!(problem, Problem::FunctionError { .. }) {
                assert_eq!(problem.cause(), Some(secrets));
            }
        }
    }

    #[test]
    fn aws_bodies_are_api_gateways_messages_with_the_same_status_and_headers() {
        let settings = |aws| crate::gateway::Settings {
            aws_error_bodies: aws,
            ..crate::gateway::tests_settings()
        };
        for (problem, status, message) in [
            (Problem::Unauthorized, 401, "Unauthorized"),
            (Problem::Forbidden, 403, "Forbidden"),
            (Problem::NotFound, 404, "Not Found"),
            (Problem::PayloadTooLarge, 413, "Request Entity Too Large"),
            (
                Problem::FunctionError {
                    function: "F".into(),
                },
                502,
                "Internal Server Error",
            ),
        ] {
            let r = problem.render_for("abc", &settings(true));
            assert_eq!(r.status(), status);
            assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
            assert_eq!(body, json!({ "message": message }));
            let plain = problem.render_for("abc", &settings(false));
            assert_eq!(plain.headers()[CONTENT_TYPE], "application/problem+json");
        }
        let r = Problem::Unauthorized.render_for("abc", &settings(true));
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn a_problem_renders_as_problem_json_with_the_request_id() {
        let r =
            Problem::MethodNotAllowed(vec!["GET".into(), "POST".into()]).render("abc", "urn:x:");
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
        assert_eq!(r.headers()[ALLOW], "GET, POST");
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["type"], "urn:x:method-not-allowed");
        assert_eq!(body["status"], 405);
        assert_eq!(body["requestId"], "abc");
    }
}
