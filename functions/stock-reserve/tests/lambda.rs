//! The binary serves an API Gateway event through the Lambda Runtime API.

use serde_json::json;
use shop_api::stock::token::ServiceTokens;
use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, TEST_SERVICE_SECRET, gateway_event};
use shop_domain::OrderId;

#[tokio::test]
async fn it_reserves_stock_for_a_service_token_only() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let body =
        json!({"name": "Lamp", "description": "", "price": 12.5, "category": "c", "stock": 2});
    let lamp = app.post("/products", Some(&admin), &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reservation = json!({
        "orderId": OrderId::new().to_string(),
        "products": [{"productId": lamp, "quantity": 2}],
    })
    .to_string();
    let binary = env!("CARGO_BIN_EXE_stock-reserve");
    let service = ServiceTokens::new(&TEST_SERVICE_SECRET.into()).unwrap();
    for (token, expected) in [(admin, 403), (service.issue("tests").unwrap(), 200)] {
        let bearer = format!("Bearer {token}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        let event = gateway_event("POST", "/stock/reservations", &headers, Some(&reservation));
        let (status, body, _) = invoke(binary, &shop_env(&db), &event).await.http();
        assert_eq!(status, expected, "{body}");
    }
    let product = app.get(&format!("/products/{lamp}"), None).await;
    assert_eq!(product.body["stock"], 0);
}
