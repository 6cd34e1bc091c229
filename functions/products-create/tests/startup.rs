//! The function refuses to start, with a clear message, without a usable `JWT_SECRET`.

use std::process::{Command, Output};

fn start(secret: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_products-create"));
    command
        .env_clear()
        .env("MONGODB_URI", "mongodb://127.0.0.1:9");
    if let Some(secret) = secret {
        command.env("JWT_SECRET", secret);
    }
    command.output().expect("the function binary runs")
}

#[test]
fn it_refuses_to_start_without_a_jwt_secret() {
    let out = start(None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET is not set"), "{stderr}");
}

#[test]
fn it_refuses_to_start_with_a_secret_shorter_than_32_bytes() {
    let out = start(Some("0123456789abcdef0123456789abcde"));
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
