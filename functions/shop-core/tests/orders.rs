//! `POST /orders`, `GET /orders`, `GET /orders/{id}` with a fake product function
//! (no HTTP), against both stores. `orders_http.rs` uses a real one.

mod common;

use std::time::Duration;

use serde_json::json;
use shop_core::domain::{OrderId, now};
use shop_core::order::OrderRequest;
use shop_core::store::{Claim, KeyClaim};
use shop_core::testing::{CatalogMode, ShopApp, Stores as Store, bearer, json_headers};

on_both_stores!(
    create_prices_every_line_exactly_with_one_product_lookup,
    create_refuses_invalid_bodies_without_a_lookup_or_a_stored_order,
    create_answers_422_listing_unknown_products_and_stores_nothing,
    create_answers_503_when_the_product_function_is_down_or_slow,
    create_refuses_an_order_whose_total_leaves_the_money_range,
    every_order_route_needs_a_valid_token,
    buyers_see_only_their_own_orders_and_admins_see_all,
    orders_page_newest_first,
    a_retry_with_the_same_key_and_body_replays_the_first_order,
    a_key_reused_with_another_body_is_409_and_keys_are_per_buyer,
    a_key_whose_first_request_failed_can_be_retried,
    a_retry_during_the_first_request_waits_and_replays_it,
    a_key_held_by_a_request_past_its_deadline_is_taken_over,
    a_key_taken_over_is_not_given_back_when_the_retry_fails,
    a_retry_gives_up_waiting_in_time_to_answer_409,
    orders_are_limited_per_buyer_and_replays_do_not_count,
);

async fn orders_are_limited_per_buyer_and_replays_do_not_count<S: Store>(app: &ShopApp<'_, S>) {
    let mut limits = shop_core::limits::Limits::default();
    limits.orders_per_user.max = 2;
    let app = ShopApp::new(app.store).with_limits(limits);
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "1.00").await;
    assert_eq!(
        app.order(&buyer, &[(&pen, 1)], Some("k1")).await.status,
        201
    );
    // Replays of a key are not new orders.
    for _ in 0..3 {
        let replay = app.order(&buyer, &[(&pen, 1)], Some("k1")).await;
        assert_eq!(replay.status, 201);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(app.order(&buyer, &[(&pen, 1)], None).await.status, 201);
    let refused = app.order(&buyer, &[(&pen, 1)], Some("k2")).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    // Nothing was stored for it, and its key was given back.
    let listed = app.get("/orders", Some(&buyer)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    // Another buyer has a count of their own.
    let other = app.user_token("other", false).await;
    assert_eq!(
        app.order(&other, &[(&pen, 1)], Some("k2")).await.status,
        201
    );
}

async fn create_prices_every_line_exactly_with_one_product_lookup<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "19.99").await;
    let dime = app.product_id(&admin, "Dime", "0.10").await;
    let twenty = app.product_id(&admin, "Twenty", "0.20").await;
    let order = app
        .order(&buyer, &[(&pen, 3), (&dime, 1), (&twenty, 1)], None)
        .await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(app.catalog.calls(), 1, "one batched lookup per order");
    let id = order.body["id"].as_str().unwrap();
    assert_eq!(order.header("location"), Some(&*format!("/orders/{id}")));
    assert!(order.header("idempotent-replayed").is_none());
    assert!(
        order.text.contains(r#""totalPrice":60.27"#),
        "{}",
        order.text
    );
    assert!(
        order
            .text
            .contains(r#""unitPrice":19.99,"quantity":3,"lineTotal":59.97"#),
        "{}",
        order.text
    );
    assert!(
        order
            .text
            .contains(r#""unitPrice":0.10,"quantity":1,"lineTotal":0.10"#),
        "{}",
        order.text
    );
    assert_eq!(order.body["status"], "created");
    assert_eq!(order.body["products"][0]["name"], "Pen");
    assert_eq!(order.body["products"][0]["productId"], pen);
    let buyer_id = app.tokens.verify(&buyer).unwrap().user_id.to_string();
    assert_eq!(order.body["userId"], buyer_id);
    assert!(order.body["createdAt"].is_string());

    let fetched = app.get(&format!("/orders/{id}"), Some(&buyer)).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, order.body);
}

async fn create_refuses_invalid_bodies_without_a_lookup_or_a_stored_order<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let buyer = app.user_token("buyer", false).await;
    let id = "0123456789abcdef01234567";
    let line = |q: u32| json!({"productId": id, "quantity": q});
    let many: Vec<_> = (0..101)
        .map(|i| json!({"productId": format!("{i:024x}"), "quantity": 1}))
        .collect();
    let cases = [
        (json!({"products": []}), vec!["products"]),
        (json!({"products": many}), vec!["products"]),
        (json!({"products": [line(0)]}), vec!["products[0].quantity"]),
        (
            json!({"products": [line(1001)]}),
            vec!["products[0].quantity"],
        ),
        (
            json!({"products": [line(1), line(2)]}),
            vec!["products[1].productId"],
        ),
        (json!({"products": [line(1)], "userId": id}), vec!["userId"]),
        (
            json!({"products": [line(1)], "totalPrice": 0.01}),
            vec!["totalPrice"],
        ),
        (
            json!({"products": [{"productId": "nope", "quantity": "2"}]}),
            vec!["products[0].productId", "products[0].quantity"],
        ),
        (
            json!({"products": [{"productId": {"$ne": null}, "quantity": 1.5}]}),
            vec!["products[0].productId", "products[0].quantity"],
        ),
        (
            json!({"products": [{"productId": id, "quantity": 1, "unitPrice": 0}]}),
            vec!["products[0].unitPrice"],
        ),
        (json!({"products": "all"}), vec!["products"]),
        (json!({"products": [5]}), vec!["products[0]"]),
        (json!({}), vec!["products"]),
    ];
    for (body, fields) in cases {
        let response = app.post("/orders", Some(&buyer), &body).await;
        assert_eq!(response.status, 400, "{body}: {}", response.text);
        assert_eq!(response.error_fields(), fields, "{body}");
    }
    let server_field = app
        .post(
            "/orders",
            Some(&buyer),
            &json!({"products": [line(1)], "userId": id}),
        )
        .await;
    assert_eq!(
        server_field.body["errors"][0]["message"],
        "is set by the server and must not be sent"
    );
    let at_limits = app
        .post("/orders", Some(&buyer), &json!({"products": [line(1000)]}))
        .await;
    assert_eq!(
        at_limits.status, 422,
        "1000 is a valid quantity: {}",
        at_limits.text
    );
    assert_eq!(app.catalog.calls(), 1, "only the valid order was looked up");
    let listed = app.get("/orders", Some(&buyer)).await;
    assert_eq!(listed.body["items"], json!([]));
}

async fn create_answers_422_listing_unknown_products_and_stores_nothing<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "1.00").await;
    let (ghost1, ghost2) = ("0123456789abcdef01234567", "0123456789abcdef01234568");
    let response = app
        .order(&buyer, &[(ghost2, 1), (&pen, 1), (ghost1, 2)], None)
        .await;
    assert_eq!(response.status, 422, "{}", response.text);
    assert_eq!(response.body["missing"], json!([ghost2, ghost1]));
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"],
        json!([])
    );
}

async fn create_answers_503_when_the_product_function_is_down_or_slow<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "1.00").await;
    for mode in [
        CatalogMode::Down,
        CatalogMode::Slow(Duration::from_secs(60)),
    ] {
        app.catalog.set_mode(mode);
        let response = app.order(&buyer, &[(&pen, 1)], None).await;
        assert_eq!(response.status, 503, "{mode:?}: {}", response.text);
        assert_eq!(
            response.body["type"],
            "https://shop.invalid/problems/unavailable"
        );
    }
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"],
        json!([])
    );
}

async fn create_refuses_an_order_whose_total_leaves_the_money_range<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let yacht = app.product_id(&admin, "Yacht", "1000000000").await;
    let response = app.order(&buyer, &[(&yacht, 2)], None).await;
    assert_eq!(response.status, 400, "{}", response.text);
    assert_eq!(response.error_fields(), ["products"]);
    assert_eq!(app.order(&buyer, &[(&yacht, 1)], None).await.status, 201);
}

async fn every_order_route_needs_a_valid_token<S: Store>(app: &ShopApp<'_, S>) {
    let body = json!({"products": [{"productId": "0123456789abcdef01234567", "quantity": 1}]});
    let bad = format!("{}x", app.user_token("someone", false).await);
    for token in [None, Some("garbage"), Some(bad.as_str())] {
        let responses = [
            app.post("/orders", token, &body).await,
            app.get("/orders", token).await,
            app.get("/orders/0123456789abcdef01234567", token).await,
        ];
        for response in responses {
            assert_eq!(response.status, 401, "{token:?}: {}", response.text);
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        }
    }
    assert_eq!(app.catalog.calls(), 0);
}

async fn buyers_see_only_their_own_orders_and_admins_see_all<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let alice = app.user_token("alice", false).await;
    let bob = app.user_token("bob", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    let a = app.order(&alice, &[(&pen, 1)], None).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.order(&bob, &[(&pen, 2)], None).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = |r: &shop_core::testing::TestResponse| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&app.get("/orders", Some(&alice)).await), [a.as_str()]);
    assert_eq!(ids(&app.get("/orders", Some(&bob)).await), [b.as_str()]);
    assert_eq!(
        app.get(&format!("/orders/{a}"), Some(&bob)).await.status,
        404
    );
    assert_eq!(
        app.get(&format!("/orders/{b}"), Some(&alice)).await.status,
        404
    );
    assert_eq!(app.get("/orders/not-an-id", Some(&alice)).await.status, 404);
    assert_eq!(
        app.get("/orders/0123456789abcdef01234567", Some(&alice))
            .await
            .status,
        404
    );

    assert_eq!(
        app.get(&format!("/orders/{a}"), Some(&admin)).await.status,
        200
    );
    assert_eq!(
        ids(&app.get("/orders", Some(&admin)).await),
        [b.as_str(), a.as_str()]
    );
    let alice_id = app.tokens.verify(&alice).unwrap().user_id.to_string();
    assert_eq!(
        ids(&app
            .get(&format!("/orders?userId={alice_id}"), Some(&admin))
            .await),
        [a.as_str()]
    );
    assert_eq!(
        ids(&app
            .get(&format!("/orders?userId={alice_id}"), Some(&alice))
            .await),
        [a]
    );
    assert_eq!(
        app.get(&format!("/orders?userId={alice_id}"), Some(&bob))
            .await
            .status,
        403
    );
    let bad = app.get("/orders?userId=nope", Some(&admin)).await;
    assert_eq!(
        (bad.status, bad.error_fields()),
        (400, vec!["userId".to_string()])
    );
}

async fn orders_page_newest_first<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    let mut created = Vec::new();
    for _ in 0..12 {
        created.push(
            app.order(&buyer, &[(&pen, 1)], None).await.body["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    created.reverse();
    let first = app.get("/orders?limit=5", Some(&buyer)).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
    let second = app
        .get(&format!("/orders?limit=5&cursor={cursor}"), Some(&buyer))
        .await;
    let third = app
        .get(
            &format!(
                "/orders?limit=5&cursor={}",
                second.body["nextCursor"].as_str().unwrap()
            ),
            Some(&buyer),
        )
        .await;
    assert!(third.body["nextCursor"].is_null());
    let seen: Vec<String> = [first, second, third]
        .iter()
        .flat_map(|p| {
            p.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(seen, created);
    assert_eq!(app.get("/orders?limit=0", Some(&buyer)).await.status, 400);
}

async fn a_retry_with_the_same_key_and_body_replays_the_first_order<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    let first = app.order(&buyer, &[(&pen, 2)], Some("key-1")).await;
    assert_eq!(first.status, 201);
    let again = app.order(&buyer, &[(&pen, 2)], Some("key-1")).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(app.catalog.calls(), 1, "a replay looks nothing up");
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn a_key_reused_with_another_body_is_409_and_keys_are_per_buyer<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let alice = app.user_token("alice", false).await;
    let bob = app.user_token("bob", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    assert_eq!(
        app.order(&alice, &[(&pen, 1)], Some("shared")).await.status,
        201
    );
    let other_body = app.order(&alice, &[(&pen, 5)], Some("shared")).await;
    assert_eq!(other_body.status, 409, "{}", other_body.text);
    let bobs = app.order(&bob, &[(&pen, 1)], Some("shared")).await;
    assert_eq!(bobs.status, 201);
    assert!(
        bobs.header("idempotent-replayed").is_none(),
        "another buyer's key is another key"
    );

    let long = "k".repeat(255);
    assert_eq!(
        app.order(&alice, &[(&pen, 1)], Some(&long)).await.status,
        201
    );
    for bad in [
        "k".repeat(256),
        "has space".into(),
        "tab\there".into(),
        "ünïcode".into(),
    ] {
        let auth = bearer(Some(&alice));
        let mut headers = json_headers(&auth);
        headers.push(("idempotency-key", &bad));
        let body = json!({"products": [{"productId": pen, "quantity": 1}]}).to_string();
        let response = app.call("POST", "/orders", &headers, Some(&body)).await;
        assert_eq!(response.status, 400, "{bad:?}: {}", response.text);
        assert_eq!(response.error_fields(), ["Idempotency-Key"]);
    }
}

async fn a_key_whose_first_request_failed_can_be_retried<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    app.catalog.set_mode(CatalogMode::Down);
    assert_eq!(
        app.order(&buyer, &[(&pen, 1)], Some("retry-me"))
            .await
            .status,
        503
    );
    app.catalog.set_mode(CatalogMode::Answer);
    let retried = app.order(&buyer, &[(&pen, 1)], Some("retry-me")).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
    assert!(retried.header("idempotent-replayed").is_none());
}

async fn a_retry_during_the_first_request_waits_and_replays_it<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    // The first request's lookup takes a while; the retry arrives meanwhile.
    app.catalog
        .set_mode(CatalogMode::Slow(Duration::from_millis(400)));
    let lines = [(pen.as_str(), 1)];
    let first = app.order(&buyer, &lines, Some("double-click"));
    let retry = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.order(&buyer, &lines, Some("double-click")).await
    };
    let (first, retry) = tokio::join!(first, retry);
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(first.header("idempotent-replayed").is_none());
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    assert_eq!(app.catalog.calls(), 1);
}

async fn a_key_held_by_a_request_past_its_deadline_is_taken_over<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    // A request claimed the key and died before storing its order.
    let body = json!({"products": [{"productId": pen, "quantity": 1}]}).to_string();
    let long_ago = now() - time::Duration::minutes(10);
    let dead = KeyClaim {
        user_id: app.tokens.verify(&buyer).unwrap().user_id,
        key: "orphan".into(),
        fingerprint: OrderRequest::parse(&body).unwrap().fingerprint(),
        order_id: OrderId::new(),
        created_at: long_ago,
        expires_at: long_ago + time::Duration::seconds(10),
    };
    assert_eq!(app.store.claim_key(&dead).await.unwrap(), Claim::Won);
    let retry = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert!(retry.header("idempotent-replayed").is_none());
    // The claim keeps its order id, so the dead request's insert, should it land
    // late (a frozen database runs what it had queued), is no second order.
    assert_eq!(retry.body["id"], dead.order_id.to_string());
    let stored = app.store.get_order(dead.order_id).await.unwrap().unwrap();
    assert!(app.store.insert_order(&stored).await.is_err());
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // And the key now replays the new order.
    let again = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["id"], retry.body["id"]);
}

/// A claim held by a request that died before storing its order.
fn dead_claim(app: &ShopApp<'_, impl Store>, buyer: &str, pen: &str, key: &str) -> KeyClaim {
    let body = json!({"products": [{"productId": pen, "quantity": 1}]}).to_string();
    let long_ago = now() - time::Duration::minutes(10);
    KeyClaim {
        user_id: app.tokens.verify(buyer).unwrap().user_id,
        key: key.into(),
        fingerprint: OrderRequest::parse(&body).unwrap().fingerprint(),
        order_id: OrderId::new(),
        created_at: long_ago,
        expires_at: long_ago + time::Duration::seconds(10),
    }
}

async fn a_key_taken_over_is_not_given_back_when_the_retry_fails<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    let dead = dead_claim(app, &buyer, &pen, "orphan");
    assert_eq!(app.store.claim_key(&dead).await.unwrap(), Claim::Won);
    app.catalog.set_mode(CatalogMode::Down);
    let retry = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
    assert_eq!(retry.status, 503, "{}", retry.text);
    // The dead request's insert may still land under that order id: were the key
    // given back, a later retry would claim it with a new id and make a second
    // order. It stays claimed, with the dead request's id.
    let mut fresh = dead_claim(app, &buyer, &pen, "orphan");
    fresh.expires_at = now() + time::Duration::seconds(10);
    match app.store.claim_key(&fresh).await.unwrap() {
        Claim::Taken(held) => assert_eq!(held.order_id, dead.order_id),
        Claim::Won => panic!("the inherited claim was given back"),
    }
}

async fn a_retry_gives_up_waiting_in_time_to_answer_409<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = app.product_id(&admin, "Pen", "2.00").await;
    // A request holds the key, alive, and stores nothing while the retry waits:
    // the retry must stop waiting while it still has the time to say so.
    let mut busy = dead_claim(app, &buyer, &pen, "busy");
    busy.expires_at = now() + time::Duration::minutes(1);
    assert_eq!(app.store.claim_key(&busy).await.unwrap(), Claim::Won);
    let retry = app.order(&buyer, &[(&pen, 1)], Some("busy")).await;
    assert_eq!(retry.status, 409, "{}", retry.text);
    assert_eq!(app.catalog.calls(), 0);
}
