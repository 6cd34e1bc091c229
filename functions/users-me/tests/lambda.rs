//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_answers_the_callers_account_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let token = app.user_token("lambda", false).await;
    let bearer = format!("Bearer {token}");
    let event = gateway_event(
        "GET",
        "/users/me",
        &[("authorization", bearer.as_str())],
        None,
    );
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_users-me"), &shop_env(&db), &event)
        .await
        .http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "lambda");
    assert_eq!(body["role"], "customer");
}
