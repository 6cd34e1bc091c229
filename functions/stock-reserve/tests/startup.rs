//! The function refuses to start, with a clear message, without a usable
//! `SERVICE_TOKEN_SECRET`, and never prints it.

use shop_api::testing::lambda::start_with;

fn start(secret: Option<&str>) -> String {
    let out = start_with(
        env!("CARGO_BIN_EXE_stock-reserve"),
        "SERVICE_TOKEN_SECRET",
        secret,
    );
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn it_refuses_to_start_without_a_service_key_or_with_a_short_one() {
    assert!(start(None).contains("SERVICE_TOKEN_SECRET is not set"));
    let short = start(Some("0123456789abcdef0123456789abcde"));
    assert!(
        short.contains("SERVICE_TOKEN_SECRET is invalid: must be at least 32 bytes"),
        "{short}"
    );
    assert!(
        !short.contains("0123456789abcdef"),
        "the key itself is never printed"
    );
    let unresolved = start(Some(
        "{{resolve:secretsmanager:shop/service-token-secret:SecretString}}",
    ));
    assert!(
        unresolved.contains("unresolved dynamic reference"),
        "{unresolved}"
    );
}
