//! Orders priced by a real product endpoint over HTTP (the product handlers
//! served on a local port), stored in the real MongoDB-wire server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use lambda_http::{Body, Response};
use mongodb::bson::{Document, doc};
use shop_api::catalog::CatalogLimits;
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{Handler, ShopApp, TestServer, serve_products};
use shop_store::MongoStore;

const LIMITS: CatalogLimits = CatalogLimits {
    connect_timeout: Duration::from_millis(500),
    attempt_timeout: Duration::from_millis(1500),
};

/// Orders placed (a pending or abandoned one is not an order, and no read shows
/// it).
async fn order_count(store: &MongoStore) -> u64 {
    let orders = store.database().collection::<Document>("orders");
    orders
        .count_documents(doc! {"status": {"$nin": ["pending", "abandoned"]}})
        .await
        .unwrap()
}

/// A product endpoint that counts reservation calls (POSTs) and answers every
/// call with `status` after `delay`.
async fn misbehaving_endpoint(status: u16, delay: Duration) -> (TestServer, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handler: Handler = Arc::new(move |request: lambda_http::Request| {
        if request.method() == "POST" {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::Text(r#"{"items": [], "nextCursor": null}"#.into()))
                .unwrap()
        })
    });
    (TestServer::start(handler).await, calls)
}

#[tokio::test]
async fn an_order_is_priced_over_http_then_listed_and_fetched_with_the_same_total() {
    let db = TestDb::new().await;
    let products = serve_products(db.store.clone()).await;
    let app = ShopApp::new(&db.store).with_products_at(&products.url(), LIMITS);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "19.99").await;
    let clip = app.product_id(&admin, "Clip", "0.10").await;

    let order = app.order(&buyer, &[(&pen, 3), (&clip, 2)], None).await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert!(
        order.text.contains(r#""totalPrice":60.17"#),
        "{}",
        order.text
    );
    assert_eq!(
        app.catalog.calls(),
        0,
        "the fake was not used: pricing went over HTTP"
    );

    let id = order.body["id"].as_str().unwrap();
    let fetched = app.get(&format!("/orders/{id}"), Some(&buyer)).await;
    assert_eq!(fetched.body, order.body);
    let listed = app.get("/orders", Some(&buyer)).await;
    assert_eq!(listed.body["items"][0], order.body);
    assert!(listed.text.contains(r#""totalPrice":60.17"#));

    let ghost = "0123456789abcdef01234567";
    let unknown = app.order(&buyer, &[(&pen, 1), (ghost, 1)], None).await;
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.body["missing"], serde_json::json!([ghost]));
    assert_eq!(order_count(&db.store).await, 1);
}

#[tokio::test]
async fn fifty_parallel_posts_with_one_key_leave_exactly_one_order() {
    let db = TestDb::new().await;
    let products = serve_products(db.store.clone()).await;
    let app = ShopApp::new(&db.store).with_products_at(&products.url(), LIMITS);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "4.25").await;

    let lines = [(pen.as_str(), 2)];
    let attempts = (0..50).map(|_| app.order(&buyer, &lines, Some("checkout-42")));
    let responses = join_all(attempts).await;
    // Each answer is the one order, or "still in progress, come back in a second".
    let created: Vec<_> = responses.iter().filter(|r| r.status == 201).collect();
    for response in &responses {
        match response.status {
            201 => assert_eq!(response.body, created[0].body, "every 201 is the one order"),
            409 => {
                assert!(
                    response.text.contains("idempotency-in-progress"),
                    "{}",
                    response.text
                );
                assert_eq!(response.header("retry-after"), Some("1"));
            }
            other => panic!("{other}: {}", response.text),
        }
    }
    let originals = created
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1, "exactly one response created the order");
    // A client that comes back as told gets the order.
    let again = app.order(&buyer, &lines, Some("checkout-42")).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, created[0].body);
    assert_eq!(order_count(&db.store).await, 1);
}

#[tokio::test]
async fn with_the_product_endpoint_down_the_answer_is_503_and_nothing_is_stored() {
    let db = TestDb::new().await;
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = ShopApp::new(&db.store).with_products_at(&closed, LIMITS);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "1.00").await;
    let response = app.order(&buyer, &[(&pen, 1)], Some("while-down")).await;
    assert_eq!(response.status, 503, "{}", response.text);
    assert!(
        !response.text.contains("127.0.0.1"),
        "no connection detail leaks"
    );
    assert_eq!(order_count(&db.store).await, 0);
}

/// Orders one product while the product endpoint misbehaves as told; returns
/// the answer, how often the endpoint was called, and how many orders exist.
async fn order_with_misbehaving_products(
    status: u16,
    delay: Duration,
    limits: CatalogLimits,
) -> (u16, usize, u64) {
    let db = TestDb::new().await;
    let (endpoint, calls) = misbehaving_endpoint(status, delay).await;
    let app = ShopApp::new(&db.store).with_products_at(&endpoint.url(), limits);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "1.00").await;
    let response = app.order(&buyer, &[(&pen, 1)], None).await;
    (
        response.status,
        calls.load(Ordering::SeqCst),
        order_count(&db.store).await,
    )
}

#[tokio::test]
async fn a_failing_product_endpoint_is_retried_once_then_503() {
    let (status, calls, orders) =
        order_with_misbehaving_products(500, Duration::ZERO, LIMITS).await;
    assert_eq!(status, 503);
    assert_eq!(calls, 2, "one try and one retry");
    assert_eq!(orders, 0);
}

#[tokio::test]
async fn a_product_endpoint_answering_4xx_is_503_without_a_retry() {
    let (status, calls, orders) =
        order_with_misbehaving_products(404, Duration::ZERO, LIMITS).await;
    assert_eq!(status, 503);
    assert_eq!(calls, 1, "a 4xx will not change on a retry");
    assert_eq!(orders, 0);
}

#[tokio::test]
async fn a_product_endpoint_slower_than_the_deadline_is_503() {
    let limits = CatalogLimits {
        connect_timeout: Duration::from_millis(200),
        attempt_timeout: Duration::from_millis(300),
    };
    let (status, calls, orders) =
        order_with_misbehaving_products(200, Duration::from_secs(10), limits).await;
    assert_eq!(status, 503);
    assert_eq!(calls, 2);
    assert_eq!(orders, 0);
}

#[tokio::test]
async fn an_order_keeps_the_price_it_was_bought_at() {
    let db = TestDb::new().await;
    let products = serve_products(db.store.clone()).await;
    let app = ShopApp::new(&db.store).with_products_at(&products.url(), LIMITS);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "19.99").await;
    let before = app.order(&buyer, &[(&pen, 1)], None).await;

    // There is no update endpoint; the catalogue changes underneath.
    let oid = mongodb::bson::oid::ObjectId::parse_str(&pen).unwrap();
    db.store
        .database()
        .collection::<Document>("products")
        .update_one(
            doc! {"_id": oid},
            doc! {"$set": {"priceCents": 2999_i64, "name": "Pen v2"}},
        )
        .await
        .unwrap();

    let after = app.order(&buyer, &[(&pen, 1)], None).await;
    assert!(
        after.text.contains(r#""totalPrice":29.99"#),
        "{}",
        after.text
    );
    let old = app
        .get(
            &format!("/orders/{}", before.body["id"].as_str().unwrap()),
            Some(&buyer),
        )
        .await;
    assert!(old.text.contains(r#""unitPrice":19.99"#), "{}", old.text);
    assert!(old.text.contains(r#""totalPrice":19.99"#));
    assert_eq!(old.body["products"][0]["name"], "Pen");
}

/// The contract's contention rule with every part real: 20 buyers' orders of one
/// unit, at once, for a product with 5 in stock; the order handlers call the
/// product endpoint over HTTP, and both use the MongoDB-wire server.
#[tokio::test]
async fn twenty_parallel_orders_over_http_for_five_in_stock_sell_exactly_five() {
    let db = TestDb::new().await;
    let products = serve_products(db.store.clone()).await;
    // 21 registrations from the one test address: more than a day's default.
    let mut limits = shop_domain::limits::Limits::default();
    limits.registrations_per_address.max = 100;
    let app = ShopApp::new(&db.store)
        .with_limits(limits)
        .with_products_at(&products.url(), LIMITS);
    let admin = app.user_token("admin", true).await;
    let body = serde_json::json!({"name": "Pen", "description": "", "price": 1, "category": "c", "stock": 5});
    let pen = app.post("/products", Some(&admin), &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut buyers = Vec::new();
    for i in 0..20 {
        buyers.push(app.user_token(&format!("buyer{i}"), false).await);
    }
    let line = [(pen.as_str(), 1)];
    let answers = join_all(buyers.iter().map(|buyer| app.order(buyer, &line, None))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, refused), (5, 15), "{statuses:?}");
    for answer in answers.iter().filter(|a| a.status == 409) {
        assert_eq!(
            answer.body["insufficient"][0]["available"], 0,
            "{}",
            answer.text
        );
    }
    let stock = app.get(&format!("/products/{pen}"), None).await.body["stock"].clone();
    assert_eq!(stock, 0);
    assert_eq!(order_count(&db.store).await, 5);
    // Every unit is accounted for: the stock plus what the orders hold.
    let products = db.store.database().collection::<Document>("products");
    let oid = mongodb::bson::oid::ObjectId::parse_str(&pen).unwrap();
    let stored = products.find_one(doc! {"_id": oid}).await.unwrap().unwrap();
    assert_eq!(stored.get_array("holds").unwrap().len(), 5);
    println!("20 parallel orders for 5 in stock: {created} x 201, {refused} x 409, stock {stock}");
}
