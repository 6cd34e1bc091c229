//! `Idempotency-Key` for `POST /orders`: claiming a key, replaying the order of
//! the request that claimed it first, taking over a claim whose request is gone,
//! and settling a claim after a failure.

use lambda_http::{Body, Request, Response};
use shop_domain::now;
use shop_domain::order::Order;
use shop_domain::validation::Errors;
use shop_store::{Claim, KeyClaim, OrderStore};

use crate::error::ApiError;
use crate::http::{created, finish_request};

/// Rounds of claiming a key that changes hands meanwhile (taken over, released).
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
    /// The key is this request's, with a fresh order id.
    Fresh,
    /// The key is this request's, with the order id of a request that is gone,
    /// whose insert may still land: the claim must not be given back.
    Inherited,
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

/// Claims the request's key, or answers for the request that claimed it
/// first: the same body replays that order once it exists, and is told to come
/// back (409, `Retry-After: 1`) while that request is still running; another
/// body is a conflict; a claim whose request is gone (past its deadline, no
/// order) is taken over; one released meanwhile is claimed afresh on the next
/// round. Nothing waits: a waiting instance is capacity a client holds.
///
/// A claim taken over keeps its order id: should the gone request's insert still
/// land (a database that was frozen runs what it had queued), it and this
/// request's insert are one order, not two.
pub(super) async fn claim_or_replay(
    store: &impl OrderStore,
    claim: &mut KeyClaim,
) -> Result<Claimed, ApiError> {
    let mut inherited = false;
    for _ in 0..CLAIM_ROUNDS {
        let existing = match store.claim_key(claim).await? {
            Claim::Won if inherited => return Ok(Claimed::Inherited),
            Claim::Won => return Ok(Claimed::Fresh),
            Claim::Taken(existing) => existing,
        };
        if existing.fingerprint != claim.fingerprint {
            return Err(ApiError::Conflict(
                "this Idempotency-Key was already used with a different request body".into(),
            ));
        }
        if let Some(order) = store.get_order(existing.order_id).await? {
            return replayed(&order).map(Claimed::Replay);
        }
        if now() > existing.expires_at {
            store.release_key(&existing).await?;
            claim.order_id = existing.order_id;
            inherited = true;
            continue;
        }
        return Err(ApiError::IdempotencyInProgress);
    }
    Err(ApiError::IdempotencyInProgress)
}

/// After a failed attempt to place the order: if the order was stored after
/// all (a write that landed but reported an error), it is the answer; if it
/// certainly was not, the key is released so a retry can proceed; if that
/// cannot be told, or the order id was inherited from a request whose insert
/// may still land, the claim stays until its deadline (a retry after it takes
/// the key over with the same order id).
pub(super) async fn settle_failure(
    store: &impl OrderStore,
    claim: &KeyClaim,
    inherited: bool,
) -> Option<Order> {
    match store.get_order(claim.order_id).await {
        Ok(Some(order)) => Some(order),
        Ok(None) if inherited => None,
        Ok(None) => {
            if let Err(e) = store.release_key(claim).await {
                tracing::error!(error = %e, "releasing an idempotency key failed");
            }
            None
        }
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
    use shop_domain::order::OrderRequest;
    use shop_domain::{OrderId, now};
    use shop_store::{Claim, KeyClaim};

    use crate::testing::{CatalogMode, ShopApp, Stores as Store, bearer, json_headers};

    crate::on_both_stores!(
        a_retry_with_the_same_key_and_body_replays_the_first_order,
        a_key_reused_with_another_body_is_409_and_keys_are_per_buyer,
        a_key_whose_first_request_failed_can_be_retried,
        a_retry_during_the_first_request_is_told_to_come_back_then_replays,
        a_key_held_by_a_request_past_its_deadline_is_taken_over,
        a_key_taken_over_is_not_given_back_when_the_retry_fails,
        a_key_held_by_a_live_request_is_409_at_once,
    );

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

    async fn a_key_taken_over_is_not_given_back_when_the_retry_fails<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
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

    async fn a_key_held_by_a_live_request_is_409_at_once<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        // A request holds the key, alive, and has stored nothing yet.
        let mut busy = dead_claim(app, &buyer, &pen, "busy");
        busy.expires_at = now() + time::Duration::minutes(1);
        assert_eq!(app.store.claim_key(&busy).await.unwrap(), Claim::Won);
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
