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
    assert_eq!(
        names("products").await,
        ["_id_", "category_1__id_-1", "holds.order_1"]
    );
    assert_eq!(
        names("orders").await,
        [
            "_id_",
            "status_1_createdAt_1",
            "userId_1__id_-1",
            "userId_idempotencyKey_unique"
        ]
    );
    let indexes = |collection: &'static str| {
        let db = &db;
        async move {
            db.store
                .database()
                .collection::<Document>(collection)
                .list_indexes()
                .await
                .unwrap()
                .try_collect::<Vec<mongodb::IndexModel>>()
                .await
                .unwrap()
        }
    };
    let ttl = indexes("rate_counters").await;
    assert!(
        ttl.iter()
            .any(|i| i.options.as_ref().is_some_and(|o| o.expire_after.is_some())),
        "{ttl:?}"
    );
    // Orders without a key are not in the key index: any number of them.
    let orders = indexes("orders").await;
    let keys = orders
        .iter()
        .filter_map(|index| index.options.as_ref())
        .find(|o| o.name.as_deref() == Some("userId_idempotencyKey_unique"))
        .unwrap_or_else(|| panic!("{orders:?}"));
    assert_eq!(keys.unique, Some(true), "{keys:?}");
    assert_eq!(
        keys.partial_filter_expression,
        Some(doc! {"idempotency.key": {"$exists": true}}),
        "{keys:?}"
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

/// A product as the first version of the shop stored it: no stock, version,
/// `updatedAt` or `archived`.
fn first_version_product(id: mongodb::bson::oid::ObjectId) -> Document {
    doc! {
        "_id": id,
        "name": "Old pen",
        "description": "from v1",
        "priceCents": 250_i64,
        "category": "legacy",
        "createdAt": mongodb::bson::DateTime::from_millis(1_700_000_000_000),
    }
}

#[tokio::test]
async fn products_stored_before_stock_and_versions_read_and_edit_as_version_1() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("admin", true).await;
    let id = mongodb::bson::oid::ObjectId::new();
    let products = db.store.database().collection::<Document>("products");
    products
        .insert_one(first_version_product(id))
        .await
        .unwrap();
    let path = format!("/products/{}", id.to_hex());

    let fetched = app.get(&path, None).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.body["stock"], serde_json::Value::Null, "untracked");
    assert_eq!(fetched.body["updatedAt"], fetched.body["createdAt"]);
    assert_eq!(fetched.body["createdAt"], "2023-11-14T22:13:20Z");
    let categories = app.get("/categories", None).await;
    assert_eq!(categories.body["items"][0]["name"], "legacy");

    let stale = app
        .patch(
            &path,
            Some(&admin),
            Some("\"2\""),
            &serde_json::json!({"price": 3}),
        )
        .await;
    assert_eq!(stale.status, 412);
    let patched = app
        .patch(
            &path,
            Some(&admin),
            Some("\"1\""),
            &serde_json::json!({"price": 3}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    let stored = products.find_one(doc! {"_id": id}).await.unwrap().unwrap();
    assert_eq!(stored.get_i64("version").unwrap(), 2);
    assert_eq!(stored.get_i64("priceCents").unwrap(), 300);

    let buyer = app.user_token("buyer", false).await;
    let order = app.order(&buyer, &[(&id.to_hex(), 1)], None).await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(app.delete(&path, Some(&admin)).await.status, 204);
    let archived = products.find_one(doc! {"_id": id}).await.unwrap().unwrap();
    assert!(archived.get_bool("archived").unwrap(), "kept, not erased");
}

#[tokio::test]
async fn users_stored_before_password_changes_keep_their_tokens_until_one() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let token = app.user_token("vera", false).await;
    let users = db.store.database().collection::<Document>("users");
    users
        .update_one(
            doc! {"usernameKey": "vera"},
            doc! {"$unset": {"tokenGeneration": ""}},
        )
        .await
        .unwrap();
    assert_eq!(app.get("/users/me", Some(&token)).await.status, 200);
    let change = serde_json::json!({
        "currentPassword": shop_api::testing::PASSWORD,
        "newPassword": "the next passphrase",
    });
    let changed = app.post("/users/me/password", Some(&token), &change).await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    assert_eq!(app.get("/users/me", Some(&token)).await.status, 401);
    let stored = users
        .find_one(doc! {"usernameKey": "vera"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.get_i64("tokenGeneration").unwrap(), 1);
}

#[tokio::test]
async fn orders_stored_before_the_lifecycle_read_as_created_by_their_buyer_and_move_on() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    let placed = app.order(&buyer, &[(&pen, 1)], None).await;
    let id = mongodb::bson::oid::ObjectId::parse_str(placed.body["id"].as_str().unwrap()).unwrap();
    // As the first version stored it: no statusHistory, no updatedAt.
    let orders = db.store.database().collection::<Document>("orders");
    orders
        .update_one(
            doc! {"_id": id},
            doc! {"$unset": {"statusHistory": "", "updatedAt": ""}},
        )
        .await
        .unwrap();
    let path = format!("/orders/{}", id.to_hex());
    let old = app.get(&path, Some(&buyer)).await;
    assert_eq!(old.status, 200, "{}", old.text);
    let buyer_id = app.tokens.verify(&buyer).unwrap().user_id.to_string();
    assert_eq!(
        old.body["statusHistory"],
        serde_json::json!([{"status": "created", "at": old.body["createdAt"], "by": buyer_id}])
    );
    assert_eq!(old.body["updatedAt"], old.body["createdAt"]);
    let paid = app
        .patch(
            &path,
            Some(&admin),
            None,
            &serde_json::json!({"status": "paid"}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let history = paid.body["statusHistory"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["by"], buyer_id);
    assert_eq!(history[1]["status"], "paid");
    let stored = orders.find_one(doc! {"_id": id}).await.unwrap().unwrap();
    assert_eq!(stored.get_array("statusHistory").unwrap().len(), 2);
}
