//! Moving an order along its lifecycle, shared by cancel and the admin's
//! status change: one conditional write on the status it was read in, then,
//! for a cancellation, its stock back through the product function.

use std::time::Duration;

use lambda_http::Request;
use shop_domain::order::{Order, OrderStatus, StatusChange};
use shop_domain::{UserId, now};
use shop_store::{OrderStore, Updated};

use super::Deps;
use crate::catalog::{ProductCatalog, products_base_url, release_deadline};
use crate::error::ApiError;

/// How long giving a cancelled order's stock back may take.
const RELEASE_BUDGET: Duration = Duration::from_secs(2);

fn not_allowed(from: OrderStatus, to: OrderStatus) -> ApiError {
    ApiError::Conflict(format!("an order that is {from} cannot become {to}"))
}

/// Moves `order` to `to` on behalf of `by`, if the lifecycle allows it from
/// the status it is in now. A concurrent move makes this a 409 naming the
/// status it found.
pub(super) async fn move_to<S: OrderStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    request: &Request,
    order: Order,
    to: OrderStatus,
    by: UserId,
) -> Result<Order, ApiError> {
    if !order.status.can_move_to(to) {
        return Err(not_allowed(order.status, to));
    }
    let change = StatusChange {
        status: to,
        at: now(),
        by,
    };
    let moved = match deps
        .store
        .change_status(order.id, order.status, &change)
        .await?
    {
        Updated::Done(moved) => moved,
        Updated::Missing => return Err(ApiError::NotFound),
        Updated::Stale => {
            let found = deps
                .store
                .get_order(order.id)
                .await?
                .ok_or(ApiError::NotFound)?;
            return Err(not_allowed(found.status, to));
        }
    };
    tracing::info!(order_id = %moved.id, from = %order.status, to = %to, "order status changed");
    if to == OrderStatus::Cancelled {
        give_back(deps, request, &moved).await;
    }
    Ok(moved)
}

/// A cancelled order's stock goes back. The cancellation stands whatever
/// happens here; a release that fails is done by `shop-admin reconcile`, or by
/// the next reservation of the product while the hold is not yet known live.
async fn give_back<S, C: ProductCatalog>(deps: &Deps<'_, S, C>, request: &Request, order: &Order) {
    let Some(base) = products_base_url(deps.products_url, request) else {
        tracing::error!(order_id = %order.id, "no address for the product function: stock not released");
        return;
    };
    let Some(deadline) = release_deadline(RELEASE_BUDGET) else {
        tracing::error!(order_id = %order.id, "no time left to release a cancelled order's stock");
        return;
    };
    if let Err(e) = deps.catalog.release(&base, order.id, deadline).await {
        tracing::error!(error = %e, order_id = %order.id, "releasing a cancelled order's stock failed");
    }
}
