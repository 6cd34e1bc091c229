//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_creates_a_product_for_an_admin_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = format!("Bearer {}", app.user_token("boss", true).await);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", admin.as_str()),
    ];
    let body = r#"{"name": "Lamp", "description": "", "price": 12.50, "category": "home"}"#;
    let event = gateway_event("POST", "/products", &headers, Some(body));
    let (status, body, headers) = invoke(
        env!("CARGO_BIN_EXE_products-create"),
        &shop_env(&db),
        &event,
    )
    .await
    .http();
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        headers["location"],
        format!("/products/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(
        app.get("/products", None).await.body["items"][0]["name"],
        "Lamp"
    );
}
