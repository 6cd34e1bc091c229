//! The shop's endpoint handlers behind one client with a method per endpoint, called
//! with API Gateway events as the functions are on Lambda.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::{Value, json};

use super::catalog::{FakeCatalog, StoreCatalog};
use super::events::{Stores, TestResponse, bearer, gateway_event, json_headers};

use crate::auth::Tokens;
use crate::catalog::{CatalogLimits, HttpCatalog, ProductCatalog};
use crate::orders::Deps;
use crate::stock::token::ServiceTokens;
use crate::{orders, products, stock, users};
use shop_domain::Role;
use shop_domain::limits::Limits;

/// The API of the user and product handlers, called as API Gateway would call
/// them, with one method per endpoint.
pub struct ShopApp<'a, S> {
    pub store: &'a S,
    pub tokens: Tokens,
    pub limits: Limits,
    /// The product function as the order function sees it, when no real one runs.
    pub catalog: FakeCatalog,
    /// A real product function over HTTP, when the test started one.
    http_catalog: Option<(HttpCatalog, String)>,
    /// The key of the service tokens between the order and stock functions.
    pub service: ServiceTokens,
}

/// The order handlers that call the product function.
#[derive(Debug, Clone, Copy)]
enum OrderRoute {
    Create,
    Cancel,
    Update,
}

/// `limits` with every window a day long. Windows are aligned to the clock, so a
/// test that counts across a window's end would see its count start again; with
/// day-long windows no test of a few seconds does. (The windows themselves are
/// tested in `limits`.)
fn day_long_windows(mut limits: Limits) -> Limits {
    let day = Duration::from_secs(24 * 3600);
    for limit in [
        &mut limits.login_failures_per_address,
        &mut limits.login_failures_per_account,
        &mut limits.logins_per_address,
        &mut limits.registrations_per_address,
        &mut limits.orders_per_user,
    ] {
        limit.window = day;
    }
    limits
}

/// The password of every user the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// A secret for tests only.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes";

/// The service-token key for tests only.
pub const TEST_SERVICE_SECRET: &str = "test-service-secret-of-at-least-32-bytes";

impl<'a, S: Stores> ShopApp<'a, S> {
    pub fn new(store: &'a S) -> Self {
        let tokens = Tokens::new(&TEST_SECRET.into(), Duration::from_secs(3600))
            .expect("the test secret is long enough");
        Self {
            store,
            tokens,
            limits: day_long_windows(Limits::default()),
            catalog: FakeCatalog::default(),
            http_catalog: None,
            service: ServiceTokens::new(&TEST_SERVICE_SECRET.into())
                .expect("the test service secret is long enough"),
        }
    }

    /// The same handlers under other rate limits (their windows a day long).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = day_long_windows(limits);
        self
    }

    /// Orders are priced by calling the product function at `base_url` over HTTP.
    pub fn with_products_at(mut self, base_url: &str, limits: CatalogLimits) -> Self {
        let client =
            HttpCatalog::new(limits, self.service.clone(), "tests").expect("an HTTP client");
        self.http_catalog = Some((client, base_url.to_string()));
        self
    }

    /// One of the order handlers that call the product function: over HTTP
    /// when the test started one, else the in-process stand-in.
    async fn ordering(&self, route: OrderRoute, request: lambda_http::Request) -> Response<Body> {
        async fn dispatch<S: Stores, C: ProductCatalog>(
            deps: &Deps<'_, S, C>,
            route: OrderRoute,
            request: lambda_http::Request,
        ) -> Response<Body> {
            match route {
                OrderRoute::Create => orders::create::handle(deps, request).await,
                OrderRoute::Cancel => orders::cancel::handle(deps, request).await,
                OrderRoute::Update => orders::update::handle(deps, request).await,
            }
        }
        match &self.http_catalog {
            Some((catalog, url)) => {
                let deps = Deps {
                    store: self.store,
                    catalog,
                    tokens: &self.tokens,
                    limits: &self.limits,
                    products_url: Some(url),
                };
                dispatch(&deps, route, request).await
            }
            None => {
                let catalog = StoreCatalog {
                    store: self.store,
                    fake: &self.catalog,
                };
                let deps = Deps {
                    store: self.store,
                    catalog: &catalog,
                    tokens: &self.tokens,
                    limits: &self.limits,
                    // The stand-in ignores it; a real request would name the API.
                    products_url: Some("http://127.0.0.1:9"),
                };
                dispatch(&deps, route, request).await
            }
        }
    }

    /// Sends a request to the handler that serves its route.
    pub async fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> TestResponse {
        self.call_from(None, method, target, headers, body).await
    }

    /// Like [`ShopApp::call`], from the client address `source_ip` (API Gateway's
    /// `requestContext` source IP) when one is given.
    pub async fn call_from(
        &self,
        source_ip: Option<&str>,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> TestResponse {
        let mut event = gateway_event(method, target, headers, body);
        if let Some(ip) = source_ip {
            event["requestContext"]["http"]["sourceIp"] = json!(ip);
        }
        let request = lambda_http::request::from_str(&event.to_string()).expect("the event parses");
        let path = target.split('?').next().unwrap_or_default();
        let response = match (method, path) {
            ("POST", "/users/register") => {
                users::register::handle(self.store, &self.limits, request).await
            }
            ("POST", "/users/login") => {
                users::login::handle(self.store, &self.tokens, &self.limits, request).await
            }
            ("GET", "/users/me") => users::me::handle(self.store, &self.tokens, request).await,
            ("POST", "/users/me/password") => {
                users::password::handle(self.store, &self.tokens, &self.limits, request).await
            }
            ("POST", "/products") => {
                products::create::handle(self.store, &self.tokens, request).await
            }
            ("GET", "/products") => products::list::handle(self.store, request).await,
            ("GET", p) if p.starts_with("/products/") => {
                products::get::handle(self.store, request).await
            }
            ("PATCH", p) if p.starts_with("/products/") => {
                products::update::handle(self.store, &self.tokens, request).await
            }
            ("DELETE", p) if p.starts_with("/products/") => {
                products::delete::handle(self.store, &self.tokens, request).await
            }
            ("GET", "/categories") => products::categories::handle(self.store, request).await,
            ("POST", "/orders") => self.ordering(OrderRoute::Create, request).await,
            ("POST", p) if p.starts_with("/orders/") && p.ends_with("/cancel") => {
                self.ordering(OrderRoute::Cancel, request).await
            }
            ("PATCH", p) if p.starts_with("/orders/") => {
                self.ordering(OrderRoute::Update, request).await
            }
            ("POST", "/stock/reservations") => {
                stock::reserve::handle(self.store, &self.service, self.catalog.ttl(), request).await
            }
            ("DELETE", p) if p.starts_with("/stock/reservations/") => {
                stock::release::handle(self.store, &self.service, request).await
            }
            ("GET", "/orders") => orders::list::handle(self.store, &self.tokens, request).await,
            ("GET", p) if p.starts_with("/orders/") => {
                orders::get::handle(self.store, &self.tokens, request).await
            }
            other => panic!("no handler for {other:?}"),
        };
        response.into()
    }

    /// POSTs a JSON value with an optional bearer token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        let auth = bearer(token);
        self.call("POST", path, &json_headers(&auth), Some(&body.to_string()))
            .await
    }

    pub async fn get(&self, target: &str, token: Option<&str>) -> TestResponse {
        let auth = bearer(token);
        let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call("GET", target, &headers, None).await
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> TestResponse {
        let body = json!({"username": username, "email": email, "password": password});
        self.post("/users/register", None, &body).await
    }

    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        let body = json!({"username": username, "password": password});
        self.post("/users/login", None, &body).await
    }

    /// A login from the client address `source_ip`.
    pub async fn login_from(
        &self,
        source_ip: &str,
        username: &str,
        password: &str,
    ) -> TestResponse {
        let body = json!({"username": username, "password": password}).to_string();
        self.call_from(
            Some(source_ip),
            "POST",
            "/users/login",
            &json_headers(&[]),
            Some(&body),
        )
        .await
    }

    /// A registration from the client address `source_ip`.
    pub async fn register_from(&self, source_ip: &str, username: &str) -> TestResponse {
        let email = format!("{username}@example.com");
        let body = json!({"username": username, "email": email, "password": PASSWORD});
        self.call_from(
            Some(source_ip),
            "POST",
            "/users/register",
            &json_headers(&[]),
            Some(&body.to_string()),
        )
        .await
    }

    /// Registers a user (promoted to admin if asked) and returns a fresh token.
    pub async fn user_token(&self, username: &str, admin: bool) -> String {
        let password = PASSWORD;
        let email = format!("{username}@example.com");
        let registered = self.register(username, &email, password).await;
        assert_eq!(registered.status, 201, "{}", registered.text);
        if admin {
            self.store
                .set_role(username, Role::Admin)
                .await
                .expect("promote")
                .expect("user exists");
        }
        let login = self.login(username, password).await;
        assert_eq!(login.status, 200, "{}", login.text);
        login.body["accessToken"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    pub async fn create_product(
        &self,
        token: &str,
        name: &str,
        price: &str,
        category: &str,
    ) -> TestResponse {
        let body = format!(
            r#"{{"name": {}, "description": "", "price": {price}, "category": {}}}"#,
            json!(name),
            json!(category)
        );
        let auth = bearer(Some(token));
        self.call("POST", "/products", &json_headers(&auth), Some(&body))
            .await
    }
}
