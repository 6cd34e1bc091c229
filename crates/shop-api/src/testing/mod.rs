//! Test support (feature `test-util`): requests built from a real API Gateway
//! HTTP API (payload 2.0) event, a client with one method per endpoint, and a
//! throwaway MongoDB database per test.

mod app;
mod catalog;
mod events;
mod http_server;
pub mod lambda;
pub mod mongo;

pub use app::{PASSWORD, ShopApp, TEST_SECRET};
pub use catalog::{CatalogMode, FakeCatalog};
pub use events::{Stores, TestResponse, bearer, gateway_event, gateway_request, json_headers};
pub use http_server::{Handler, TestServer};
pub use shop_store::MemoryStore;

use shop_store::ProductStore;

use crate::products;

/// For each named `async fn scenario(app: &ShopApp<'_, S>)`, generic over the
/// store, defines a module with two tests: one against the in-memory store and
/// one against the real MongoDB-wire server that `scripts/test` starts
/// (`MONGODB_URI`).
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use $crate::testing::{ShopApp, mongo::TestDb};
                use $crate::testing::MemoryStore;

                #[tokio::test]
                async fn in_memory() {
                    let store = MemoryStore::new();
                    super::$scenario(&ShopApp::new(&store)).await;
                }

                #[tokio::test]
                async fn in_mongodb() {
                    let db = TestDb::new().await;
                    super::$scenario(&ShopApp::new(&db.store)).await;
                }
            }
        )*
    };
}

/// Serves the product handlers of `store` over real HTTP on a free local port.
pub async fn serve_products<S: ProductStore + Clone + 'static>(store: S) -> TestServer {
    let handler: Handler = std::sync::Arc::new(move |request: lambda_http::Request| {
        let store = store.clone();
        Box::pin(async move {
            if request.uri().path() == "/products" {
                products::list::handle(&store, request).await
            } else {
                products::get::handle(&store, request).await
            }
        })
    });
    TestServer::start(handler).await
}
