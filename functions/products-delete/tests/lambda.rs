//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_archives_a_product_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let id = app.product_id(&admin, "Lamp", "12.50").await;
    let bearer = format!("Bearer {admin}");
    let path = format!("/products/{id}");
    let event = gateway_event("DELETE", &path, &[("authorization", bearer.as_str())], None);
    let binary = env!("CARGO_BIN_EXE_products-delete");
    let (status, _, _) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 204);
    assert_eq!(app.get(&path, None).await.status, 404);
}
