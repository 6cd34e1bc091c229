//! The binary serves an API Gateway event through the Lambda Runtime API.

use serde_json::json;
use shop_api::testing::lambda::{invoke, invoke_capturing, shop_env};
use shop_api::testing::mongo::TestDb;
use shop_api::testing::{ShopApp, gateway_event};

#[tokio::test]
async fn it_lists_products_through_the_runtime_api() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("boss", true).await;
    let id = app.product_id(&admin, "Lamp", "12.50").await;
    let event = gateway_event("GET", &format!("/products?ids={id}"), &[], None);
    let (status, body, _) = invoke(env!("CARGO_BIN_EXE_products-list"), &shop_env(&db), &event)
        .await
        .http();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["id"], id);
    assert!(body["nextCursor"].is_null());
}

/// On AWS a client's malformed query string reaches the function raw, and
/// `lambda_http` panics while making it into a request: a 400, and a log line
/// that names no source file and no type.
#[tokio::test]
async fn a_query_string_it_cannot_read_is_a_400_and_the_log_names_no_place() {
    let db = TestDb::new().await;
    let mut event = gateway_event("GET", "/products", &[], None);
    event["rawQueryString"] = json!("category=a <b>");
    let (outcome, log) =
        invoke_capturing(env!("CARGO_BIN_EXE_products-list"), &shop_env(&db), &event).await;
    let (status, body, headers) = outcome.http();
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["errors"][0]["field"], "request");
    assert!(log.contains("a panic, caught or fatal"), "{log}");
    for leak in ["panicked at", ".rs:", "InvalidUri", "registry"] {
        assert!(!log.contains(leak), "{leak} in the log: {log}");
    }
}
