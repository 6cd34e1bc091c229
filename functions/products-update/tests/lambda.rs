//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_patches_a_product_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let id = app.product_id(&admin, "Lamp", "12.50").await;
    let bearer = format!("Bearer {admin}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"1\""),
    ];
    let event = gateway_event(
        "PATCH",
        &format!("/products/{id}"),
        &headers,
        Some(r#"{"price": 9.99, "stock": 3}"#),
    );
    let binary = env!("CARGO_BIN_EXE_products-update");
    let (status, body, headers) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stock"], 3);
    assert_eq!(headers["etag"], "\"2\"");
}
