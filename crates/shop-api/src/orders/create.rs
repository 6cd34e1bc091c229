//! `POST /orders`: a buyer orders products. The product function reserves the
//! stock of every line and prices it, over HTTP, in one call; the client's
//! prices are never read. An `Idempotency-Key` makes a retry safe (see
//! [`super::idempotency`]).
//!
//! Stock is never lost to a crash: the order is recorded as pending before its
//! stock is reserved, and becomes `created` in one conditional write after. An
//! order that cannot be stored gives its stock back at once; one whose function
//! died in between is abandoned, and its stock released, by the next
//! reservation of those products once it is stale (or by `shop-admin
//! reconcile`), and can then never be stored.

use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response};
use shop_domain::limits::Limits;
use shop_domain::order::{Order, OrderRequest, price_lines};
use shop_domain::{OrderId, now};
use shop_store::{Counters, KeyClaim, OrderStore, UserStore, deadline};

use super::idempotency::{Claimed, claim_or_replay, idempotency_key, settle_failure};
use crate::auth::{Principal, caller};
use crate::catalog::{CatalogError, ProductCatalog, products_base_url, release_deadline};
use crate::error::ApiError;
use crate::http::{created, json_body, serve, time_left};

/// The longest the reservation may take, all attempts together; less when
/// the request has less time left. A product function that is down or stalled
/// makes the order a 503 within this.
const LOOKUP_BUDGET: Duration = Duration::from_secs(2);
/// How long giving stock back may take, after a failure.
const RELEASE_BUDGET: Duration = Duration::from_millis(1500);
/// Time kept back from the request's database deadline for storing the order.
const STORE_RESERVE: Duration = Duration::from_millis(300);
/// Without an invocation deadline (a handler called directly), a claim is
/// held this long.
const DEFAULT_CLAIM_LIFETIME: Duration = Duration::from_secs(10);

pub use super::Deps;
/// What an instance builds once and keeps for every invocation.
pub use super::Ordering as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.deps(), request).await
}

/// When the product lookup must be done: inside the request's deadline (see
/// [`shop_store::deadline`]), with time kept back to store the order.
fn lookup_deadline() -> Instant {
    let budget = deadline::remaining().map_or(LOOKUP_BUDGET, |left| {
        left.saturating_sub(STORE_RESERVE).min(LOOKUP_BUDGET)
    });
    Instant::now() + budget
}

/// Counts a new order (not a replay) against its buyer's limit.
async fn count_order(
    store: &impl Counters,
    limits: &Limits,
    principal: &Principal,
) -> Result<(), ApiError> {
    let limit = limits.orders_per_user;
    let name = format!("orders:{}", principal.user_id);
    let counted = store.bump(&name, limit.window, now(), 1).await?;
    match counted.over(limit) {
        Some(wait) => Err(ApiError::RateLimited {
            what: "too many orders",
            wait,
        }),
        None => Ok(()),
    }
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle<S: OrderStore + UserStore + Counters, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(deps.tokens, deps.store, &request).await?;
        let order_request = OrderRequest::parse(json_body(&request)?)?;
        let key = idempotency_key(&request)?;
        let mut pending = Order::pending(OrderId::new(), principal.user_id, &order_request, now());
        // With a key, the pending order is stored now: its insert claims the key.
        let stored = match key {
            Some(key) => {
                let lifetime = time_left(&request).unwrap_or(DEFAULT_CLAIM_LIFETIME);
                let claim = KeyClaim {
                    user_id: principal.user_id,
                    key,
                    fingerprint: order_request.fingerprint(),
                    order_id: pending.id,
                    created_at: pending.created_at,
                    expires_at: pending.created_at + lifetime,
                };
                match claim_or_replay(deps.store, &pending, &claim).await? {
                    Claimed::Replay(response) => return Ok(response),
                    Claimed::TakenOver(id) => pending.id = id,
                    Claimed::Fresh => {}
                }
                true
            }
            None => false,
        };
        if let Err(refused) = count_order(deps.store, deps.limits, &principal).await {
            if stored {
                discard(deps.store, pending.id).await;
            }
            return Err(refused);
        }
        let id = pending.id;
        let mut outcome =
            place_order(deps, &request, &principal, &order_request, pending, stored).await;
        if outcome.is_err()
            && stored
            && let Some(order) = settle_failure(deps.store, id).await
        {
            outcome = Ok(order);
        }
        let order = outcome?;
        tracing::info!(order_id = %order.id, total = %order.total_price, "order created");
        created(&format!("/orders/{}", order.id), &order)
    })
    .await
}

/// A keyed order refused before its reservation reserved nothing: it goes,
/// with its key, so that refused requests leave nothing behind. A taken-over
/// order may hold stock of its gone request; the next reservation of those
/// products releases it once stale, as it would have.
async fn discard(store: &impl OrderStore, id: OrderId) {
    if let Err(e) = store.discard_pending(id).await {
        tracing::error!(error = %e, order_id = %id, "discarding a refused order failed");
    }
}

/// Reserves and prices the pending order's lines, then stores it as created.
/// `stored`: the pending order is recorded already (it claimed a key).
async fn place_order<S: OrderStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    request: &Request,
    principal: &Principal,
    order_request: &OrderRequest,
    pending: Order,
    stored: bool,
) -> Result<Order, ApiError> {
    let base = products_base_url(deps.products_url, request).ok_or_else(|| {
        tracing::error!("no PRODUCTS_API_URL and no host in the request: cannot reach products");
        ApiError::Unavailable
    })?;
    let id = pending.id;
    if !stored {
        deps.store.insert_order(&pending).await?;
    }
    let catalog = match deps
        .catalog
        .reserve(&base, id, order_request, lookup_deadline())
        .await
    {
        Ok(catalog) => catalog,
        Err(refused) => return Err(abandon(deps, &base, id, refused).await),
    };
    let priced = price_lines(order_request, &catalog);
    let (products, total_price) = match priced {
        Ok(priced) => priced,
        Err(refused) => return Err(give_back(deps, &base, id, refused.into()).await),
    };
    let order = pending.created(products, total_price, principal.user_id, now());
    match deps.store.finalize_order(&order).await {
        Ok(true) => Ok(order),
        // Abandoned meanwhile: whatever it still holds goes back.
        Ok(false) => Err(give_back(deps, &base, id, ApiError::Unavailable).await),
        Err(e) => Err(give_back(deps, &base, id, e.into()).await),
    }
}

/// After a refused reservation: nothing is held (the product function undid
/// its part), so the pending order is dropped; when the reservation's fate is
/// unknown (unavailable), its stock is given back as after any failure.
async fn abandon<S: OrderStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    base: &str,
    id: OrderId,
    refused: CatalogError,
) -> ApiError {
    let error = match refused {
        CatalogError::Missing(ids) => ApiError::MissingProducts(ids),
        CatalogError::Insufficient(lines) => ApiError::InsufficientStock(lines),
        CatalogError::Unavailable(why) => {
            tracing::error!(%why, "the stock reservation failed");
            return give_back(deps, base, id, ApiError::Unavailable).await;
        }
    };
    if let Err(e) = deps.store.drop_pending(id).await {
        tracing::error!(error = %e, order_id = %id, "dropping a pending order failed");
    }
    error
}

/// The order will not be stored: its stock goes back now (the product
/// function abandons the pending order first, so it can never be stored
/// later). If that call fails too, the stale reservation is released later.
async fn give_back<S: OrderStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    base: &str,
    id: OrderId,
    error: ApiError,
) -> ApiError {
    let Some(deadline) = release_deadline(RELEASE_BUDGET) else {
        tracing::warn!(order_id = %id, "no time left to release the stock of an order not stored; it is released once stale");
        return error;
    };
    if let Err(e) = deps.catalog.release(base, id, deadline).await {
        tracing::error!(error = %e, order_id = %id, "releasing the stock of an order not stored failed; it is released once stale");
    }
    error
}

#[cfg(test)]
mod deadline_tests {
    use super::*;
    use crate::testing::gateway_request;
    use lambda_http::RequestExt;

    fn with_deadline_in(millis: i64) -> Request {
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let mut context = lambda_http::Context::default();
        context.deadline = u64::try_from(now_ms as i64 + millis).unwrap();
        gateway_request("POST", "/orders", &[], None).with_lambda_context(context)
    }

    #[tokio::test]
    async fn the_lookup_ends_in_time_to_store_the_order() {
        let request_deadline = Instant::now() + Duration::from_millis(1500);
        let left = deadline::scope(Some(request_deadline), async { lookup_deadline() }).await
            - Instant::now();
        assert!(left <= Duration::from_millis(1200), "{left:?}");
        assert!(left >= Duration::from_millis(1000), "{left:?}");
    }

    #[tokio::test]
    async fn a_long_request_still_caps_the_lookup_at_its_budget() {
        let left = deadline::scope(None, async { lookup_deadline() }).await - Instant::now();
        assert!(left <= LOOKUP_BUDGET && left > LOOKUP_BUDGET - Duration::from_secs(1));
    }

    #[test]
    fn a_claim_lives_until_the_invocation_deadline() {
        let left = time_left(&with_deadline_in(9_000)).unwrap();
        assert!(
            left <= Duration::from_secs(9) && left > Duration::from_secs(8),
            "{left:?}"
        );
        assert_eq!(
            time_left(&gateway_request("POST", "/orders", &[], None)),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{CatalogMode, ShopApp, Stores as Store};

    crate::on_both_stores!(
        create_prices_every_line_exactly_with_one_product_lookup,
        create_refuses_invalid_bodies_without_a_lookup_or_a_stored_order,
        create_answers_422_listing_unknown_products_and_stores_nothing,
        create_answers_503_when_the_product_function_is_down_or_slow,
        create_refuses_an_order_whose_total_leaves_the_money_range,
        orders_are_limited_per_buyer_and_replays_do_not_count,
    );

    async fn create_prices_every_line_exactly_with_one_product_lookup<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
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

    async fn orders_are_limited_per_buyer_and_replays_do_not_count<S: Store>(app: &ShopApp<'_, S>) {
        let mut limits = shop_domain::limits::Limits::default();
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
        // Nothing was stored for it, not even a pending order, and its key
        // is free.
        let listed = app.get("/orders", Some(&buyer)).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
        let later = shop_domain::now() + time::Duration::minutes(1);
        assert_eq!(app.store.pending_orders_before(later).await.unwrap(), []);
        let user_id = app.tokens.verify(&buyer).unwrap().user_id;
        let request = shop_domain::order::OrderRequest::parse(
            &json!({"products": [{"productId": pen, "quantity": 1}]}).to_string(),
        )
        .unwrap();
        let pending = shop_domain::order::Order::pending(
            shop_domain::OrderId::new(),
            user_id,
            &request,
            shop_domain::now(),
        );
        let claim = shop_store::KeyClaim {
            user_id,
            key: "k2".into(),
            fingerprint: request.fingerprint(),
            order_id: pending.id,
            created_at: pending.created_at,
            expires_at: later,
        };
        let claimed = app.store.claim_key(&pending, &claim).await.unwrap();
        assert_eq!(claimed, shop_store::Claim::Won);
        // Another buyer has a count of their own.
        let other = app.user_token("other", false).await;
        assert_eq!(
            app.order(&other, &[(&pen, 1)], Some("k2")).await.status,
            201
        );
    }
}
