//! What only the real MongoDB-wire server can show: the stored documents, the
//! indexes, and the answer when the database is out of reach.

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use shop_api::testing::ShopApp;
use shop_api::testing::mongo::TestDb;
use shop_store::{MemoryStore, MongoStore};

#[tokio::test]
async fn the_stored_user_holds_an_argon2id_hash_and_no_password() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let password = "plain text never stored";
    assert_eq!(
        app.register("ivan", "ivan@example.com", password)
            .await
            .status,
        201
    );
    let users = db.store.database().collection::<Document>("users");
    let stored = users
        .find_one(doc! {"usernameKey": "ivan"})
        .await
        .unwrap()
        .unwrap();
    let hash = stored.get_str("passwordHash").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!stored.to_string().contains(password));
    assert_eq!(stored.get_str("role").unwrap(), "customer");
    assert_eq!(stored.get_str("email").unwrap(), "ivan@example.com");
}

#[tokio::test]
async fn prices_are_stored_as_exact_cents() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("admin", true).await;
    app.create_product(&admin, "Pen", "19.99", "office").await;
    let products = db.store.database().collection::<Document>("products");
    let stored = products.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(stored.get_i64("priceCents").unwrap(), 1999);
}

#[tokio::test]
async fn indexes_are_ensured_idempotently_by_every_instance() {
    let db = TestDb::new().await;
    // Two instances of a function, each ensuring the same indexes.
    let second = MongoStore::connect(&shop_api::testing::mongo::uri(), db.name())
        .await
        .unwrap();
    db.store.ensure_indexes().await.unwrap();
    second.ensure_indexes().await.unwrap();
    second.ensure_indexes().await.unwrap();
    let names = |collection: &'static str| {
        let database = db.store.database().clone();
        async move {
            let mut names: Vec<String> = database
                .collection::<Document>(collection)
                .list_index_names()
                .await
                .unwrap();
            names.sort();
            names
        }
    };
    assert_eq!(
        names("users").await,
        ["_id_", "email_unique", "usernameKey_unique"]
    );
    assert_eq!(names("rate_counters").await, ["_id_", "expiresAt_ttl"]);
    assert_eq!(names("products").await, ["_id_", "category_1__id_-1"]);
    assert_eq!(names("orders").await, ["_id_", "userId_1__id_-1"]);
    assert_eq!(
        names("idempotency_keys").await,
        ["_id_", "createdAt_ttl", "userId_key_unique"]
    );
    let ttl: Vec<Document> = db
        .store
        .database()
        .collection::<Document>("rate_counters")
        .list_indexes()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|index| mongodb::bson::to_document(&index).ok())
        .collect();
    assert!(
        ttl.iter().any(|i| i.get("expireAfterSeconds").is_some()),
        "{ttl:?}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_that_names_no_driver_detail() {
    // Nothing listens on port 9; the driver gives up after a short selection timeout.
    let uri = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300";
    let store = MongoStore::connect(uri, "unreachable").await.unwrap();
    let app = ShopApp::new(&store);
    let register = app
        .register("judy", "judy@example.com", "correct horse")
        .await;
    let list = app.get("/products", None).await;
    for response in [register, list] {
        assert_eq!(response.status, 503, "{}", response.text);
        assert_eq!(
            response.body["type"],
            "https://shop.invalid/problems/unavailable"
        );
        let text = response.text.to_lowercase();
        for leak in [
            "server selection",
            "127.0.0.1",
            "mongodb",
            "connection refused",
            "timed out",
        ] {
            assert!(!text.contains(leak), "{leak} leaked: {}", response.text);
        }
    }
}

#[tokio::test]
async fn an_offline_store_is_a_503_not_a_500() {
    let store = MemoryStore::new();
    store
        .offline
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let app = ShopApp::new(&store);
    assert_eq!(app.login("kim", "whatever-password").await.status, 503);
    assert_eq!(
        app.get("/products/0123456789abcdef01234567", None)
            .await
            .status,
        503
    );
}
