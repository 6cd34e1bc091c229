//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_lists_categories_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    app.product_id(&admin, "Lamp", "12.50").await;
    let event = gateway_event("GET", "/categories", &[], None);
    let binary = env!("CARGO_BIN_EXE_categories-list");
    let (status, body, _) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["name"], "misc");
    assert_eq!(body["items"][0]["count"], 1);
}
