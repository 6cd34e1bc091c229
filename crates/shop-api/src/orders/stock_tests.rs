//! The stock rules of the contract, on both stores: no overselling under
//! concurrency, all lines or none, one reservation per order however often it
//! is retried, stock back after a failure, a crash or a cancellation.

use futures::future::join_all;
use serde_json::json;
use shop_domain::order::{Order, OrderRequest, OrderStatus};
use shop_domain::{OrderId, ProductId, now};

use crate::catalog::{CatalogError, ProductCatalog};
use crate::stock::ledger::reconcile_all;
use crate::testing::{ShopApp, Stores as Store};
use shop_domain::order::CatalogEntry;

crate::on_both_stores!(
    twenty_parallel_orders_for_five_in_stock_sell_exactly_five,
    a_short_line_takes_nothing_from_the_others,
    fifty_parallel_replays_of_a_key_reserve_once,
    cancelling_returns_exactly_what_was_reserved_once,
    untracked_products_never_run_out,
    a_reservation_whose_order_never_appeared_is_released_once_stale,
    the_stock_routes_refuse_every_client_token,
    stock_given_back_past_the_settable_maximum_is_still_read,
    a_failed_reservation_abandons_its_order_for_good,
    a_late_failed_reservation_leaves_a_placed_orders_stock_alone,
    a_retry_of_an_abandoned_order_gets_a_new_one,
);

/// A product with `stock` units, created by `admin`; its id.
async fn stocked<S: Store>(app: &ShopApp<'_, S>, admin: &str, name: &str, stock: u32) -> String {
    let body =
        json!({"name": name, "description": "", "price": 2.5, "category": "stock", "stock": stock});
    let created = app.post("/products", Some(admin), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

async fn stock_of<S: Store>(app: &ShopApp<'_, S>, id: &str) -> serde_json::Value {
    app.get(&format!("/products/{id}"), None).await.body["stock"].clone()
}

async fn twenty_parallel_orders_for_five_in_stock_sell_exactly_five<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 5).await;
    let line = [(pen.as_str(), 1)];
    let answers = join_all((0..20).map(|_| app.order(&buyer, &line, None))).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.status == 409).collect();
    assert_eq!(
        (created, refused.len()),
        (5, 15),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for answer in refused {
        assert_eq!(
            answer.body["type"],
            "https://shop.invalid/problems/insufficient-stock"
        );
        assert_eq!(
            answer.body["insufficient"],
            json!([{"productId": pen, "requested": 1, "available": 0}])
        );
    }
    assert_eq!(stock_of(app, &pen).await, 0, "never negative, nothing lost");
    let listed = app.get("/orders?limit=100", Some(&buyer)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 5);
}

async fn a_short_line_takes_nothing_from_the_others<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let ink = stocked(app, &admin, "Ink", 10).await;
    let nib = stocked(app, &admin, "Nib", 1).await;
    let cap = stocked(app, &admin, "Cap", 0).await;
    let refused = app
        .order(&buyer, &[(&ink, 4), (&nib, 2), (&cap, 1)], None)
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    let short: Vec<&str> = refused.body["insufficient"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["productId"].as_str().unwrap())
        .collect();
    assert!(short.contains(&nib.as_str()), "{}", refused.text);
    assert_eq!(
        stock_of(app, &ink).await,
        10,
        "the line that fit kept nothing"
    );
    assert_eq!(stock_of(app, &nib).await, 1);
    // An unknown product is checked first: 422, even with a short line.
    let ghost = "0123456789abcdef01234567";
    let unknown = app.order(&buyer, &[(&nib, 5), (ghost, 1)], None).await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_eq!(
        app.order(&buyer, &[(&ink, 4), (&nib, 1)], None)
            .await
            .status,
        201
    );
    assert_eq!(
        (stock_of(app, &ink).await, stock_of(app, &nib).await),
        (json!(6), json!(0))
    );
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn fifty_parallel_replays_of_a_key_reserve_once<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 100).await;
    let line = [(pen.as_str(), 3)];
    let answers = join_all((0..50).map(|_| app.order(&buyer, &line, Some("one-order")))).await;
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| a.body["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "every 201 is the one order");
    for answer in answers.iter().filter(|a| a.status != 201) {
        assert_eq!(answer.status, 409, "{}", answer.text);
        assert_eq!(
            answer.body["type"],
            "https://shop.invalid/problems/idempotency-in-progress"
        );
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    let replay = app.order(&buyer, &[(&pen, 3)], Some("one-order")).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(stock_of(app, &pen).await, 97, "one reservation of 3");
    assert_eq!(
        app.get("/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn cancelling_returns_exactly_what_was_reserved_once<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 10).await;
    let ink = stocked(app, &admin, "Ink", 4).await;
    let order = app.order(&buyer, &[(&pen, 3), (&ink, 4)], None).await;
    assert_eq!(order.status, 201, "{}", order.text);
    let other = app.order(&buyer, &[(&pen, 2)], None).await;
    assert_eq!(
        (stock_of(app, &pen).await, stock_of(app, &ink).await),
        (json!(5), json!(0))
    );
    let path = format!("/orders/{}/cancel", order.body["id"].as_str().unwrap());
    let cancelled = app.post(&path, Some(&buyer), &json!({})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        (stock_of(app, &pen).await, stock_of(app, &ink).await),
        (json!(8), json!(4))
    );
    let twice = app.post(&path, Some(&buyer), &json!({})).await;
    assert_eq!(twice.status, 409, "{}", twice.text);
    assert_eq!(
        (stock_of(app, &pen).await, stock_of(app, &ink).await),
        (json!(8), json!(4))
    );
    // The other order still holds its two.
    assert_eq!(other.status, 201);
    let other_path = format!("/orders/{}/cancel", other.body["id"].as_str().unwrap());
    assert_eq!(
        app.post(&other_path, Some(&admin), &json!({})).await.status,
        200
    );
    assert_eq!(stock_of(app, &pen).await, 10);
}

async fn untracked_products_never_run_out<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let air = app.product_id(&admin, "Air", "0.01").await;
    let pen = stocked(app, &admin, "Pen", 1).await;
    let order = app.order(&buyer, &[(&air, 1000), (&pen, 1)], None).await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(stock_of(app, &air).await, json!(null));
    // Tracking stopped while the order held a unit: cancelling gives nothing back.
    let patched = app
        .patch(
            &format!("/products/{pen}"),
            Some(&admin),
            Some("\"1\""),
            &json!({"stock": null}),
        )
        .await;
    assert_eq!(patched.status, 200);
    let path = format!("/orders/{}/cancel", order.body["id"].as_str().unwrap());
    assert_eq!(app.post(&path, Some(&buyer), &json!({})).await.status, 200);
    assert_eq!(stock_of(app, &pen).await, json!(null));
}

/// The order function died between reserving and storing: a pending order and
/// its hold are left behind.
async fn died_after_reserving<S: Store>(app: &ShopApp<'_, S>, buyer: &str, pen: &str) -> OrderId {
    let user = app.tokens.verify(buyer).unwrap().user_id;
    let body = json!({"products": [{"productId": pen, "quantity": 2}]}).to_string();
    let request = OrderRequest::parse(&body).unwrap();
    let id = OrderId::new();
    let pending = Order::pending(id, user, &request, now() - time::Duration::seconds(5));
    app.store.insert_order(&pending).await.unwrap();
    let catalog = crate::testing::catalog::StoreCatalog {
        store: app.store,
        fake: &app.catalog,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    catalog
        .reserve("http://unused", id, &request, deadline)
        .await
        .unwrap();
    id
}

async fn a_reservation_whose_order_never_appeared_is_released_once_stale<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 3).await;
    let dead = died_after_reserving(app, &buyer, &pen).await;
    assert_eq!(stock_of(app, &pen).await, 1, "held by the dead order");
    // Not stale yet: the held units stay held, and the next order is short.
    assert_eq!(app.order(&buyer, &[(&pen, 2)], None).await.status, 409);
    // With a shortened interval, the next reservation of the product releases it.
    *app.catalog.ttl_seconds.lock().unwrap() = Some(1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let order = app.order(&buyer, &[(&pen, 2)], None).await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(stock_of(app, &pen).await, 1);
    assert_eq!(
        app.store.order_status(dead).await.unwrap().map(|(s, _)| s),
        Some(OrderStatus::Abandoned),
        "abandoned for good"
    );
    let pen_id = ProductId::parse(&pen).unwrap();
    assert_eq!(
        app.store.products_holding(dead).await.unwrap(),
        Vec::<ProductId>::new()
    );
    assert!(
        app.store
            .holds_on(pen_id)
            .await
            .unwrap()
            .iter()
            .all(|h| h.order != dead)
    );

    // The operator's sweep does the same for a product nobody orders again.
    let cup = stocked(app, &admin, "Cup", 5).await;
    let dead = died_after_reserving(app, &buyer, &cup).await;
    assert_eq!(stock_of(app, &cup).await, 3);
    let sweep = reconcile_all(app.store, std::time::Duration::from_secs(1), now())
        .await
        .unwrap();
    assert_eq!(sweep.abandoned_orders, 1, "{sweep:?}");
    assert_eq!(stock_of(app, &cup).await, 5);
    let abandoned = app.store.order_status(dead).await.unwrap().map(|(s, _)| s);
    assert_eq!(abandoned, Some(OrderStatus::Abandoned));
    // The live orders' holds stay: a sweep later keeps the stock they hold.
    let again = reconcile_all(
        app.store,
        std::time::Duration::ZERO,
        now() + time::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.released, again.abandoned_orders),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(stock_of(app, &pen).await, 1);
}

async fn the_stock_routes_refuse_every_client_token<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 3).await;
    let body = json!({"orderId": OrderId::new().to_string(), "products": [{"productId": pen, "quantity": 1}]});
    for token in [&admin, &buyer] {
        let reserve = app.post("/stock/reservations", Some(token), &body).await;
        assert_eq!(reserve.status, 403, "{}", reserve.text);
        let release = app
            .delete(
                &format!("/stock/reservations/{}", OrderId::new()),
                Some(token),
            )
            .await;
        assert_eq!(release.status, 403, "{}", release.text);
    }
    assert_eq!(
        app.post("/stock/reservations", None, &body).await.status,
        401
    );
    assert_eq!(stock_of(app, &pen).await, 3);
    // With the order functions' key, it reserves; a live order is never released.
    let service = app.service.issue("tests").unwrap();
    let reserve = app.post("/stock/reservations", Some(&service), &body).await;
    assert_eq!(reserve.status, 200, "{}", reserve.text);
    assert_eq!(reserve.body["items"][0]["id"], pen);
    assert_eq!(reserve.body["items"][0]["price"], 2.5);
    assert!(
        reserve.body["items"][0].get("description").is_none(),
        "name and price only"
    );
    assert_eq!(stock_of(app, &pen).await, 2);
    let order = app.order(&buyer, &[(&pen, 1)], None).await;
    let live = order.body["id"].as_str().unwrap();
    let refused = app
        .delete(&format!("/stock/reservations/{live}"), Some(&service))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(stock_of(app, &pen).await, 1);
}

async fn stock_given_back_past_the_settable_maximum_is_still_read<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 10).await;
    let order = app.order(&buyer, &[(&pen, 5)], None).await;
    // An inventory count at the maximum, then the held five come back.
    let path = format!("/products/{pen}");
    let counted = app
        .patch(
            &path,
            Some(&admin),
            Some("\"1\""),
            &json!({"stock": 1_000_000}),
        )
        .await;
    assert_eq!(counted.status, 200);
    let cancel = format!("/orders/{}/cancel", order.body["id"].as_str().unwrap());
    assert_eq!(
        app.post(&cancel, Some(&buyer), &json!({})).await.status,
        200
    );
    let fetched = app.get(&path, None).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.body["stock"], 1_000_005);
    assert_eq!(app.order(&buyer, &[(&pen, 1)], None).await.status, 201);
}

/// Reserves `request`'s stock for order `id` as the product function does,
/// straight on the store, as a call to the stock route would.
async fn reserve_in_store<S: Store>(
    app: &ShopApp<'_, S>,
    id: OrderId,
    request: &OrderRequest,
) -> Result<Vec<CatalogEntry>, CatalogError> {
    let catalog = crate::testing::catalog::StoreCatalog {
        store: app.store,
        fake: &app.catalog,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    catalog
        .reserve("http://unused", id, request, deadline)
        .await
}

async fn a_failed_reservation_abandons_its_order_for_good<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 1).await;
    let user = app.tokens.verify(&buyer).unwrap().user_id;
    let body = json!({"products": [{"productId": pen, "quantity": 2}]}).to_string();
    let request = OrderRequest::parse(&body).unwrap();
    let id = OrderId::new();
    app.store
        .insert_order(&Order::pending(id, user, &request, now()))
        .await
        .unwrap();
    let refused = reserve_in_store(app, id, &request).await;
    assert!(refused.is_err());
    // An overlapping attempt of the same reservation that answered success
    // cannot get this order stored: it was abandoned before the undo.
    let status = app.store.order_status(id).await.unwrap().map(|(s, _)| s);
    assert_eq!(status, Some(OrderStatus::Abandoned));
    let stored = Order {
        status: OrderStatus::Created,
        ..Order::pending(id, user, &request, now())
    };
    assert!(!app.store.finalize_order(&stored).await.unwrap());
    assert_eq!(stock_of(app, &pen).await, 1);
}

async fn a_late_failed_reservation_leaves_a_placed_orders_stock_alone<S: Store>(
    app: &ShopApp<'_, S>,
) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 5).await;
    let cap = stocked(app, &admin, "Cap", 1).await;
    let placed = app.order(&buyer, &[(&pen, 1)], Some("placed")).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = OrderId::parse(placed.body["id"].as_str().unwrap()).unwrap();
    assert_eq!(stock_of(app, &pen).await, 4);
    // An attempt of the same order's reservation that arrives late (a gone
    // request's call, after a retry placed the order) and fails on a short
    // line: its undo must not give back the placed order's pen.
    let body = json!({"products": [
        {"productId": pen, "quantity": 1},
        {"productId": cap, "quantity": 2},
    ]})
    .to_string();
    let request = OrderRequest::parse(&body).unwrap();
    let late = reserve_in_store(app, id, &request).await;
    assert!(late.is_err());
    assert_eq!(stock_of(app, &pen).await, 4);
    assert_eq!(stock_of(app, &cap).await, 1);
    let status = app.store.order_status(id).await.unwrap().map(|(s, _)| s);
    assert_eq!(status, Some(OrderStatus::Created));
}

async fn a_retry_of_an_abandoned_order_gets_a_new_one<S: Store>(app: &ShopApp<'_, S>) {
    let admin = app.user_token("admin", true).await;
    let buyer = app.user_token("buyer", false).await;
    let pen = stocked(app, &admin, "Pen", 5).await;
    let user = app.tokens.verify(&buyer).unwrap().user_id;
    let body = json!({"products": [{"productId": pen, "quantity": 1}]}).to_string();
    let request = OrderRequest::parse(&body).unwrap();
    // A request claimed the key with its pending order and died; the order was
    // abandoned since (which frees its key), and its claim has expired.
    let long_ago = now() - time::Duration::minutes(30);
    let dead = Order::pending(OrderId::new(), user, &request, long_ago);
    let claim = shop_store::KeyClaim {
        user_id: user,
        key: "late".into(),
        fingerprint: request.fingerprint(),
        order_id: dead.id,
        created_at: long_ago,
        expires_at: long_ago + time::Duration::seconds(10),
    };
    app.store.claim_key(&dead, &claim).await.unwrap();
    assert!(app.store.drop_pending(dead.id).await.unwrap());
    // The abandoned id is never used again: the retry places a new order.
    let retry = app.order(&buyer, &[(&pen, 1)], Some("late")).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert!(retry.header("idempotent-replayed").is_none());
    assert_ne!(retry.body["id"], dead.id.to_string());
    let status = app.store.order_status(dead.id).await.unwrap();
    assert_eq!(status.map(|(s, _)| s), Some(OrderStatus::Abandoned));
    assert_eq!(stock_of(app, &pen).await, 4);
}
