//! `POST /orders`, `GET /orders` and `GET /orders/{id}`: token required.

use std::time::{Duration, Instant};

use lambda_http::{Body, Request, RequestExt, Response};

use crate::auth::{Principal, Tokens};
use crate::catalog::{ProductCatalog, products_base_url};
use crate::domain::{OrderId, UserId, now};
use crate::error::ApiError;
use crate::http::{Query, created, json, json_body, path_param, serve};
use crate::order::{Order, OrderRequest, OrderStatus, price_lines};
use crate::paging::{Page, PageParams};
use crate::store::{Claim, KeyClaim, OrderStore};
use crate::validation::Errors;

/// The longest the product lookup may take, all attempts together; less when
/// the invocation itself has less time left.
const LOOKUP_BUDGET: Duration = Duration::from_secs(6);
/// Time kept back from the invocation's deadline for storing the order.
const DEADLINE_RESERVE: Duration = Duration::from_secs(2);
/// How long a retry waits for the first request with its key to finish.
const REPLAY_WAIT: Duration = Duration::from_secs(3);
/// A claim this old whose order never appeared belongs to a request that died
/// (no invocation runs this long); a retry may take the key over.
const STALE_CLAIM: time::Duration = time::Duration::seconds(120);

/// What the create handler needs, built once per instance.
pub struct CreateDeps<'a, S, C> {
    pub store: &'a S,
    pub catalog: &'a C,
    pub tokens: &'a Tokens,
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
        errors.finish()?;
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// When the product lookup must be done: inside the invocation's own deadline.
fn lookup_deadline(request: &Request) -> Instant {
    let start = Instant::now();
    let remaining = request.lambda_context_ref().and_then(|context| {
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let left = i128::from(context.deadline) - now_ms;
        u64::try_from(left).ok().map(Duration::from_millis)
    });
    let budget = remaining.map_or(LOOKUP_BUDGET, |left| {
        left.saturating_sub(DEADLINE_RESERVE).min(LOOKUP_BUDGET)
    });
    start + budget
}

fn replayed(order: &Order) -> Result<Response<Body>, ApiError> {
    let mut response = created(&format!("/orders/{}", order.id), order)?;
    response.headers_mut().insert(
        "idempotent-replayed",
        http::HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Answers a request whose key another request claimed first: the same body
/// replays that order (once it exists); another body is a conflict.
async fn replay(
    store: &impl OrderStore,
    existing: &KeyClaim,
    fingerprint: &str,
) -> Result<Option<Response<Body>>, ApiError> {
    if existing.fingerprint != fingerprint {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was already used with a different request body".into(),
        ));
    }
    let waited = Instant::now();
    loop {
        if let Some(order) = store.get_order(existing.order_id).await? {
            return replayed(&order).map(Some);
        }
        if now() - existing.created_at > STALE_CLAIM {
            store.release_key(existing).await?;
            return Ok(None);
        }
        if waited.elapsed() > REPLAY_WAIT {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn create<S: OrderStore, C: ProductCatalog>(
    deps: &CreateDeps<'_, S, C>,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = deps.tokens.authenticate(&request)?;
        let order_request = OrderRequest::parse(json_body(&request)?)?;
        let key = idempotency_key(&request)?;
        let claim = key.map(|key| KeyClaim {
            user_id: principal.user_id,
            key,
            fingerprint: order_request.fingerprint(),
            order_id: OrderId::new(),
            created_at: now(),
        });
        if let Some(claim) = &claim {
            // Twice at most: a stale claim is released once, then claimed afresh.
            let mut won = false;
            for _ in 0..2 {
                match deps.store.claim_key(claim).await? {
                    Claim::Won => {
                        won = true;
                        break;
                    }
                    Claim::Taken(existing) => {
                        if let Some(response) =
                            replay(deps.store, &existing, &claim.fingerprint).await?
                        {
                            return Ok(response);
                        }
                    }
                }
            }
            if !won {
                return Err(ApiError::Conflict(
                    "this Idempotency-Key is in use; retry shortly".into(),
                ));
            }
        }
        let outcome = place_order(deps, &request, &principal, &order_request, claim.as_ref()).await;
        if let (Err(_), Some(claim)) = (&outcome, &claim) {
            // Nothing was stored, so the key must not block a later retry.
            if let Err(e) = deps.store.release_key(claim).await {
                tracing::error!(error = %e, "releasing an idempotency key failed");
            }
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
        .lookup(
            &base,
            &order_request.product_ids(),
            lookup_deadline(request),
        )
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

pub async fn list(store: &impl OrderStore, tokens: &Tokens, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let principal = tokens.authenticate(&request)?;
        let query = Query::of(&request);
        let mut errors = Errors::default();
        query.deny_unknown(&["limit", "cursor", "userId"], &mut errors);
        let page = PageParams::from_query(&query, &mut errors);
        let user_filter = query.single("userId", &mut errors).and_then(|id| {
            UserId::parse(id)
                .map_err(|why| errors.push("userId", why))
                .ok()
        });
        errors.finish()?;
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

pub async fn get(store: &impl OrderStore, tokens: &Tokens, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let principal = tokens.authenticate(&request)?;
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
