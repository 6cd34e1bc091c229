//! The function refuses to start, with a clear message, without a usable `JWT_SECRET`.

use shop_api::testing::lambda::start_with_secret;

const BINARY: &str = env!("CARGO_BIN_EXE_products-create");

#[test]
fn it_refuses_to_start_without_a_jwt_secret() {
    let out = start_with_secret(BINARY, None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET is not set"), "{stderr}");
}

#[test]
fn it_refuses_to_start_with_a_secret_shorter_than_32_bytes() {
    let out = start_with_secret(BINARY, Some("0123456789abcdef0123456789abcde"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JWT_SECRET is 31 bytes long; it must be at least 32 bytes"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("0123456789abcdef"),
        "the secret itself is never printed"
    );
}
