//! The binary serves the storefront through the Lambda Runtime API.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shop_api::testing::gateway_event;
use shop_api::testing::lambda::{Outcome, invoke};

#[tokio::test]
async fn it_serves_the_storefront_through_the_runtime_api() {
    let event = gateway_event("GET", "/", &[("accept-encoding", "gzip")], None);
    let binary = env!("CARGO_BIN_EXE_web-storefront");
    let Outcome::Response(response) = invoke(binary, &[], &event).await else {
        panic!("the function failed");
    };
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-encoding"], "gzip");
    assert_eq!(response["isBase64Encoded"], true);
    let zipped = STANDARD.decode(response["body"].as_str().unwrap()).unwrap();
    // A gzip stream: its magic bytes.
    assert_eq!(&zipped[..2], &[0x1f, 0x8b]);
    assert!(
        response["headers"]["etag"]
            .as_str()
            .unwrap()
            .starts_with('"')
    );
}
