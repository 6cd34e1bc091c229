//! `DELETE /stock/reservations/{orderId}` (internal): gives back the stock of an
//! order that was never stored, or was cancelled.

use lambda_http::{Body, Request, Response};
use shop_domain::OrderId;
use shop_store::{OrderStore, StockStore};

/// What an instance keeps: the store, the service-token key and the reservation TTL.
pub use super::Instance;
use super::ledger::{Released, release_order};
use super::token::ServiceTokens;
use crate::error::ApiError;
use crate::http::{no_content, path_param, serve};

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.service, request).await
}

/// The handler, over any store. Releasing twice, or an order that holds
/// nothing, is a 204 too; a live order's stock is never released (409).
pub async fn handle(
    store: &(impl StockStore + OrderStore),
    service: &ServiceTokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        service.check(&request)?;
        let order =
            OrderId::parse(&path_param(&request, "orderId")).map_err(|_| ApiError::NotFound)?;
        match release_order(store, order).await? {
            Released::Done => {
                tracing::info!(%order, "stock released");
                no_content()
            }
            Released::OrderIsLive(status) => Err(ApiError::Conflict(format!(
                "the order is {status}: its stock stays reserved"
            ))),
        }
    })
    .await
}
