//! The binary serves the spec and the reference page through the Lambda Runtime API.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shop_api::testing::gateway_event;
use shop_api::testing::lambda::{Outcome, invoke};

/// The status, headers and body bytes of a response the binary gave.
async fn get(path: &str) -> (u64, serde_json::Value, Vec<u8>) {
    // The fixture's client takes gzip; this one does not.
    let event = gateway_event("GET", path, &[("accept-encoding", "identity")], None);
    let binary = env!("CARGO_BIN_EXE_web-docs");
    let Outcome::Response(response) = invoke(binary, &[], &event).await else {
        panic!("the function failed");
    };
    let body = response["body"].as_str().unwrap_or_default();
    let bytes = if response["isBase64Encoded"] == true {
        STANDARD.decode(body).expect("base64")
    } else {
        body.as_bytes().to_vec()
    };
    (
        response["statusCode"].as_u64().unwrap(),
        response["headers"].clone(),
        bytes,
    )
}

#[tokio::test]
async fn it_serves_the_spec_and_the_page_through_the_runtime_api() {
    let (status, headers, body) = get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let spec: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spec["paths"]["/docs"]["get"]["operationId"], "getDocs");

    let (status, headers, body) = get("/docs").await;
    assert_eq!(status, 200);
    assert!(
        headers["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("swagger-ui-bundle.js")
    );

    let (status, _, body) = get("/docs/missing.js").await;
    assert_eq!(status, 404);
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 404);
}
