//! Runs each test scenario twice: against the in-memory store and against the
//! real MongoDB-wire server that `scripts/test` starts (`MONGODB_URI`).

/// For each named `async fn scenario(app: &ShopApp<'_, S>)`, generic over the
/// store, defines a module with an `in_memory` and an `in_mongodb` test.
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use shop_core::testing::{ShopApp, mongo::TestDb};
                use shop_core::store::MemoryStore;

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
