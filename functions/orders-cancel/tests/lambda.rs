//! The binary serves an API Gateway event through the Lambda Runtime API, and
//! gives the stock back through a real product endpoint over HTTP.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event, serve_products};

#[tokio::test]
async fn it_cancels_an_order_and_its_stock_goes_back() {
    let db = TestDb::new().await;
    let products = serve_products(db.store.clone()).await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let buyer = app.user_token("buyer", false).await;
    let body = serde_json::json!({"name": "Lamp", "description": "", "price": 3, "category": "c", "stock": 5});
    let lamp = app.post("/products", Some(&admin), &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let order = app.order(&buyer, &[(&lamp, 2)], None).await;
    let id = order.body["id"].as_str().unwrap();
    let bearer = format!("Bearer {buyer}");
    let event = gateway_event(
        "POST",
        &format!("/orders/{id}/cancel"),
        &[("authorization", bearer.as_str())],
        None,
    );
    let mut env = shop_env(&db);
    env.push(("PRODUCTS_API_URL", products.url()));
    let binary = env!("CARGO_BIN_EXE_orders-cancel");
    let (status, body, _) = invoke(binary, &env, &event).await.http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let stock = app.get(&format!("/products/{lamp}"), None).await.body["stock"].clone();
    assert_eq!(stock, 5);
}
