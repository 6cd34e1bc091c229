//! The API's one error type, rendered as RFC 9457 problem details.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde::Serialize;
use shop_domain::Shortage;
use shop_domain::order::PricingError;
use shop_domain::validation::{FieldError, Invalid};
use shop_store::StoreError;

/// Every way a request can fail. Each variant's doc names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not a JSON object.
    #[error("{0}")]
    MalformedJson(String),
    /// 400: one or more fields of the body fail their rules.
    #[error("request body is invalid")]
    Validation(Vec<FieldError>),
    /// 400: query parameters or headers fail their rules.
    #[error("request parameters are invalid")]
    InvalidRequest(Vec<FieldError>),
    /// 401: no usable bearer token (missing, malformed, expired, wrongly signed).
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 401: unknown user or wrong password; one body for both.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 403: a valid token whose role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    /// 404: no such resource visible to the caller.
    #[error("not found")]
    NotFound,
    /// 409: a unique value is taken, or an idempotency key is reused.
    #[error("{0}")]
    Conflict(String),
    /// 409: not enough stock for these lines.
    #[error("not enough stock for some products")]
    InsufficientStock(Vec<Shortage>),
    /// 409: a request with the same `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyInProgress,
    /// 412: `If-Match` names none of the resource's current versions.
    #[error("the resource has changed since that version; fetch it again")]
    PreconditionFailed,
    /// 428: an update without `If-Match`.
    #[error("this update needs an If-Match header with the resource's ETag")]
    PreconditionRequired,
    /// 413: the request body is over the limit.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415: a body with a content type other than JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 422: an order names products that do not exist.
    #[error("some products do not exist")]
    MissingProducts(Vec<String>),
    /// 429: a rate limit (named by `what`) refuses the request until `wait` has passed.
    #[error("{what}; try again later")]
    RateLimited { what: &'static str, wait: Duration },
    /// 503: a dependency (the database, the product function) is unavailable.
    #[error("a service this request needs is unavailable")]
    Unavailable,
    /// 500: a bug. The cause is logged, never shown.
    #[error("internal error")]
    Internal,
}

/// The problem+json body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insufficient: Option<&'a [Shortage]>,
    pub request_id: &'a str,
}

pub const PROBLEM_BASE: &str = "https://shop.invalid/problems/";

/// Seconds a client is asked to wait after a 503 (`Retry-After`).
pub const UNAVAILABLE_RETRY_AFTER: &str = "2";

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::MalformedJson(_) | ApiError::Validation(_) | ApiError::InvalidRequest(_) => {
                400
            }
            ApiError::Unauthenticated | ApiError::InvalidCredentials => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::Conflict(_)
            | ApiError::InsufficientStock(_)
            | ApiError::IdempotencyInProgress => 409,
            ApiError::PreconditionFailed => 412,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::MissingProducts(_) => 422,
            ApiError::PreconditionRequired => 428,
            ApiError::RateLimited { .. } => 429,
            ApiError::Internal => 500,
            ApiError::Unavailable => 503,
        }
    }

    /// The problem type's slug and title.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::MalformedJson(_) => ("malformed-json", "Request body is not valid JSON"),
            ApiError::Validation(_) => ("validation", "Request body is invalid"),
            ApiError::InvalidRequest(_) => ("invalid-request", "Request is invalid"),
            ApiError::Unauthenticated => ("unauthenticated", "Authentication required"),
            ApiError::InvalidCredentials => ("invalid-credentials", "Invalid credentials"),
            ApiError::Forbidden => ("forbidden", "Forbidden"),
            ApiError::NotFound => ("not-found", "Not found"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::InsufficientStock(_) => ("insufficient-stock", "Insufficient stock"),
            ApiError::IdempotencyInProgress => {
                ("idempotency-in-progress", "Request still in progress")
            }
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            ApiError::PreconditionRequired => ("precondition-required", "Precondition required"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::MissingProducts(_) => ("missing-products", "Unknown products"),
            ApiError::RateLimited { .. } => ("too-many-requests", "Too many requests"),
            ApiError::Unavailable => ("unavailable", "Service unavailable"),
            ApiError::Internal => ("internal", "Internal error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Validation(errors) | ApiError::InvalidRequest(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }

    /// Renders the error as a problem+json response carrying the request id.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let (slug, title) = self.kind();
        let problem = Problem {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title,
            status: self.status(),
            detail: self.detail(),
            errors: match &self {
                ApiError::Validation(errors) | ApiError::InvalidRequest(errors) => Some(errors),
                _ => None,
            },
            missing: match &self {
                ApiError::MissingProducts(ids) => Some(ids),
                _ => None,
            },
            insufficient: match &self {
                ApiError::InsufficientStock(lines) => Some(lines),
                _ => None,
            },
            request_id,
        };
        let body = serde_json::to_string(&problem).expect("a problem always serialises");
        let mut builder = Response::builder()
            .status(problem.status)
            .header("content-type", "application/problem+json");
        match &self {
            ApiError::Unauthenticated | ApiError::InvalidCredentials => {
                builder = builder.header("www-authenticate", "Bearer");
            }
            ApiError::RateLimited { wait, .. } => {
                // Rounded up: a client that waits this long is let in.
                let seconds = wait.as_millis().div_ceil(1000).max(1);
                builder = builder.header("retry-after", seconds.to_string());
            }
            ApiError::Unavailable => {
                builder = builder.header("retry-after", UNAVAILABLE_RETRY_AFTER);
            }
            ApiError::IdempotencyInProgress => {
                builder = builder.header("retry-after", "1");
            }
            _ => {}
        }
        builder
            .body(Body::Text(body))
            .expect("status and headers are valid")
    }
}

/// A body that is not a JSON object, or whose fields fail their rules: 400.
impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Malformed(why) => ApiError::MalformedJson(why.into()),
            Invalid::Fields(errors) => ApiError::Validation(errors),
        }
    }
}

/// Unknown products → 422 listing them; a total beyond the money range → 400.
impl From<PricingError> for ApiError {
    fn from(error: PricingError) -> Self {
        match error {
            PricingError::UnknownProducts(ids) => ApiError::MissingProducts(ids),
            PricingError::TooLarge(field) => ApiError::Validation(vec![field]),
        }
    }
}

/// The one place storage failures become API errors. Causes are logged (inside
/// the request's span, so with its request id) and never shown to the caller.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate(field) => ApiError::Conflict(format!("{field} is already taken")),
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::Corrupt(cause) => {
                tracing::error!(%cause, "stored document is invalid");
                ApiError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn validation_problems_list_every_field_and_the_request_id() {
        let error = ApiError::Validation(vec![
            FieldError::new("price", "must have at most 2 decimal places"),
            FieldError::new("name", "is required"),
        ]);
        let response = error.into_response("req-1");
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = body_of(&response);
        assert_eq!(body["type"], "https://shop.invalid/problems/validation");
        assert_eq!(body["status"], 400);
        assert_eq!(body["requestId"], "req-1");
        assert_eq!(
            body["detail"],
            "price: must have at most 2 decimal places; name: is required"
        );
        assert_eq!(body["errors"][1]["field"], "name");
    }

    #[test]
    fn unauthenticated_answers_carry_www_authenticate() {
        let response = ApiError::Unauthenticated.into_response("r");
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }

    #[test]
    fn a_rate_limit_says_when_to_retry() {
        let response = ApiError::RateLimited {
            what: "too many orders",
            wait: Duration::from_millis(89_001),
        }
        .into_response("r");
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "90");
        assert_eq!(
            body_of(&response)["detail"],
            "too many orders; try again later"
        );
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = ApiError::Unavailable.into_response("r");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], UNAVAILABLE_RETRY_AFTER);
    }

    #[test]
    fn missing_products_are_listed() {
        let response = ApiError::MissingProducts(vec!["a".into()]).into_response("r");
        assert_eq!(response.status(), 422);
        assert_eq!(body_of(&response)["missing"][0], "a");
    }
}
