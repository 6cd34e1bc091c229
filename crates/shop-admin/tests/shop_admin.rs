//! The operator command, run as a process against the real server.

use std::process::{Command, Output};

use shop_api::testing::mongo::{TestDb, uri};
use shop_api::testing::{PASSWORD, ShopApp};

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
    let login = app.login("Olga", PASSWORD).await;
    let token = login.body["accessToken"].as_str().unwrap();
    assert!(app.tokens.verify(token).unwrap().is_admin());

    let out = shop_admin(&db, &["demote", "olga@example.com"]);
    assert!(out.status.success());
    let login = app.login("olga", PASSWORD).await;
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

#[tokio::test]
async fn a_demoted_admins_old_token_loses_admin_power_at_once() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("Pia", true).await;
    assert_eq!(
        app.create_product(&admin, "Pen", "1.00", "office")
            .await
            .status,
        201
    );
    let out = shop_admin(&db, &["demote", "pia"]);
    assert!(out.status.success());
    // The token still says admin; the database does not.
    assert!(app.tokens.verify(&admin).unwrap().is_admin());
    let refused = app.create_product(&admin, "Ink", "2.00", "office").await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    // Nor does it see other buyers' orders any more.
    let other = app.user_token("Quinn", false).await;
    let product = {
        let boss = app.user_token("Rhea", true).await;
        app.product_id(&boss, "Pad", "3.00").await
    };
    assert_eq!(app.order(&other, &[(&product, 1)], None).await.status, 201);
    let listed = app.get("/orders", Some(&admin)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_disabled_users_tokens_and_logins_get_401_until_enabled() {
    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let token = app.user_token("Sam", false).await;
    assert_eq!(app.get("/orders", Some(&token)).await.status, 200);
    let out = shop_admin(&db, &["disable", "sam@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("disabled"));
    let refused = app.get("/orders", Some(&token)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    let login = app.login("sam", PASSWORD).await;
    assert_eq!(login.status, 401, "{}", login.text);
    // Told apart from a wrong password by nothing.
    let wrong = app.login("sam", "not the password").await;
    assert_eq!(login.body["type"], wrong.body["type"]);
    assert_eq!(login.body["detail"], wrong.body["detail"]);
    let out = shop_admin(&db, &["enable", "sam"]);
    assert!(out.status.success());
    assert_eq!(app.get("/orders", Some(&token)).await.status, 200);
    assert_eq!(app.login("sam", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn reconcile_releases_the_stock_of_an_order_whose_function_died() {
    use shop_domain::order::{Order, OrderRequest};
    use shop_domain::{OrderId, ProductId, now};
    use shop_store::{OrderStore, StockStore};

    let db = TestDb::new().await;
    let app = ShopApp::new(&db.store);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let body = serde_json::json!({"name": "Pen", "description": "", "price": 1, "category": "c", "stock": 5});
    let pen = app.post("/products", Some(&admin), &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What an order function leaves when it dies between reserving and storing.
    let ten_minutes_ago = now() - time::Duration::minutes(10);
    let lines = serde_json::json!({"products": [{"productId": pen, "quantity": 2}]}).to_string();
    let request = OrderRequest::parse(&lines).unwrap();
    let user = app.tokens.verify(&buyer).unwrap().user_id;
    let dead = OrderId::new();
    let pending = Order::pending(dead, user, &request, ten_minutes_ago);
    db.store.insert_order(&pending).await.unwrap();
    let pen_id = ProductId::parse(&pen).unwrap();
    db.store
        .hold_stock(pen_id, dead, 2, ten_minutes_ago)
        .await
        .unwrap();
    // A live order holds one more.
    assert_eq!(app.order(&buyer, &[(&pen, 1)], None).await.status, 201);
    let stock = || async { app.get(&format!("/products/{pen}"), None).await.body["stock"].clone() };
    assert_eq!(stock().await, 2);

    let out = Command::new(env!("CARGO_BIN_EXE_shop-admin"))
        .arg("reconcile")
        .env("MONGODB_URI", uri())
        .env("MONGODB_DATABASE", db.name())
        .env("RESERVATION_TTL_SECONDS", "60")
        .output()
        .expect("shop-admin runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("abandoned 1 pending orders"), "{said}");
    assert_eq!(
        stock().await,
        4,
        "the dead order's two are back, the live order's one is not"
    );
    let abandoned = db.store.order_status(dead).await.unwrap().map(|(s, _)| s);
    assert_eq!(abandoned, Some(shop_domain::order::OrderStatus::Abandoned));
}

#[test]
fn reconcile_says_what_is_wrong_with_its_settings() {
    let run = |envs: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_shop-admin"))
            .arg("reconcile")
            .env_clear()
            .envs(envs.iter().copied())
            .envs(std::env::var("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
            .output()
            .expect("shop-admin runs");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let bad_ttl = run(&[
        ("MONGODB_URI", "mongodb://127.0.0.1:9"),
        ("RESERVATION_TTL_SECONDS", "0"),
    ]);
    assert!(
        bad_ttl.contains("RESERVATION_TTL_SECONDS is invalid"),
        "{bad_ttl}"
    );
    let no_database = run(&[]);
    assert!(
        no_database.contains("MONGODB_URI is not set"),
        "{no_database}"
    );
    let unreachable = run(&[(
        "MONGODB_URI",
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
    )]);
    assert!(unreachable.starts_with("shop-admin: "), "{unreachable}");
}
