//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_moves_an_order_to_paid() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let buyer = app.user_token("buyer", false).await;
    let lamp = app.product_id(&admin, "Lamp", "3.00").await;
    let order = app.order(&buyer, &[(&lamp, 1)], None).await;
    let id = order.body["id"].as_str().unwrap();
    let bearer = format!("Bearer {admin}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let event = gateway_event(
        "PATCH",
        &format!("/orders/{id}"),
        &headers,
        Some(r#"{"status":"paid"}"#),
    );
    let binary = env!("CARGO_BIN_EXE_orders-update");
    let (status, body, _) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["statusHistory"][1]["status"], "paid");
}
