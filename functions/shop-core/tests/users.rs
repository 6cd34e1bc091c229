//! `POST /users/register` and `POST /users/login`, through API Gateway events.

mod common;

use serde_json::json;
use shop_core::limits::Limits;
use shop_core::testing::{ShopApp, Stores as Store};

const PASSWORD: &str = "correct horse battery";

on_both_stores!(
    register_answers_201_with_the_public_view_and_never_the_password,
    register_accepts_each_limit_at_its_edge_and_refuses_one_past_it,
    register_lists_every_failing_field_at_once,
    register_refuses_a_taken_username_in_any_letter_case_with_409,
    register_refuses_a_taken_email_in_any_letter_case_with_409,
    register_refuses_an_operator_object_where_a_string_belongs,
    register_refuses_bodies_that_are_not_json_objects,
    login_returns_a_bearer_token_for_username_or_email,
    login_gives_one_401_body_for_an_unknown_user_and_a_wrong_password,
    login_refuses_a_pair_after_ten_failures_and_the_owner_still_logs_in_elsewhere,
    login_answers_no_more_than_ten_parallel_guesses,
    login_counts_username_and_email_as_one_account,
    login_limits_a_name_that_has_no_account_exactly_alike,
    login_never_counts_a_right_password,
    login_past_the_account_limit_refuses_only_addresses_that_failed,
    login_attempts_are_limited_per_address,
    registrations_are_limited_per_address,
);

const HOME: &str = "198.51.100.1";
const ELSEWHERE: &str = "198.51.100.2";

async fn register_answers_201_with_the_public_view_and_never_the_password<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let response = app.register("Alice", "Alice@Example.com", PASSWORD).await;
    assert_eq!(response.status, 201, "{}", response.text);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = &response.body;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["createdAt", "email", "id", "role", "username"]);
    assert_eq!(body["username"], "Alice");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["role"], "customer");
    assert_eq!(body["id"].as_str().unwrap().len(), 24);
    let created = body["createdAt"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
    assert!(created.ends_with('Z'), "{created}");
    assert!(!response.text.contains(PASSWORD));
    assert!(!response.text.contains("argon2"));

    let stored = app.store.find_user("alice").await.unwrap().unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains(PASSWORD));
}

async fn register_accepts_each_limit_at_its_edge_and_refuses_one_past_it<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let domain = format!(
        "{}.{}.{}.com",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(57)
    );
    let email_254 = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
    let email_255 = format!("y{email_254}");
    let cases = [
        ("abc", "u3@example.com".to_string(), "p".repeat(8), None),
        (
            &*"u".repeat(32),
            "u32@example.com".to_string(),
            "p".repeat(128),
            None,
        ),
        (
            "ab",
            "u2@example.com".to_string(),
            "p".repeat(8),
            Some("username"),
        ),
        (
            &*"v".repeat(33),
            "u33@example.com".to_string(),
            "p".repeat(8),
            Some("username"),
        ),
        (
            "pw7",
            "pw7@example.com".to_string(),
            "p".repeat(7),
            Some("password"),
        ),
        (
            "pw129",
            "pw129@example.com".to_string(),
            "p".repeat(129),
            Some("password"),
        ),
        ("mail254", email_254, "p".repeat(8), None),
        ("mail255", email_255, "p".repeat(8), Some("email")),
    ];
    for (username, email, password, failing) in cases {
        let response = app.register(username, &email, &password).await;
        match failing {
            None => assert_eq!(response.status, 201, "{username}: {}", response.text),
            Some(field) => {
                assert_eq!(response.status, 400, "{username}: {}", response.text);
                assert_eq!(response.error_fields(), [field], "{username}");
            }
        }
    }
}

async fn register_lists_every_failing_field_at_once<S: Store>(app: &ShopApp<'_, S>) {
    let body =
        json!({"username": "x!", "email": "not-an-email", "password": "short", "role": "admin"});
    let response = app.post("/users/register", None, &body).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        response.error_fields(),
        ["role", "username", "email", "password"]
    );
    assert_eq!(
        response.body["type"],
        "https://shop.invalid/problems/validation"
    );
    assert!(
        response.body["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let empty = app.post("/users/register", None, &json!({})).await;
    assert_eq!(empty.error_fields(), ["username", "email", "password"]);
}

async fn register_refuses_a_taken_username_in_any_letter_case_with_409<S: Store>(
    app: &ShopApp<'_, S>,
) {
    assert_eq!(
        app.register("bob", "bob@example.com", PASSWORD)
            .await
            .status,
        201
    );
    for name in ["bob", "BOB", "Bob"] {
        let again = app
            .register(name, &format!("other-{name}@example.com"), PASSWORD)
            .await;
        assert_eq!(again.status, 409, "{name}: {}", again.text);
        assert_eq!(again.body["detail"], "username is already taken");
    }
}

async fn register_refuses_a_taken_email_in_any_letter_case_with_409<S: Store>(
    app: &ShopApp<'_, S>,
) {
    assert_eq!(
        app.register("carol", "carol@example.com", PASSWORD)
            .await
            .status,
        201
    );
    for (name, email) in [
        ("carol2", "carol@example.com"),
        ("carol3", "CAROL@Example.COM"),
    ] {
        let again = app.register(name, email, PASSWORD).await;
        assert_eq!(again.status, 409, "{email}: {}", again.text);
        assert_eq!(again.body["detail"], "email is already taken");
    }
}

async fn register_refuses_an_operator_object_where_a_string_belongs<S: Store>(
    app: &ShopApp<'_, S>,
) {
    app.register("dave", "dave@example.com", PASSWORD).await;
    let body = json!({"username": {"$ne": ""}, "email": {"$gt": ""}, "password": PASSWORD});
    let response = app.post("/users/register", None, &body).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.error_fields(), ["username", "email"]);
    let login = app
        .post(
            "/users/login",
            None,
            &json!({"username": {"$ne": ""}, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 400);
    assert_eq!(login.error_fields(), ["username"]);
}

async fn register_refuses_bodies_that_are_not_json_objects<S: Store>(app: &ShopApp<'_, S>) {
    let json_type = [("content-type", "application/json")];
    for body in ["{\"username\":", "[]", "null", ""] {
        let response = app
            .call("POST", "/users/register", &json_type, Some(body))
            .await;
        assert_eq!(response.status, 400, "{body:?}");
        assert_eq!(
            response.body["type"],
            "https://shop.invalid/problems/malformed-json"
        );
    }
    let text = [("content-type", "text/plain")];
    let response = app.call("POST", "/users/register", &text, Some("{}")).await;
    assert_eq!(response.status, 415);
    let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(1024 * 1024));
    let response = app
        .call("POST", "/users/register", &json_type, Some(&huge))
        .await;
    assert_eq!(response.status, 413);
}

async fn login_returns_a_bearer_token_for_username_or_email<S: Store>(app: &ShopApp<'_, S>) {
    let registered = app.register("Erin", "erin@example.com", PASSWORD).await;
    for login in ["Erin", "erin", "ERIN@example.com"] {
        let response = app.login(login, PASSWORD).await;
        assert_eq!(response.status, 200, "{login}: {}", response.text);
        assert_eq!(response.body["tokenType"], "Bearer");
        assert_eq!(response.body["expiresIn"], 3600);
        let token = response.body["accessToken"].as_str().unwrap();
        let principal = app.tokens.verify(token).unwrap();
        assert_eq!(
            principal.user_id.to_string(),
            registered.body["id"].as_str().unwrap()
        );
        assert_eq!(principal.username, "Erin");
        assert!(!principal.is_admin());
        assert!(!response.text.contains(PASSWORD));
    }
}

async fn login_gives_one_401_body_for_an_unknown_user_and_a_wrong_password<S: Store>(
    app: &ShopApp<'_, S>,
) {
    app.register("frank", "frank@example.com", PASSWORD).await;
    let wrong = app.login("frank", "not the password").await;
    let unknown = app.login("nobody", PASSWORD).await;
    for response in [&wrong, &unknown] {
        assert_eq!(response.status, 401);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("requestId");
        v
    };
    assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
}

async fn login_refuses_a_pair_after_ten_failures_and_the_owner_still_logs_in_elsewhere<S: Store>(
    app: &ShopApp<'_, S>,
) {
    app.register("grace", "grace@example.com", PASSWORD).await;
    for attempt in 1..=10 {
        let response = app.login_from(HOME, "grace", "wrong password").await;
        assert_eq!(response.status, 401, "attempt {attempt}");
    }
    // That pair is refused now, even with the right password…
    let refused = app.login_from(HOME, "grace", PASSWORD).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(
        refused.body["type"],
        "https://shop.invalid/problems/too-many-requests"
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=24 * 3600).contains(&retry), "{retry}");
    // …while the owner, from another address, logs in.
    assert_eq!(
        app.login_from(ELSEWHERE, "grace", PASSWORD).await.status,
        200
    );
    // Another account from the same address is not affected.
    app.register("heidi", "heidi@example.com", PASSWORD).await;
    assert_eq!(app.login_from(HOME, "heidi", PASSWORD).await.status, 200);
}

async fn login_answers_no_more_than_ten_parallel_guesses<S: Store>(app: &ShopApp<'_, S>) {
    app.register("ivy", "ivy@example.com", PASSWORD).await;
    let guesses = (0..20).map(|i| {
        let password = format!("guess number {i}");
        async move { app.login_from(HOME, "ivy", &password).await.status }
    });
    let mut statuses = futures::future::join_all(guesses).await;
    statuses.sort();
    // Each failure is counted atomically: the ten past the limit learn nothing.
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429; 10]);
    // The right password from that address is refused too: told apart from a
    // wrong one by nothing.
    assert_eq!(app.login_from(HOME, "ivy", PASSWORD).await.status, 429);
}

async fn login_counts_username_and_email_as_one_account<S: Store>(app: &ShopApp<'_, S>) {
    app.register("jack", "jack@example.com", PASSWORD).await;
    for login in ["jack", "JACK@example.com"].repeat(5) {
        assert_eq!(
            app.login_from(HOME, login, "wrong password").await.status,
            401
        );
    }
    assert_eq!(
        app.login_from(HOME, "jack@example.com", "wrong password")
            .await
            .status,
        429
    );
    assert_eq!(app.login_from(HOME, "jack", PASSWORD).await.status, 429);
}

async fn login_limits_a_name_that_has_no_account_exactly_alike<S: Store>(app: &ShopApp<'_, S>) {
    for _ in 0..10 {
        assert_eq!(
            app.login_from(HOME, "nobody-here", "whatever it is")
                .await
                .status,
            401
        );
    }
    let refused = app.login_from(HOME, "NOBODY-HERE", "whatever it is").await;
    assert_eq!(
        refused.status, 429,
        "a limit does not reveal whether the account exists"
    );
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        app.login_from(ELSEWHERE, "nobody-here", "whatever it is")
            .await
            .status,
        401
    );
}

async fn login_never_counts_a_right_password<S: Store>(app: &ShopApp<'_, S>) {
    app.register("kate", "kate@example.com", PASSWORD).await;
    // Many logins at once, all right: none is refused.
    let logins = (0..16).map(|_| async { app.login_from(HOME, "kate", PASSWORD).await.status });
    let statuses = futures::future::join_all(logins).await;
    assert_eq!(statuses, [200; 16]);
    // And they left the failure count alone: nine typos are still nine 401s.
    for _ in 0..9 {
        assert_eq!(app.login_from(HOME, "kate", "typo").await.status, 401);
    }
    assert_eq!(app.login_from(HOME, "kate", PASSWORD).await.status, 200);
}

fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.login_failures_per_address.max = 3;
    limits.login_failures_per_account.max = 5;
    limits.logins_per_address.max = 8;
    limits.registrations_per_address.max = 3;
    limits
}

async fn login_past_the_account_limit_refuses_only_addresses_that_failed<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let app = ShopApp::new(app.store).with_limits(small_limits());
    app.register("lena", "lena@example.com", PASSWORD).await;
    // Five failures for the account, from three addresses, none over its own 3.
    for (address, failures) in [("10.0.0.1", 2), ("10.0.0.2", 2), ("10.0.0.3", 1)] {
        for _ in 0..failures {
            assert_eq!(app.login_from(address, "lena", "wrong").await.status, 401);
        }
    }
    // Past the account's limit, the addresses that failed are refused…
    for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_eq!(app.login_from(address, "lena", PASSWORD).await.status, 429);
    }
    // …and one that has not failed for it logs in.
    assert_eq!(
        app.login_from("10.0.0.4", "lena", PASSWORD).await.status,
        200
    );
}

async fn login_attempts_are_limited_per_address<S: Store>(app: &ShopApp<'_, S>) {
    let app = ShopApp::new(app.store).with_limits(small_limits());
    app.register("mona", "mona@example.com", PASSWORD).await;
    for _ in 0..8 {
        assert_eq!(app.login_from(HOME, "mona", PASSWORD).await.status, 200);
    }
    let refused = app.login_from(HOME, "mona", PASSWORD).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=24 * 3600).contains(&retry), "{retry}");
    assert_eq!(
        app.login_from(ELSEWHERE, "mona", PASSWORD).await.status,
        200
    );
}

async fn registrations_are_limited_per_address<S: Store>(app: &ShopApp<'_, S>) {
    let app = ShopApp::new(app.store).with_limits(small_limits());
    for name in ["nia", "noor", "nell"] {
        assert_eq!(app.register_from(HOME, name).await.status, 201);
    }
    let refused = app.register_from(HOME, "nora").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    // Nothing was stored for it, and another address still registers.
    assert_eq!(app.register_from(ELSEWHERE, "nora").await.status, 201);
}
