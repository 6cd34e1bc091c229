//! `POST /orders/{id}/cancel`: the buyer (while it is `created` or `paid`) or an
//! admin cancels an order, and its stock goes back.

use lambda_http::{Body, Request, Response};
use shop_domain::OrderId;
use shop_domain::order::OrderStatus;
use shop_store::{OrderStore, UserStore};

use super::Deps;
use super::status::move_to;
use crate::auth::caller;
use crate::catalog::ProductCatalog;
use crate::error::ApiError;
use crate::http::{json, path_param_before, serve};

/// What an instance builds once and keeps for every invocation.
pub use super::Ordering as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.deps(), request).await
}

/// The handler, over any store and product client.
pub async fn handle<S: OrderStore + UserStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(deps.tokens, deps.store, &request).await?;
        let id = OrderId::parse(&path_param_before(&request, "id", "/cancel"))
            .map_err(|_| ApiError::NotFound)?;
        // Someone else's order is as invisible as one that does not exist.
        let order = deps
            .store
            .get_order(id)
            .await?
            .filter(|order| principal.is_admin() || order.user_id == principal.user_id)
            .ok_or(ApiError::NotFound)?;
        let cancelled = move_to(
            deps,
            &request,
            order,
            OrderStatus::Cancelled,
            principal.user_id,
        )
        .await?;
        json(200, &cancelled)
    })
    .await
}
