//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_lists_the_callers_orders_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let buyer = app.user_token("buyer", false).await;
    let id = app.product_id(&admin, "Pen", "19.99").await;
    let order = app.order(&buyer, &[(&id, 1)], None).await;
    let bearer = format!("Bearer {buyer}");
    let event = gateway_event(
        "GET",
        "/orders",
        &[("authorization", bearer.as_str())],
        None,
    );
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_orders-list"), &shop_env(&db), &event)
        .await
        .http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["id"], order.body["id"]);
}
