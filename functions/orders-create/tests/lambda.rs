//! The binary serves an API Gateway event through the Lambda Runtime API and
//! prices the order through a real product endpoint over HTTP.

use serde_json::json;
use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_prices_and_stores_an_order_through_the_runtime_api() {
    let db = TestDb::new().await;
    let products = shop_api::testing::serve_products(db.store.clone()).await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let buyer = format!("Bearer {}", app.user_token("buyer", false).await);
    let id = app.product_id(&admin, "Pen", "19.99").await;
    let headers = [
        ("content-type", "application/json"),
        ("authorization", buyer.as_str()),
    ];
    let body = json!({"products": [{"productId": id, "quantity": 3}]}).to_string();
    let event = gateway_event("POST", "/orders", &headers, Some(&body));
    let mut env = shop_env(&db);
    env.push(("PRODUCTS_API_URL", products.url()));
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_orders-create"), &env, &event)
        .await
        .http();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["totalPrice"].to_string(), "59.97");
}
