//! `POST /orders`, `GET /orders` and `GET /orders/{id}`: token required.

use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response};

use crate::auth::{Principal, Tokens, caller};
use crate::catalog::{ProductCatalog, products_base_url};
use crate::domain::{OrderId, UserId, now};
use crate::error::ApiError;
use crate::http::{Query, created, json, json_body, path_param, serve, time_left};
use crate::limits::Limits;
use crate::order::{Order, OrderRequest, OrderStatus, price_lines};
use crate::paging::{Page, PageParams};
use crate::store::{Claim, Counters, KeyClaim, OrderStore, UserStore, deadline};
use crate::validation::Errors;

/// The longest the product lookup may take, all attempts together; less when
/// the request has less time left. A product function that is down or stalled
/// makes the order a 503 within this.
const LOOKUP_BUDGET: Duration = Duration::from_secs(2);
/// Time kept back from the request's database deadline for storing the order.
const STORE_RESERVE: Duration = Duration::from_millis(300);
/// How long a retry waits for the first request with its key to finish, at
/// most; never past the request's database deadline less [`REPLAY_MARGIN`], so
/// that it still answers 409 rather than running out of time.
const REPLAY_WAIT: Duration = Duration::from_secs(5);
const REPLAY_MARGIN: Duration = Duration::from_millis(300);
const REPLAY_POLL: Duration = Duration::from_millis(100);
/// Without an invocation deadline (a handler called directly), a claim is
/// held this long.
const DEFAULT_CLAIM_LIFETIME: Duration = Duration::from_secs(10);

/// What the create handler needs, built once per instance.
pub struct CreateDeps<'a, S, C> {
    pub store: &'a S,
    pub catalog: &'a C,
    pub tokens: &'a Tokens,
    pub limits: &'a Limits,
    /// `PRODUCTS_API_URL`; when `None` the URL comes from the request.
    pub products_url: Option<&'a str>,
}

/// `Idempotency-Key`: 1–255 visible ASCII characters.
fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        let mut errors = Errors::default();
        errors.push("Idempotency-Key", "must be 1–255 visible ASCII characters");
        errors.finish_request()?;
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// When the product lookup must be done: inside the request's deadline (see
/// [`crate::store::deadline`]), with time kept back to store the order.
fn lookup_deadline() -> Instant {
    let budget = deadline::remaining().map_or(LOOKUP_BUDGET, |left| {
        left.saturating_sub(STORE_RESERVE).min(LOOKUP_BUDGET)
    });
    Instant::now() + budget
}

/// How a request with an `Idempotency-Key` goes on after claiming it.
enum Claimed {
    /// The key is this request's, with a fresh order id.
    Fresh,
    /// The key is this request's, with the order id of a request that is gone,
    /// whose insert may still land: the claim must not be given back.
    Inherited,
    /// The answer of the request that used the key first.
    Replay(Response<Body>),
}

fn replayed(order: &Order) -> Result<Response<Body>, ApiError> {
    let mut response = created(&format!("/orders/{}", order.id), order)?;
    response.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Claims the request's key, or answers for the request that claimed it
/// first: the same body replays that order once it exists; another body is a
/// conflict; a claim whose request is gone (past its deadline, no order) is
/// taken over; one released meanwhile is claimed afresh on the next round.
///
/// A claim taken over keeps its order id: should the gone request's insert still
/// land (a database that was frozen runs what it had queued), it and this
/// request's insert are one order, not two.
async fn claim_or_replay(
    store: &impl OrderStore,
    claim: &mut KeyClaim,
) -> Result<Claimed, ApiError> {
    let wait = deadline::remaining().map_or(REPLAY_WAIT, |left| {
        left.saturating_sub(REPLAY_MARGIN).min(REPLAY_WAIT)
    });
    let give_up = Instant::now() + wait;
    let mut inherited = false;
    loop {
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
        if Instant::now() + REPLAY_POLL > give_up {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            ));
        }
        tokio::time::sleep(REPLAY_POLL).await;
    }
}

/// After a failed attempt to place the order: if the order was stored after
/// all (a write that landed but reported an error), it is the answer; if it
/// certainly was not, the key is released so a retry can proceed; if that
/// cannot be told, or the order id was inherited from a request whose insert
/// may still land, the claim stays until its deadline (a retry after it takes
/// the key over with the same order id).
async fn settle_failure(
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

pub async fn create<S: OrderStore + UserStore + Counters, C: ProductCatalog>(
    deps: &CreateDeps<'_, S, C>,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(deps.tokens, deps.store, &request).await?;
        let order_request = OrderRequest::parse(json_body(&request)?)?;
        let key = idempotency_key(&request)?;
        let mut claim = key.map(|key| {
            let created_at = now();
            let lifetime = time_left(&request).unwrap_or(DEFAULT_CLAIM_LIFETIME);
            KeyClaim {
                user_id: principal.user_id,
                key,
                fingerprint: order_request.fingerprint(),
                order_id: OrderId::new(),
                created_at,
                expires_at: created_at + lifetime,
            }
        });
        let mut inherited = false;
        if let Some(claim) = &mut claim {
            match claim_or_replay(deps.store, claim).await? {
                Claimed::Replay(response) => return Ok(response),
                Claimed::Inherited => inherited = true,
                Claimed::Fresh => {}
            }
        }
        let counted = count_order(deps.store, deps.limits, &principal).await;
        let mut outcome = match counted {
            Ok(()) => place_order(deps, &request, &principal, &order_request, claim.as_ref()).await,
            Err(refused) => Err(refused),
        };
        if let (Err(_), Some(claim)) = (&outcome, &claim)
            && let Some(order) = settle_failure(deps.store, claim, inherited).await
        {
            outcome = Ok(order);
        }
        let order = outcome?;
        tracing::info!(order_id = %order.id, total = %order.total_price, "order created");
        created(&format!("/orders/{}", order.id), &order)
    })
    .await
}

async fn place_order<S: OrderStore, C: ProductCatalog>(
    deps: &CreateDeps<'_, S, C>,
    request: &Request,
    principal: &Principal,
    order_request: &OrderRequest,
    claim: Option<&KeyClaim>,
) -> Result<Order, ApiError> {
    let base = products_base_url(deps.products_url, request).ok_or_else(|| {
        tracing::error!("no PRODUCTS_API_URL and no host in the request: cannot reach products");
        ApiError::Unavailable
    })?;
    let catalog = deps
        .catalog
        .lookup(&base, &order_request.product_ids(), lookup_deadline())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "product lookup failed");
            ApiError::Unavailable
        })?;
    let (products, total_price) = price_lines(order_request, &catalog)?;
    let order = Order {
        id: claim.map_or_else(OrderId::new, |c| c.order_id),
        user_id: principal.user_id,
        products,
        total_price,
        status: OrderStatus::Created,
        created_at: now(),
    };
    deps.store.insert_order(&order).await?;
    Ok(order)
}

pub async fn list(
    store: &(impl OrderStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(tokens, store, &request).await?;
        let query = Query::of(&request);
        let mut errors = Errors::default();
        query.deny_unknown(&["limit", "cursor", "userId"], &mut errors);
        let page = PageParams::from_query(&query, &mut errors);
        let user_filter = query.single("userId", &mut errors).and_then(|id| {
            UserId::parse(id)
                .map_err(|why| errors.push("userId", why))
                .ok()
        });
        errors.finish_request()?;
        let user = if principal.is_admin() {
            user_filter
        } else if user_filter.is_some_and(|id| id != principal.user_id) {
            return Err(ApiError::Forbidden);
        } else {
            Some(principal.user_id)
        };
        let orders = store.list_orders(user, &page).await?;
        json(
            200,
            &Page::from_fetched(orders, &page, |o| o.id.object_id()),
        )
    })
    .await
}

pub async fn get(
    store: &(impl OrderStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(tokens, store, &request).await?;
        let id = OrderId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        // Another buyer's order is as invisible as one that does not exist.
        let order = store
            .get_order(id)
            .await?
            .filter(|order| principal.is_admin() || order.user_id == principal.user_id)
            .ok_or(ApiError::NotFound)?;
        json(200, &order)
    })
    .await
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
