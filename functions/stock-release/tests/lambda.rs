//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::stock::token::ServiceTokens;
use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{TEST_SERVICE_SECRET, gateway_event};
use shop_domain::OrderId;

#[tokio::test]
async fn it_releases_an_order_that_holds_nothing_with_204() {
    let db = TestDb::new().await;
    let service = ServiceTokens::new(&TEST_SERVICE_SECRET.into()).unwrap();
    let bearer = format!("Bearer {}", service.issue("tests").unwrap());
    let path = format!("/stock/reservations/{}", OrderId::new());
    let mut event = gateway_event("DELETE", &path, &[("authorization", bearer.as_str())], None);
    event["pathParameters"] = serde_json::json!({"orderId": path.rsplit('/').next()});
    let binary = env!("CARGO_BIN_EXE_stock-release");
    let (status, body, _) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 204, "{body}");
}
