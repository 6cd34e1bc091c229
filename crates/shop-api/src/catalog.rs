//! The order functions' view of the product function: one
//! `POST /stock/reservations` over HTTP per order, which reserves its stock and
//! prices its lines, and `DELETE /stock/reservations/{orderId}` to give the
//! stock of an order that was not stored, or was cancelled, back. Both carry a
//! service token.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use shop_domain::order::{CatalogEntry, OrderRequest};
use shop_domain::{OrderId, ProductId, Shortage};

use crate::stock::token::ServiceTokens;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// Unreachable, failing, too slow or answering nonsense: the order waits.
    #[error("the product function is unavailable: {0}")]
    Unavailable(String),
    /// Some products do not exist (422 from the product function).
    #[error("some products do not exist")]
    Missing(Vec<String>),
    /// Not enough stock (409 from the product function).
    #[error("not enough stock")]
    Insufficient(Vec<Shortage>),
}

/// The product function's stock routes, as the order functions call them.
pub trait ProductCatalog: Send + Sync {
    /// Reserves the stock of every line for `order` and answers the current name
    /// and price of every line's product. `base` is the API's base URL. Safe to
    /// retry: an order holds stock of a product once.
    fn reserve(
        &self,
        base: &str,
        order: OrderId,
        request: &OrderRequest,
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<CatalogEntry>, CatalogError>> + Send;

    /// Gives back what `order` holds, if it was never stored or was cancelled.
    fn release(
        &self,
        base: &str,
        order: OrderId,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), CatalogError>> + Send;
}

/// A reservation's answer (at most 100 products) is far below this; more is not an answer.
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
            attempt_timeout: Duration::from_millis(1500),
        }
    }
}

/// The HTTP client, built once per instance and reused (its connection pool too),
/// with the key of the service tokens it sends.
#[derive(Clone)]
pub struct HttpCatalog {
    client: reqwest::Client,
    limits: CatalogLimits,
    service: ServiceTokens,
    /// The calling function, named in its service tokens.
    caller: &'static str,
}

#[derive(Deserialize)]
struct ProductPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

impl HttpCatalog {
    pub fn new(
        limits: CatalogLimits,
        service: ServiceTokens,
        caller: &'static str,
    ) -> Result<Self, CatalogError> {
        let client = reqwest::Client::builder()
            // A redirect could send the call, and so the order's prices, anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            // Shorter than a server's idle timeout (the runner's is 10 s), so an idle
            // connection is dropped here before the server closes it under a request.
            .pool_idle_timeout(Duration::from_secs(5))
            .user_agent("shop-orders/1")
            .build()
            .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        Ok(Self {
            client,
            limits,
            service,
            caller,
        })
    }

    async fn attempt(&self, call: &Call, timeout: Duration) -> Result<Answer, Attempt> {
        let token = self
            .service
            .issue(self.caller)
            .map_err(|_| Attempt::Final("cannot sign a service token".into()))?;
        let mut builder = self
            .client
            .request(call.method.clone(), call.url.as_str())
            .bearer_auth(token)
            .header("accept", "application/json")
            .timeout(timeout);
        if let Some(body) = &call.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| Attempt::Retryable(format!("request failed: {e}")))?;
        let status = response.status();
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
        Ok(Answer {
            status: status.as_u16(),
            body,
        })
    }

    /// At most two attempts (both calls are safe to repeat), inside `deadline`.
    async fn send(&self, call: &Call, deadline: Instant) -> Result<Answer, CatalogError> {
        let mut last_error = String::new();
        for attempt in 1..=2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self
                .attempt(call, left.min(self.limits.attempt_timeout))
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Final(why)) => return Err(CatalogError::Unavailable(why)),
                Err(Attempt::Retryable(why)) => {
                    tracing::warn!(attempt, %why, url = %call.url, "call to the product function failed");
                    last_error = why;
                }
            }
        }
        Err(CatalogError::Unavailable(last_error))
    }
}

struct Call {
    method: reqwest::Method,
    url: String,
    body: Option<String>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

enum Attempt {
    Retryable(String),
    Final(String),
}

/// Reads a reservation's answer: the products, or why the order cannot have them.
fn reservation_answer(answer: &Answer) -> Result<Vec<CatalogEntry>, CatalogError> {
    let nonsense = || CatalogError::Unavailable("the answer is not a reservation".into());
    match answer.status {
        200 => {
            let page: ProductPage<'_> =
                serde_json::from_slice(&answer.body).map_err(|_| nonsense())?;
            page.items
                .into_iter()
                .map(CatalogEntry::from_json)
                .collect::<Result<_, _>>()
                .map_err(CatalogError::Unavailable)
        }
        409 => {
            let problem: StockProblem =
                serde_json::from_slice(&answer.body).map_err(|_| nonsense())?;
            let mut shortages = Vec::new();
            for line in problem.insufficient.ok_or_else(nonsense)? {
                shortages.push(Shortage {
                    product_id: ProductId::parse(&line.product_id).map_err(|_| nonsense())?,
                    requested: line.requested,
                    available: line.available,
                });
            }
            Err(CatalogError::Insufficient(shortages))
        }
        422 => {
            let problem: StockProblem =
                serde_json::from_slice(&answer.body).map_err(|_| nonsense())?;
            Err(CatalogError::Missing(problem.missing.ok_or_else(nonsense)?))
        }
        status => Err(CatalogError::Unavailable(format!("answered {status}"))),
    }
}

/// The parts of the product function's 409 and 422 problems the order reads.
#[derive(Deserialize)]
struct StockProblem {
    missing: Option<Vec<String>>,
    insufficient: Option<Vec<ShortLine>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShortLine {
    product_id: String,
    requested: u32,
    available: u32,
}

impl ProductCatalog for HttpCatalog {
    async fn reserve(
        &self,
        base: &str,
        order: OrderId,
        request: &OrderRequest,
        deadline: Instant,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        let lines: Vec<serde_json::Value> = request
            .lines
            .iter()
            .map(|l| serde_json::json!({"productId": l.product_id.to_string(), "quantity": l.quantity}))
            .collect();
        let body = serde_json::json!({"orderId": order.to_string(), "products": lines});
        let call = Call {
            method: reqwest::Method::POST,
            url: format!("{}/stock/reservations", base.trim_end_matches('/')),
            body: Some(body.to_string()),
        };
        reservation_answer(&self.send(&call, deadline).await?)
    }

    async fn release(
        &self,
        base: &str,
        order: OrderId,
        deadline: Instant,
    ) -> Result<(), CatalogError> {
        let call = Call {
            method: reqwest::Method::DELETE,
            url: format!("{}/stock/reservations/{order}", base.trim_end_matches('/')),
            body: None,
        };
        match self.send(&call, deadline).await?.status {
            204 => Ok(()),
            status => Err(CatalogError::Unavailable(format!("answered {status}"))),
        }
    }
}

/// When a release after a failure must be done: within `budget`, and within
/// what is left of the request (see [`shop_store::deadline`]), so the answer
/// stays as prompt as the request's own deadline promises. `None` when too
/// little is left to try: the stale reservation is released later instead.
pub fn release_deadline(budget: Duration) -> Option<Instant> {
    let left = shop_store::deadline::remaining().map_or(budget, |left| left.min(budget));
    (left >= Duration::from_millis(100)).then(|| Instant::now() + left)
}

/// Where the product function is: `PRODUCTS_API_URL` when configured, else the API
/// this request came through, as API Gateway names it (`requestContext.domainName`
/// and stage), which the client cannot choose. The `Host` header, which the client
/// can, is never read. The lookup goes over https, except to a loopback address
/// (a runner on this machine).
pub fn products_base_url(configured: Option<&str>, request: &Request) -> Option<String> {
    if let Some(url) = configured.filter(|u| !u.is_empty()) {
        return Some(url.trim_end_matches('/').to_string());
    }
    let (domain, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => (c.domain_name.clone(), c.stage.clone()),
        Some(RequestContext::ApiGatewayV1(c)) => (c.domain_name.clone(), c.stage.clone()),
        _ => (None, None),
    };
    let host = domain.filter(|d| is_authority(d))?;
    let scheme = if is_loopback(&host) { "http" } else { "https" };
    let stage = stage
        .filter(|s| !s.is_empty() && s != "$default")
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    Some(format!("{scheme}://{host}{stage}"))
}

/// A host name or address with an optional port, and nothing else (no user, path,
/// query or fragment that could change where the URL points).
fn is_authority(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

/// Whether `host` (with or without a port) is a loopback IP address: `127.0.0.1`,
/// `127.1.2.3`, `[::1]`. Names are not: `127.evil.example` or `localhost` may
/// resolve anywhere.
fn is_loopback(host: &str) -> bool {
    let address = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
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
    fn without_a_gateway_context_there_is_no_address_and_host_is_never_read() {
        let request: Request = http::Request::builder()
            .uri("/orders")
            .header("host", "127.0.0.1:3000")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(products_base_url(None, &request), None);
    }

    fn with_domain(domain: &str) -> Request {
        let mut request = gateway_request("POST", "/orders", &[("host", "evil.example")], None);
        if let Some(RequestContext::ApiGatewayV2(c)) =
            request.extensions_mut().get_mut::<RequestContext>()
        {
            c.domain_name = Some(domain.into());
        }
        request
    }

    #[test]
    fn only_a_loopback_ip_is_reached_over_plain_http() {
        for (domain, base) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("127.9.9.9:80", "http://127.9.9.9:80"),
            ("[::1]:3000", "http://[::1]:3000"),
            ("127.evil.example", "https://127.evil.example"),
            (
                "127.0.0.1.evil.example:80",
                "https://127.0.0.1.evil.example:80",
            ),
            ("localhost:3000", "https://localhost:3000"),
            ("shop.example.com", "https://shop.example.com"),
        ] {
            assert_eq!(
                products_base_url(None, &with_domain(domain)).as_deref(),
                Some(base),
                "{domain}"
            );
        }
    }

    #[test]
    fn a_domain_name_that_is_not_a_bare_authority_is_not_used() {
        for domain in [
            "",
            "evil.example/x",
            "user@evil.example",
            "a b",
            "x?y",
            "h#f",
        ] {
            assert_eq!(
                products_base_url(None, &with_domain(domain)),
                None,
                "{domain}"
            );
        }
    }

    #[tokio::test]
    async fn the_reservation_follows_no_redirect() {
        use crate::testing::{Handler, TestServer};
        let handler: Handler = std::sync::Arc::new(|_request| {
            Box::pin(async {
                lambda_http::Response::builder()
                    .status(302)
                    .header("location", "http://127.0.0.1:9/products")
                    .body(lambda_http::Body::Empty)
                    .unwrap()
            })
        });
        let server = TestServer::start(handler).await;
        let service = ServiceTokens::new(&crate::testing::TEST_SERVICE_SECRET.into()).unwrap();
        let catalog = HttpCatalog::new(CatalogLimits::default(), service, "test").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let request = OrderRequest::parse(
            r#"{"products": [{"productId": "0123456789abcdef01234567", "quantity": 1}]}"#,
        )
        .unwrap();
        let error = catalog
            .reserve(&server.url(), OrderId::new(), &request, deadline)
            .await
            .unwrap_err();
        assert_eq!(error, CatalogError::Unavailable("answered 302".into()));
    }
}
