//! Test support (feature `test-util`): requests built from a real API Gateway
//! HTTP API (payload 2.0) event, a client with one method per endpoint, and a
//! throwaway MongoDB database per test.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::auth::Tokens;
use crate::catalog::{CatalogError, CatalogLimits, HttpCatalog, ProductCatalog};
use crate::domain::{ProductId, Role};
use crate::handlers::orders::CreateDeps;
use crate::handlers::{orders, products, users};
use crate::order::CatalogEntry;
use crate::paging::PageParams;
use crate::store::{LoginThrottle, OrderStore, ProductFilter, ProductStore, UserStore};

mod http_server;
pub mod lambda;
pub use http_server::{Handler, TestServer};

/// Every storage trait at once: what a whole shop needs.
pub trait Stores: UserStore + LoginThrottle + ProductStore + OrderStore {}
impl<T: UserStore + LoginThrottle + ProductStore + OrderStore> Stores for T {}

/// How the fake product function behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CatalogMode {
    /// Answers from the store's products, as the real function would.
    #[default]
    Answer,
    /// Unreachable.
    Down,
    /// Answers after this long (past the deadline: unavailable).
    Slow(Duration),
}

/// A product function stand-in for unit tests: no HTTP, but it counts calls.
#[derive(Debug, Default)]
pub struct FakeCatalog {
    pub calls: AtomicUsize,
    pub mode: Mutex<CatalogMode>,
}

impl FakeCatalog {
    pub fn set_mode(&self, mode: CatalogMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The fake, answering from a store.
struct StoreCatalog<'a, S> {
    store: &'a S,
    fake: &'a FakeCatalog,
}

impl<S: ProductStore> ProductCatalog for StoreCatalog<'_, S> {
    async fn lookup(
        &self,
        _base: &str,
        ids: &[ProductId],
        deadline: Instant,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        self.fake.calls.fetch_add(1, Ordering::SeqCst);
        let mode = *self.fake.mode.lock().unwrap();
        match mode {
            CatalogMode::Down => return Err(CatalogError::Unavailable("down".into())),
            CatalogMode::Slow(delay) => {
                if Instant::now() + delay > deadline {
                    return Err(CatalogError::Unavailable("too slow".into()));
                }
                tokio::time::sleep(delay).await;
            }
            CatalogMode::Answer => {}
        }
        let filter = ProductFilter {
            category: None,
            ids: Some(ids.to_vec()),
        };
        let page = PageParams {
            limit: 100,
            before: None,
        };
        let products = self
            .store
            .list_products(&filter, &page)
            .await
            .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        Ok(products
            .into_iter()
            .map(|p| CatalogEntry {
                id: p.id,
                name: p.name.as_str().to_string(),
                price: p.price,
            })
            .collect())
    }
}

const EVENT_FIXTURE: &str = include_str!("../../tests/fixtures/apigw-v2-request.json");

/// An API Gateway v2 event: the fixture with this method, path (`/a/b?x=1`),
/// headers and body filled in.
pub fn gateway_event(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let mut event: Value = serde_json::from_str(EVENT_FIXTURE).expect("the fixture is JSON");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["routeKey"] = json!(format!("{method} {path}"));
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    if let Some(id) = path
        .strip_prefix("/products/")
        .or_else(|| path.strip_prefix("/orders/"))
    {
        event["pathParameters"] = json!({ "id": id });
    }
    for (name, value) in headers {
        event["headers"][name.to_ascii_lowercase()] = json!(value);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
        event["headers"]["content-length"] = json!(body.len().to_string());
    }
    event
}

/// A request as `lambda_http` parses it from [`gateway_event`].
pub fn gateway_request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request {
    let event = gateway_event(method, target, headers, body);
    lambda_http::request::from_str(&event.to_string()).expect("the event parses")
}

/// A response, with its body parsed as JSON where it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` names of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<Response<Body>> for TestResponse {
    fn from(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let text = match body {
            Body::Empty => String::new(),
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            text,
            body,
        }
    }
}

/// `Authorization: Bearer …` for an optional token.
pub fn bearer(token: Option<&str>) -> Vec<(&'static str, String)> {
    token
        .map(|t| vec![("authorization", format!("Bearer {t}"))])
        .unwrap_or_default()
}

/// The JSON content-type header with any others.
pub fn json_headers<'a>(extra: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    headers
}

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

/// Serves the product handlers of `store` over real HTTP on a free local port.
pub async fn serve_products<S: ProductStore + Clone + 'static>(store: S) -> TestServer {
    let handler: Handler = std::sync::Arc::new(move |request: lambda_http::Request| {
        let store = store.clone();
        Box::pin(async move {
            if request.uri().path() == "/products" {
                products::list(&store, request).await
            } else {
                products::get(&store, request).await
            }
        })
    });
    TestServer::start(handler).await
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

pub mod mongo {
    //! A database of its own for each test, dropped afterwards.

    use crate::store::MongoStore;

    /// The server under test. Tests that need MongoDB fail with this message
    /// rather than pass silently without one.
    pub fn uri() -> String {
        std::env::var("MONGODB_URI").unwrap_or_else(|_| {
            panic!("MONGODB_URI is not set: run the tests with scripts/test, which starts a server")
        })
    }

    pub struct TestDb {
        pub store: MongoStore,
        name: String,
    }

    impl TestDb {
        pub async fn new() -> Self {
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let store = MongoStore::connect(&uri(), &name)
                .await
                .expect("MONGODB_URI parses");
            Self { store, name }
        }

        pub fn name(&self) -> &str {
            &self.name
        }
    }

    impl Drop for TestDb {
        /// Drops the database from a thread of its own (Drop cannot await), with a
        /// client of its own so the test's runtime may already be gone.
        fn drop(&mut self) {
            let name = self.name.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let client = mongodb::Client::with_uri_str(uri()).await?;
                    client.database(&name).drop().await
                })?;
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            })
            .join();
        }
    }
}
