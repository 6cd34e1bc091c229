//! The binary serves an API Gateway event through the Lambda Runtime API.

use serde_json::json;
use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_issues_a_token_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    app.register("lambda", "l@example.com", "long enough").await;
    let body = json!({"username": "lambda", "password": "long enough"});
    let event = gateway_event(
        "POST",
        "/users/login",
        &[("content-type", "application/json")],
        Some(&body.to_string()),
    );
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_users-login"), &shop_env(&db), &event)
        .await
        .http();
    assert_eq!(status, 200, "{body}");
    let principal = app
        .tokens
        .verify(body["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(principal.username, "lambda");
}
