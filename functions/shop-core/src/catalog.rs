//! The order function's view of the product function: one batched
//! `GET /products?ids=…&limit=100` over HTTP per order.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::ProductId;
use crate::order::CatalogEntry;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// Unreachable, failing, too slow or answering nonsense: the order waits.
    #[error("the product function is unavailable: {0}")]
    Unavailable(String),
}

/// Looks up the current name and price of products.
pub trait ProductCatalog: Send + Sync {
    /// The products among `ids` that exist. `base` is the API's base URL.
    fn lookup(
        &self,
        base: &str,
        ids: &[ProductId],
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<CatalogEntry>, CatalogError>> + Send;
}

/// A page of at most 100 products is far below this; more is not an answer.
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// Time limits for the call, chosen to fit inside the function's own timeout.
#[derive(Debug, Clone, Copy)]
pub struct CatalogLimits {
    pub connect_timeout: Duration,
    /// For one attempt; the second (retry) attempt gets what is left of the deadline.
    pub attempt_timeout: Duration,
}

impl Default for CatalogLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(3),
        }
    }
}

/// The HTTP client, built once per instance and reused (its connection pool too).
#[derive(Clone)]
pub struct HttpCatalog {
    client: reqwest::Client,
    limits: CatalogLimits,
}

#[derive(Deserialize)]
struct ProductPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

impl HttpCatalog {
    pub fn new(limits: CatalogLimits) -> Result<Self, CatalogError> {
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent("shop-orders/1")
            .build()
            .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        Ok(Self { client, limits })
    }

    async fn attempt(&self, url: &str, timeout: Duration) -> Result<Vec<CatalogEntry>, Attempt> {
        let response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Attempt::Retryable(format!("request failed: {e}")))?;
        let status = response.status();
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Attempt::Retryable(format!("reading the answer failed: {e}")))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Attempt::Final("the answer is implausibly large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Attempt::Retryable(format!("answered {status}")));
        }
        if status != reqwest::StatusCode::OK {
            return Err(Attempt::Final(format!("answered {status}")));
        }
        let page: ProductPage<'_> = serde_json::from_slice(&body)
            .map_err(|_| Attempt::Final("the answer is not a product page".into()))?;
        page.items
            .into_iter()
            .map(CatalogEntry::from_json)
            .collect::<Result<_, _>>()
            .map_err(Attempt::Final)
    }
}

enum Attempt {
    Retryable(String),
    Final(String),
}

impl ProductCatalog for HttpCatalog {
    /// At most two attempts of the idempotent GET, both inside `deadline`.
    async fn lookup(
        &self,
        base: &str,
        ids: &[ProductId],
        deadline: Instant,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let url = format!(
            "{}/products?ids={}&limit=100",
            base.trim_end_matches('/'),
            ids.join(",")
        );
        let mut last_error = String::new();
        for attempt in 1..=2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self
                .attempt(&url, left.min(self.limits.attempt_timeout))
                .await
            {
                Ok(entries) => return Ok(entries),
                Err(Attempt::Final(why)) => return Err(CatalogError::Unavailable(why)),
                Err(Attempt::Retryable(why)) => {
                    tracing::warn!(attempt, %why, "product lookup failed");
                    last_error = why;
                }
            }
        }
        Err(CatalogError::Unavailable(last_error))
    }
}

/// Where the product function is: `PRODUCTS_API_URL` when configured, else the
/// API this request came through: API Gateway's domain name and stage (which
/// the client cannot choose), or, with no gateway context at all, the `Host`
/// header. A runner that is not API Gateway should set `PRODUCTS_API_URL`.
pub fn products_base_url(configured: Option<&str>, request: &Request) -> Option<String> {
    if let Some(url) = configured.filter(|u| !u.is_empty()) {
        return Some(url.trim_end_matches('/').to_string());
    }
    let (domain, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => (c.domain_name.clone(), c.stage.clone()),
        Some(RequestContext::ApiGatewayV1(c)) => (c.domain_name.clone(), c.stage.clone()),
        _ => (None, None),
    };
    let host = domain.filter(|d| !d.is_empty()).or_else(|| {
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .map(str::to_string)
    })?;
    let scheme = if is_local(&host) { "http" } else { "https" };
    let stage = stage
        .filter(|s| !s.is_empty() && s != "$default")
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    Some(format!("{scheme}://{host}{stage}"))
}

fn is_local(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::gateway_request;

    #[test]
    fn a_configured_url_wins() {
        let request = gateway_request("POST", "/orders", &[], None);
        assert_eq!(
            products_base_url(Some("http://products.internal:8080/"), &request).unwrap(),
            "http://products.internal:8080"
        );
    }

    #[test]
    fn behind_api_gateway_the_api_host_is_used() {
        let request = gateway_request("POST", "/orders", &[], None);
        assert_eq!(
            products_base_url(None, &request).unwrap(),
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn a_named_stage_is_part_of_the_base() {
        let mut request = gateway_request("POST", "/orders", &[], None);
        if let Some(RequestContext::ApiGatewayV2(c)) =
            request.extensions_mut().get_mut::<RequestContext>()
        {
            c.stage = Some("prod".into());
        }
        assert!(
            products_base_url(None, &request)
                .unwrap()
                .ends_with(".amazonaws.com/prod")
        );
    }

    #[test]
    fn a_client_cannot_redirect_the_lookup_with_its_host_header() {
        let request = gateway_request("POST", "/orders", &[("host", "evil.example:8000")], None);
        assert_eq!(
            products_base_url(None, &request).unwrap(),
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn without_a_gateway_context_the_host_header_is_used() {
        let request: Request = http::Request::builder()
            .uri("/orders")
            .header("host", "127.0.0.1:3000")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(
            products_base_url(None, &request).unwrap(),
            "http://127.0.0.1:3000"
        );
    }
}
