//! The binary serves an API Gateway event through the Lambda Runtime API.

use serde_json::json;
use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_registers_a_user_through_the_runtime_api() {
    let db = TestDb::new().await;
    let body = json!({"username": "lambda", "email": "l@example.com", "password": "long enough"});
    let event = gateway_event(
        "POST",
        "/users/register",
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    );
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_users-register"), &shop_env(&db), &event)
        .await
        .http();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], "customer");
    let app = ShopApp::new(&db.store);
    assert_eq!(
        app.login("lambda", "long enough").await.status,
        200,
        "the user was stored"
    );
}
