//! `Idempotency-Key` for `POST /orders`: claiming a key with the pending order,
//! replaying the order of the request that claimed it first, taking over a
//! pending order whose request is gone, and settling after a failure.

use lambda_http::{Body, Request, Response};
use shop_domain::OrderId;
use shop_domain::now;
use shop_domain::order::Order;
use shop_domain::validation::Errors;
use shop_store::{Claim, IDEMPOTENCY_KEY_TTL, KeyClaim, OrderStore};

use crate::error::ApiError;
use crate::http::{created, finish_request};

/// Rounds of claiming a key that changes hands meanwhile (taken over, freed).
const CLAIM_ROUNDS: usize = 3;
/// `Idempotency-Key`: 1–255 visible ASCII characters.
pub(super) fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        let mut errors = Errors::default();
        errors.push("Idempotency-Key", "must be 1–255 visible ASCII characters");
        finish_request(errors)?;
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// How a request with an `Idempotency-Key` goes on after claiming it.
pub(super) enum Claimed {
    /// The key is this request's, on its own pending order, now stored.
    Fresh,
    /// The key is this request's, on the pending order of a request that is
    /// gone (this id): the order goes on under that id, on whatever stock the
    /// gone request reserved for it.
    TakenOver(OrderId),
    /// The answer of the request that used the key first.
    Replay(Response<Body>),
}

pub(super) fn replayed(order: &Order) -> Result<Response<Body>, ApiError> {
    let mut response = created(&format!("/orders/{}", order.id), order)?;
    response.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Claims the request's key by storing its pending order, or answers for the
/// request that claimed it first: the same body replays that order once it
/// exists, and is told to come back (409, `Retry-After: 1`) while that request
/// is still running; another body is a conflict; a pending order whose request
/// is gone (past its deadline) is taken over; a key used more than
/// [`IDEMPOTENCY_KEY_TTL`] ago is freed from its old order and claimed afresh,
/// unless a request is placing that order right now.
/// Nothing waits: a waiting instance is capacity a client holds.
pub(super) async fn claim_or_replay(
    store: &impl OrderStore,
    pending: &Order,
    claim: &KeyClaim,
) -> Result<Claimed, ApiError> {
    for _ in 0..CLAIM_ROUNDS {
        let held = match store.claim_key(pending, claim).await? {
            Claim::Won => return Ok(Claimed::Fresh),
            Claim::Taken(held) => held,
        };
        if claim.created_at - held.created_at >= IDEMPOTENCY_KEY_TTL {
            // A placed (or abandoned) order lets go of its key; a pending one
            // whose request is gone is abandoned, which frees it; a pending
            // one still running (a retry that took it over) keeps it.
            let live = now() <= held.expires_at;
            let freed = if live {
                store.release_key(&held).await?
            } else {
                store.drop_pending(held.order_id).await? || store.release_key(&held).await?
            };
            if !freed && live {
                return Err(ApiError::IdempotencyInProgress);
            }
            continue;
        }
        if held.fingerprint != claim.fingerprint {
            return Err(ApiError::Conflict(
                "this Idempotency-Key was already used with a different request body".into(),
            ));
        }
        if let Some(order) = store.get_order(held.order_id).await? {
            return replayed(&order).map(Claimed::Replay);
        }
        if now() > held.expires_at {
            if store.take_over_key(&held, claim.expires_at).await? {
                return Ok(Claimed::TakenOver(held.order_id));
            }
            continue;
        }
        return Err(ApiError::IdempotencyInProgress);
    }
    Err(ApiError::IdempotencyInProgress)
}

/// After a failed attempt to place the order `id` that holds a key: if it was
/// stored after all (a write that landed but reported an error), it is the
/// answer; if it certainly was not, it is abandoned, which frees the key for a
/// retry (and its stock, whatever it holds, goes back once stale); if that
/// cannot be told, the key stays until the request's deadline, after which a
/// retry takes the pending order over.
pub(super) async fn settle_failure(store: &impl OrderStore, id: OrderId) -> Option<Order> {
    match store.get_order(id).await {
        Ok(Some(order)) => Some(order),
        Ok(None) => match store.drop_pending(id).await {
            Ok(true) => None,
            // No longer pending: stored just now (or abandoned already).
            Ok(false) => store.get_order(id).await.ok().flatten(),
            Err(e) => {
                tracing::error!(error = %e, "abandoning an order not stored failed");
                None
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot tell whether the order was stored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use shop_domain::order::{Order, OrderRequest, OrderStatus};
    use shop_domain::{OrderId, now};
    use shop_store::{Claim, KeyClaim};

    use crate::testing::{CatalogMode, ShopApp, Stores as Store, bearer, json_headers};

    crate::on_both_stores!(
        a_retry_with_the_same_key_and_body_replays_the_first_order,
        a_key_reused_with_another_body_is_409_and_keys_are_per_buyer,
        a_key_whose_first_request_failed_can_be_retried,
        a_retry_during_the_first_request_is_told_to_come_back_then_replays,
        a_key_held_by_a_request_past_its_deadline_is_taken_over,
        a_taken_over_order_that_fails_is_abandoned_and_frees_its_key,
        a_key_held_by_a_live_request_is_409_at_once,
        a_key_used_more_than_a_day_ago_places_a_new_order,
        a_pending_order_is_taken_over_once,
    );

    /// The pending order of a request that claimed `key` for one `pen` at
    /// `at`, with a claim good for ten seconds, and the claim.
    fn claim_at(
        app: &ShopApp<'_, impl Store>,
        buyer: &str,
        pen: &str,
        key: &str,
        at: time::OffsetDateTime,
    ) -> (Order, KeyClaim) {
        let body = json!({"products": [{"productId": pen, "quantity": 1}]}).to_string();
        let request = OrderRequest::parse(&body).unwrap();
        let user_id = app.tokens.verify(buyer).unwrap().user_id;
        let pending = Order::pending(OrderId::new(), user_id, &request, at);
        let claim = KeyClaim {
            user_id,
            key: key.into(),
            fingerprint: request.fingerprint(),
            order_id: pending.id,
            created_at: at,
            expires_at: at + time::Duration::seconds(10),
        };
        (pending, claim)
    }

    /// A request that claimed `key`, stored its pending order and died.
    async fn dead_claim(
        app: &ShopApp<'_, impl Store>,
        buyer: &str,
        pen: &str,
        key: &str,
    ) -> KeyClaim {
        let (pending, claim) = claim_at(app, buyer, pen, key, now() - time::Duration::minutes(10));
        assert_eq!(
            app.store.claim_key(&pending, &claim).await.unwrap(),
            Claim::Won
        );
        claim
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

    async fn a_retry_during_the_first_request_is_told_to_come_back_then_replays<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
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
        let (first, early) = tokio::join!(first, retry);
        assert_eq!(first.status, 201, "{}", first.text);
        assert!(first.header("idempotent-replayed").is_none());
        assert_eq!(early.status, 409, "{}", early.text);
        assert_eq!(
            early.body["type"],
            "https://shop.invalid/problems/idempotency-in-progress"
        );
        assert_eq!(early.header("retry-after"), Some("1"));
        let retry = app.order(&buyer, &lines, Some("double-click")).await;
        assert_eq!(retry.status, 201, "{}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.body, first.body);
        assert_eq!(app.catalog.calls(), 1);
    }

    async fn a_key_held_by_a_request_past_its_deadline_is_taken_over<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        // A request claimed the key and died before storing its order.
        let dead = dead_claim(app, &buyer, &pen, "orphan").await;
        let retry = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
        assert_eq!(retry.status, 201, "{}", retry.text);
        assert!(retry.header("idempotent-replayed").is_none());
        // The retry goes on with the dead request's pending order, so whatever
        // stock that request reserved is this order's, and its late writes (a
        // frozen database runs what it had queued) make no second order.
        assert_eq!(retry.body["id"], dead.order_id.to_string());
        let stored = app.store.get_order(dead.order_id).await.unwrap().unwrap();
        assert!(!app.store.finalize_order(&stored).await.unwrap());
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

    async fn a_taken_over_order_that_fails_is_abandoned_and_frees_its_key<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        let dead = dead_claim(app, &buyer, &pen, "orphan").await;
        app.catalog.set_mode(CatalogMode::Down);
        let retry = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
        assert_eq!(retry.status, 503, "{}", retry.text);
        // The order is abandoned: the dead request's late writes cannot store it.
        let status = app.store.order_status(dead.order_id).await.unwrap();
        assert_eq!(status.map(|(s, _)| s), Some(OrderStatus::Abandoned));
        let (late, _) = claim_at(app, &buyer, &pen, "orphan", now());
        let late = Order {
            id: dead.order_id,
            status: OrderStatus::Created,
            ..late
        };
        assert!(!app.store.finalize_order(&late).await.unwrap());
        // And the key is free: the next retry places a new order.
        app.catalog.set_mode(CatalogMode::Answer);
        let next = app.order(&buyer, &[(&pen, 1)], Some("orphan")).await;
        assert_eq!(next.status, 201, "{}", next.text);
        assert!(next.header("idempotent-replayed").is_none());
        assert_ne!(next.body["id"], dead.order_id.to_string());
        let listed = app.get("/orders", Some(&buyer)).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    }

    async fn a_key_used_more_than_a_day_ago_places_a_new_order<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        // An order placed with the key a day and a minute ago.
        let day_ago = now() - time::Duration::hours(24) - time::Duration::minutes(1);
        let (pending, claim) = claim_at(app, &buyer, &pen, "daily", day_ago);
        assert_eq!(
            app.store.claim_key(&pending, &claim).await.unwrap(),
            Claim::Won
        );
        let old = pending.created(
            Vec::new(),
            shop_domain::money::Money::ZERO,
            claim.user_id,
            day_ago,
        );
        assert!(app.store.finalize_order(&old).await.unwrap());
        // Its key is free again, whatever the body: a new order, not a replay
        // nor a conflict.
        let new = app.order(&buyer, &[(&pen, 3)], Some("daily")).await;
        assert_eq!(new.status, 201, "{}", new.text);
        assert!(new.header("idempotent-replayed").is_none());
        assert_ne!(new.body["id"], old.id.to_string());
        // The key now replays the new order; the old one is still there.
        let again = app.order(&buyer, &[(&pen, 3)], Some("daily")).await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.body["id"], new.body["id"]);
        assert!(app.store.get_order(old.id).await.unwrap().is_some());
        // A key used less than a day ago is still held.
        let (pending, claim) = claim_at(
            app,
            &buyer,
            &pen,
            "today",
            now() - time::Duration::hours(23),
        );
        assert_eq!(
            app.store.claim_key(&pending, &claim).await.unwrap(),
            Claim::Won
        );
        let kept = pending.created(
            Vec::new(),
            shop_domain::money::Money::ZERO,
            claim.user_id,
            now(),
        );
        assert!(app.store.finalize_order(&kept).await.unwrap());
        let replay = app.order(&buyer, &[(&pen, 1)], Some("today")).await;
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.body["id"], kept.id.to_string());
        // A day-old key whose pending order a retry is placing right now
        // stays with it: that retry's order is the key's.
        let (pending, mut running) = claim_at(app, &buyer, &pen, "slow", day_ago);
        running.expires_at = now() + time::Duration::minutes(1);
        assert_eq!(
            app.store.claim_key(&pending, &running).await.unwrap(),
            Claim::Won
        );
        let meanwhile = app.order(&buyer, &[(&pen, 1)], Some("slow")).await;
        assert_eq!(meanwhile.status, 409, "{}", meanwhile.text);
        assert_eq!(meanwhile.header("retry-after"), Some("1"));
        let status = app.store.order_status(pending.id).await.unwrap();
        assert_eq!(status.map(|(s, _)| s), Some(OrderStatus::Pending));
        // Once that request is gone, its pending order is abandoned and the
        // key placed afresh.
        let (pending, gone) = claim_at(app, &buyer, &pen, "gone", day_ago);
        assert_eq!(
            app.store.claim_key(&pending, &gone).await.unwrap(),
            Claim::Won
        );
        let fresh = app.order(&buyer, &[(&pen, 1)], Some("gone")).await;
        assert_eq!(fresh.status, 201, "{}", fresh.text);
        assert_ne!(fresh.body["id"], pending.id.to_string());
        let status = app.store.order_status(pending.id).await.unwrap();
        assert_eq!(status.map(|(s, _)| s), Some(OrderStatus::Abandoned));
    }

    async fn a_pending_order_is_taken_over_once<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        let dead = dead_claim(app, &buyer, &pen, "racy").await;
        let until = now() + time::Duration::seconds(30);
        let (first, second) = tokio::join!(
            app.store.take_over_key(&dead, until),
            app.store.take_over_key(&dead, until),
        );
        assert!(
            first.unwrap() ^ second.unwrap(),
            "exactly one retry takes it over"
        );
        // The order holds the key under its new deadline: a third retry waits.
        let third = app.order(&buyer, &[(&pen, 1)], Some("racy")).await;
        assert_eq!(third.status, 409, "{}", third.text);
        // Nor can the same stale claim take it over again.
        assert!(!app.store.take_over_key(&dead, until).await.unwrap());
    }

    async fn a_key_held_by_a_live_request_is_409_at_once<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        // A request holds the key, alive, and has stored nothing but its
        // pending order yet.
        let (pending, mut busy) = claim_at(app, &buyer, &pen, "busy", now());
        busy.expires_at = now() + time::Duration::minutes(1);
        assert_eq!(
            app.store.claim_key(&pending, &busy).await.unwrap(),
            Claim::Won
        );
        let retry = app.order(&buyer, &[(&pen, 1)], Some("busy")).await;
        assert_eq!(retry.status, 409, "{}", retry.text);
        assert_eq!(retry.header("retry-after"), Some("1"));
        assert!(
            retry.text.contains("idempotency-in-progress"),
            "{}",
            retry.text
        );
        assert_eq!(app.catalog.calls(), 0);
    }
}
