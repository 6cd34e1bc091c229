//! `POST /products`, `GET /products` and `GET /products/{id}`, through API Gateway events.

mod common;

use std::collections::HashSet;

use serde_json::json;
use shop_core::auth::{AUDIENCE, Claims, ISSUER};
use shop_core::domain::Role;
use shop_core::testing::{ShopApp, Stores as Store, bearer, json_headers};

on_both_stores!(
    create_answers_401_without_a_token_and_403_for_a_customer,
    create_refuses_expired_tampered_unsigned_and_foreign_tokens,
    create_answers_201_with_location_and_the_exact_price,
    create_accepts_each_limit_at_its_edge_and_refuses_one_past_it,
    create_refuses_prices_that_are_not_exact_money,
    get_answers_the_product_or_404_for_unknown_and_malformed_ids,
    list_pages_through_45_products_newest_first_without_gap_or_duplicate,
    list_filters_by_category_and_by_ids,
    list_refuses_bad_query_parameters,
);

async fn create_answers_401_without_a_token_and_403_for_a_customer<S: Store>(app: &ShopApp<'_, S>) {
    let body = json!({"name": "Lamp", "description": "", "price": 10, "category": "home"});
    let anonymous = app.post("/products", None, &body).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let garbage = app.post("/products", Some("not.a.jwt"), &body).await;
    assert_eq!(garbage.status, 401);
    let basic = [
        ("content-type", "application/json"),
        ("authorization", "Basic YTpi"),
    ];
    let basic = app
        .call("POST", "/products", &basic, Some(&body.to_string()))
        .await;
    assert_eq!(basic.status, 401);

    let customer = app.user_token("cust", false).await;
    let forbidden = app.post("/products", Some(&customer), &body).await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    assert_eq!(
        forbidden.body["type"],
        "https://shop.invalid/problems/forbidden"
    );
    let listed = app.get("/products", None).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
}

async fn create_refuses_expired_tampered_unsigned_and_foreign_tokens<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("root", true).await;
    let claims = app.tokens.verify(&admin).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let expired = app
        .tokens
        .sign(&Claims {
            sub: claims.user_id.to_string(),
            username: claims.username.clone(),
            role: Role::Admin,
            iat: now - 7200,
            exp: now - 3600,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        })
        .unwrap();
    let mut parts: Vec<String> = admin.split('.').map(String::from).collect();
    parts[2] = parts[2].chars().rev().collect();
    let tampered = parts.join(".");
    let unsigned = format!("{}.{}.", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", parts[1]);
    let foreign = shop_core::auth::Tokens::new(
        &"some-other-deployment-secret-32b!".into(),
        std::time::Duration::from_secs(60),
    )
    .unwrap()
    .sign(
        &app.tokens
            .verify(&admin)
            .map(|p| Claims {
                sub: p.user_id.to_string(),
                username: p.username,
                role: Role::Admin,
                iat: now,
                exp: now + 60,
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
            })
            .unwrap(),
    )
    .unwrap();
    let body = json!({"name": "Lamp", "description": "", "price": 10, "category": "home"});
    for (what, token) in [
        ("expired", expired),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("foreign", foreign),
    ] {
        let response = app.post("/products", Some(&token), &body).await;
        assert_eq!(response.status, 401, "{what}: {}", response.text);
    }
    assert_eq!(app.post("/products", Some(&admin), &body).await.status, 201);
}

async fn create_answers_201_with_location_and_the_exact_price<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let created = app.create_product(&admin, "Pen", "19.99", "office").await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(&*format!("/products/{id}"))
    );
    assert!(
        created.text.contains(r#""price":19.99"#),
        "{}",
        created.text
    );
    assert_eq!(created.body["name"], "Pen");
    assert_eq!(created.body["description"], "");
    assert_eq!(created.body["category"], "office");
    assert!(created.body["createdAt"].is_string());

    let cheap = app.create_product(&admin, "Clip", "0.1", "office").await;
    assert!(cheap.text.contains(r#""price":0.10"#), "{}", cheap.text);
    let fetched = app
        .get(
            &format!("/products/{}", cheap.body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(fetched.text.contains(r#""price":0.10"#), "{}", fetched.text);
}

async fn create_accepts_each_limit_at_its_edge_and_refuses_one_past_it<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let product = |name: String, description: String, category: String| json!({"name": name, "description": description, "price": 1, "category": category});
    let ok = [
        product("n".into(), String::new(), "c".into()),
        product("n".repeat(200), "d".repeat(5000), "c".repeat(100)),
    ];
    for body in ok {
        let response = app.post("/products", Some(&admin), &body).await;
        assert_eq!(response.status, 201, "{}", response.text);
    }
    let bad = [
        (product(String::new(), String::new(), "c".into()), "name"),
        (product("n".repeat(201), String::new(), "c".into()), "name"),
        (
            product("n".into(), "d".repeat(5001), "c".into()),
            "description",
        ),
        (
            product("n".into(), String::new(), String::new()),
            "category",
        ),
        (
            product("n".into(), String::new(), "c".repeat(101)),
            "category",
        ),
    ];
    for (body, field) in bad {
        let response = app.post("/products", Some(&admin), &body).await;
        assert_eq!(response.status, 400, "{field}");
        assert_eq!(response.error_fields(), [field]);
    }
    let everything_wrong = json!({"name": "", "price": "1", "category": 5, "colour": "red"});
    let response = app.post("/products", Some(&admin), &everything_wrong).await;
    assert_eq!(
        response.error_fields(),
        ["colour", "name", "description", "price", "category"]
    );
}

async fn create_refuses_prices_that_are_not_exact_money<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let auth = bearer(Some(&admin));
    let headers = json_headers(&auth);
    let with_price =
        |price: &str| format!(r#"{{"name":"n","description":"","price":{price},"category":"c"}}"#);
    for price in ["0", "0.01", "1000000000", "999999999.99", "19.990", "1e3"] {
        let response = app
            .call("POST", "/products", &headers, Some(&with_price(price)))
            .await;
        assert_eq!(response.status, 201, "{price}: {}", response.text);
    }
    for (price, message) in [
        ("1000000000.01", "must be at most 1000000000"),
        ("-0.01", "must not be negative"),
        ("19.999", "must have at most 2 decimal places"),
        (
            "0.1000000000000000000001",
            "must have at most 2 decimal places",
        ),
        ("\"19.99\"", "must be a number"),
        ("null", "must be a number"),
        ("{\"$gt\": 0}", "must be a number"),
        (
            "1e400",
            "must be a number from 0 to 1000000000 with at most 2 decimal places",
        ),
    ] {
        let response = app
            .call("POST", "/products", &headers, Some(&with_price(price)))
            .await;
        assert_eq!(response.status, 400, "{price}");
        assert_eq!(response.body["errors"][0]["message"], message, "{price}");
    }
    for not_json in ["NaN", "Infinity", "19,99"] {
        let response = app
            .call("POST", "/products", &headers, Some(&with_price(not_json)))
            .await;
        assert_eq!(response.status, 400, "{not_json}");
    }
}

async fn get_answers_the_product_or_404_for_unknown_and_malformed_ids<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let created = app.create_product(&admin, "Mug", "7.50", "kitchen").await;
    let id = created.body["id"].as_str().unwrap();
    let fetched = app.get(&format!("/products/{id}"), None).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, created.body);
    for missing in [
        "0123456789abcdef01234567",
        "not-an-id",
        "0123456789ABCDEF01234567",
        "1234",
    ] {
        let response = app.get(&format!("/products/{missing}"), None).await;
        assert_eq!(response.status, 404, "{missing}");
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
    }
}

async fn list_pages_through_45_products_newest_first_without_gap_or_duplicate<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let mut created = Vec::new();
    for i in 0..45 {
        let response = app
            .create_product(&admin, &format!("p{i}"), "1", "misc")
            .await;
        created.push(response.body["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let target = match &cursor {
            Some(c) => format!("/products?limit=10&cursor={c}"),
            None => "/products?limit=10".to_string(),
        };
        let page = app.get(&target, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        pages += 1;
        let items = page.body["items"].as_array().unwrap();
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => {
                assert!(page.body["nextCursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 5);
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45);
    let default_page = app.get("/products", None).await;
    assert_eq!(default_page.body["items"].as_array().unwrap().len(), 20);
}

async fn list_filters_by_category_and_by_ids<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let mut ids = Vec::new();
    for (name, category) in [
        ("a", "books"),
        ("b", "toys"),
        ("c", "books"),
        ("d", "Books"),
    ] {
        let response = app.create_product(&admin, name, "2.50", category).await;
        ids.push(response.body["id"].as_str().unwrap().to_string());
    }
    let names = |response: &shop_core::testing::TestResponse| -> Vec<String> {
        response.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&app.get("/products?category=books", None).await),
        ["c", "a"]
    );
    assert_eq!(
        names(&app.get("/products?category=Books", None).await),
        ["d"]
    );
    assert!(names(&app.get("/products?category=none", None).await).is_empty());

    let unknown = "0123456789abcdef01234567";
    let target = format!("/products?ids={},{},{unknown}", ids[0], ids[1]);
    assert_eq!(names(&app.get(&target, None).await), ["b", "a"]);
    let repeated = format!("/products?ids={}&ids={}", ids[2], ids[3]);
    assert_eq!(names(&app.get(&repeated, None).await), ["d", "c"]);
    let both = format!("/products?ids={},{}&category=books", ids[0], ids[1]);
    assert_eq!(names(&app.get(&both, None).await), ["a"]);

    let hundred: Vec<String> = (0..100).map(|i| format!("{i:024x}")).collect();
    let at_limit = app
        .get(&format!("/products?ids={}", hundred.join(",")), None)
        .await;
    assert_eq!(at_limit.status, 200);
    let over: Vec<String> = (0..101).map(|i| format!("{i:024x}")).collect();
    let over_limit = app
        .get(&format!("/products?ids={}", over.join(",")), None)
        .await;
    assert_eq!(over_limit.status, 400);
    assert_eq!(over_limit.error_fields(), ["ids"]);
    let malformed = app
        .get(&format!("/products?ids={},nope", ids[0]), None)
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.error_fields(), ["ids"]);
}

async fn list_refuses_bad_query_parameters<S: Store>(app: &ShopApp<'_, S>) {
    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("limit=ten", vec!["limit"]),
        ("cursor=garbage", vec!["cursor"]),
        ("category=", vec!["category"]),
        ("colour=red", vec!["colour"]),
        ("limit=0&cursor=x", vec!["limit", "cursor"]),
    ] {
        let response = app.get(&format!("/products?{query}"), None).await;
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.error_fields(), fields, "{query}");
    }
    assert_eq!(app.get("/products?limit=100", None).await.status, 200);
}
