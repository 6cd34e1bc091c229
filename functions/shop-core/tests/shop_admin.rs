//! The operator command, run as a process against the real server.

use std::process::{Command, Output};

use shop_core::testing::ShopApp;
use shop_core::testing::mongo::{TestDb, uri};

fn shop_admin(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shop-admin"))
        .args(args)
        .env("MONGODB_URI", uri())
        .env("MONGODB_DATABASE", db.name())
        .output()
        .expect("shop-admin runs")
}

#[tokio::test]
async fn promote_makes_a_registered_user_an_admin_by_username_or_email() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let customer = app.user_token("Olga", false).await;
    assert!(!app.tokens.verify(&customer).unwrap().is_admin());

    let out = shop_admin(&db, &["promote", "olga"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Olga"));
    let login = app.login("Olga", "correct horse battery").await;
    let token = login.body["accessToken"].as_str().unwrap();
    assert!(app.tokens.verify(token).unwrap().is_admin());

    let out = shop_admin(&db, &["demote", "olga@example.com"]);
    assert!(out.status.success());
    let login = app.login("olga", "correct horse battery").await;
    let token = login.body["accessToken"].as_str().unwrap();
    assert!(!app.tokens.verify(token).unwrap().is_admin());
}

#[tokio::test]
async fn promote_fails_clearly_for_an_unknown_user_or_bad_usage() {
    let db = TestDb::new().await;
    let out = shop_admin(&db, &["promote", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no registered user is called \"ghost\"")
    );
    let out = shop_admin(&db, &["elevate", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: shop-admin"));
}

#[test]
fn without_mongodb_uri_it_says_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_shop-admin"))
        .args(["promote", "x"])
        .env_remove("MONGODB_URI")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MONGODB_URI is not set"));
}
