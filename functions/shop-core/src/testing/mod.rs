//! Test support (feature `test-util`): requests built from a real API Gateway
//! HTTP API (payload 2.0) event, a client with one method per endpoint, and a
//! throwaway MongoDB database per test.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::handlers::products;
use crate::store::{Counters, OrderStore, ProductStore, UserStore};

mod app;
mod catalog;
mod http_server;
pub mod lambda;
pub use app::{ShopApp, TEST_SECRET};
pub use catalog::{CatalogMode, FakeCatalog};
pub use http_server::{Handler, TestServer};

/// Every storage trait at once: what a whole shop needs.
pub trait Stores: UserStore + Counters + ProductStore + OrderStore {}
impl<T: UserStore + Counters + ProductStore + OrderStore> Stores for T {}

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
