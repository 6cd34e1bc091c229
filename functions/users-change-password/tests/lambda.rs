//! The binary serves an API Gateway event through the Lambda Runtime API.

use shop_api::testing::lambda::{invoke, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{PASSWORD, ShopApp, gateway_event};

#[tokio::test]
async fn it_changes_the_password_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let token = app.user_token("lambda", false).await;
    let bearer = format!("Bearer {token}");
    let body =
        serde_json::json!({"currentPassword": PASSWORD, "newPassword": "another passphrase"});
    let event = gateway_event(
        "POST",
        "/users/me/password",
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
        Some(&body.to_string()),
    );
    let binary = env!("CARGO_BIN_EXE_users-change-password");
    let (status, body, _) = invoke(binary, &shop_env(&db), &event).await.http();
    assert_eq!(status, 204, "{body}");
    assert_eq!(app.get("/users/me", Some(&token)).await.status, 401);
    assert_eq!(app.login("lambda", "another passphrase").await.status, 200);
}
