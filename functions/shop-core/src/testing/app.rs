//! The shop's handlers behind one client with a method per endpoint, called
//! with API Gateway events as the functions are on Lambda.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::{Value, json};

use super::catalog::{FakeCatalog, StoreCatalog};
use super::{Stores, TestResponse, bearer, gateway_request, json_headers};
use crate::auth::Tokens;
use crate::catalog::{CatalogLimits, HttpCatalog};
use crate::domain::Role;
use crate::handlers::orders::CreateDeps;
use crate::handlers::{orders, products, users};

/// The API of the user and product handlers, called as API Gateway would call
/// them, with one method per endpoint.
pub struct ShopApp<'a, S> {
    pub store: &'a S,
    pub tokens: Tokens,
    /// The product function as the order function sees it, when no real one runs.
    pub catalog: FakeCatalog,
    /// A real product function over HTTP, when the test started one.
    http_catalog: Option<(HttpCatalog, String)>,
}

/// A secret for tests only.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes";

impl<'a, S: Stores> ShopApp<'a, S> {
    pub fn new(store: &'a S) -> Self {
        let tokens = Tokens::new(&TEST_SECRET.into(), Duration::from_secs(3600))
            .expect("the test secret is long enough");
        Self {
            store,
            tokens,
            catalog: FakeCatalog::default(),
            http_catalog: None,
        }
    }

    /// Orders are priced by calling the product function at `base_url` over HTTP.
    pub fn with_products_at(mut self, base_url: &str, limits: CatalogLimits) -> Self {
        let client = HttpCatalog::new(limits).expect("an HTTP client");
        self.http_catalog = Some((client, base_url.to_string()));
        self
    }

    async fn create_order(&self, request: lambda_http::Request) -> Response<Body> {
        match &self.http_catalog {
            Some((catalog, url)) => {
                let deps = CreateDeps {
                    store: self.store,
                    catalog,
                    tokens: &self.tokens,
                    products_url: Some(url),
                };
                orders::create(&deps, request).await
            }
            None => {
                let catalog = StoreCatalog {
                    store: self.store,
                    fake: &self.catalog,
                };
                let deps = CreateDeps {
                    store: self.store,
                    catalog: &catalog,
                    tokens: &self.tokens,
                    products_url: None,
                };
                orders::create(&deps, request).await
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
        let request = gateway_request(method, target, headers, body);
        let path = target.split('?').next().unwrap_or_default();
        let response = match (method, path) {
            ("POST", "/users/register") => users::register(self.store, request).await,
            ("POST", "/users/login") => users::login(self.store, &self.tokens, request).await,
            ("POST", "/products") => products::create(self.store, &self.tokens, request).await,
            ("GET", "/products") => products::list(self.store, request).await,
            ("GET", p) if p.starts_with("/products/") => products::get(self.store, request).await,
            ("POST", "/orders") => self.create_order(request).await,
            ("GET", "/orders") => orders::list(self.store, &self.tokens, request).await,
            ("GET", p) if p.starts_with("/orders/") => {
                orders::get(self.store, &self.tokens, request).await
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

    /// Registers a user (promoted to admin if asked) and returns a fresh token.
    pub async fn user_token(&self, username: &str, admin: bool) -> String {
        let password = "correct horse battery";
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

impl<S: Stores> ShopApp<'_, S> {
    /// `POST /orders` with `(productId, quantity)` lines and an optional key.
    pub async fn order(
        &self,
        token: &str,
        lines: &[(&str, u32)],
        key: Option<&str>,
    ) -> TestResponse {
        let products: Vec<Value> = lines
            .iter()
            .map(|(id, quantity)| json!({"productId": id, "quantity": quantity}))
            .collect();
        let body = json!({ "products": products }).to_string();
        let mut auth = bearer(Some(token));
        if let Some(key) = key {
            auth.push(("idempotency-key", key.to_string()));
        }
        self.call("POST", "/orders", &json_headers(&auth), Some(&body))
            .await
    }

    /// Creates a product as `admin` and returns its id.
    pub async fn product_id(&self, admin: &str, name: &str, price: &str) -> String {
        let created = self.create_product(admin, name, price, "misc").await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["id"].as_str().expect("an id").to_string()
    }
}
