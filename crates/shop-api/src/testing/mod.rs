//! Test support (feature `test-util`): requests built from a real API Gateway
//! HTTP API (payload 2.0) event, a client with one method per endpoint, and a
//! throwaway MongoDB database per test.

mod app;
pub(crate) mod catalog;
mod events;
mod http_server;
pub mod lambda;
pub mod mongo;
mod requests;

pub use app::{PASSWORD, ShopApp, TEST_SECRET, TEST_SERVICE_SECRET};
pub use catalog::{CatalogMode, FakeCatalog};
pub use events::{Stores, TestResponse, bearer, gateway_event, gateway_request, json_headers};
pub use http_server::{Handler, TestServer, serve_http1};
pub use shop_store::MemoryStore;

use shop_store::{OrderStore, ProductStore, StockStore};

use crate::stock::ledger::DEFAULT_RESERVATION_TTL;
use crate::stock::token::ServiceTokens;
use crate::{products, stock};

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

/// Serves the product function's handlers of `store` over real HTTP on a free
/// local port: the catalogue reads and the stock routes (which take service
/// tokens signed with [`TEST_SERVICE_SECRET`]).
pub async fn serve_products<S>(store: S) -> TestServer
where
    S: ProductStore + StockStore + OrderStore + Clone + 'static,
{
    let service = ServiceTokens::new(&TEST_SERVICE_SECRET.into()).expect("a long enough key");
    let handler: Handler = std::sync::Arc::new(move |request: lambda_http::Request| {
        let store = store.clone();
        let service = service.clone();
        Box::pin(async move {
            let path = request.uri().path().to_string();
            match (request.method().as_str(), path.as_str()) {
                ("GET", "/products") => products::list::handle(&store, request).await,
                ("POST", "/stock/reservations") => {
                    stock::reserve::handle(&store, &service, DEFAULT_RESERVATION_TTL, request).await
                }
                ("DELETE", p) if p.starts_with("/stock/reservations/") => {
                    stock::release::handle(&store, &service, request).await
                }
                _ => products::get::handle(&store, request).await,
            }
        })
    });
    TestServer::start(handler).await
}
