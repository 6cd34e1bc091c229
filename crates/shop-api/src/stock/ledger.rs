//! Reserving and releasing stock, over the store's one-document steps: all
//! lines or none (with compensation, not transactions), one hold per order and
//! product however often a reservation is retried, and stale holds released by
//! whoever next reserves that product.

use std::time::Duration;

use shop_domain::order::{LineRequest, OrderStatus};
use shop_domain::{OrderId, Product, ProductId, Shortage, now};
use shop_store::{Hold, OrderStore, StockHold, StockStore, StoreResult};
use time::OffsetDateTime;

use crate::error::ApiError;

/// A reservation whose order was never stored (the order function died between
/// the two) is released once it is this old. Longer than any function may run
/// (Lambda's limit is 15 minutes), so the order function is certainly gone.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);

/// Reserves every tracked line's stock for `order` and answers the products
/// (current name and price, tracked or not), or refuses the whole order:
/// unknown products → 422 (checked first), a short line → 409 listing the
/// short lines, with nothing kept from the others.
pub async fn reserve_lines(
    store: &(impl StockStore + OrderStore),
    order: OrderId,
    lines: &[LineRequest],
    ttl: Duration,
) -> Result<Vec<Product>, ApiError> {
    let ids: Vec<ProductId> = lines.iter().map(|l| l.product_id).collect();
    let found = store.products_with_holds(&ids).await?;
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !found.iter().any(|(p, _)| p.id == **id))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::MissingProducts(missing));
    }
    let stale_before = now() - ttl;
    for (product, holds) in &found {
        for hold in holds
            .iter()
            .filter(|h| !h.live && h.at < stale_before && h.order != order)
        {
            reconcile_hold(store, product.id, hold).await?;
        }
    }
    let at = now();
    for line in lines {
        // A product that did not track its stock when read has nothing to
        // take: the order is placed as of that read, and a hold would only
        // cost a write that matches nothing and a read to say why.
        let untracked = found
            .iter()
            .any(|(p, _)| p.id == line.product_id && p.stock.is_none());
        if untracked {
            continue;
        }
        match store
            .hold_stock(line.product_id, order, line.quantity, at)
            .await
        {
            Ok(Hold::Held | Hold::AlreadyHeld | Hold::Untracked) => {}
            Ok(Hold::Short { available }) => {
                let short = Shortage {
                    product_id: line.product_id,
                    requested: line.quantity,
                    available,
                };
                undo(store, order, lines).await;
                return Err(ApiError::InsufficientStock(shortages(lines, &found, short)));
            }
            Ok(Hold::Missing) => {
                // Archived since it was read.
                undo(store, order, lines).await;
                return Err(ApiError::MissingProducts(vec![line.product_id.to_string()]));
            }
            Err(e) => {
                undo(store, order, lines).await;
                return Err(e.into());
            }
        }
    }
    Ok(found.into_iter().map(|(product, _)| product).collect())
}

/// Gives back what this reservation took so far, after abandoning the order:
/// another attempt of the same reservation (a retry that overlapped this one)
/// may have answered success, so the order must not be stored on the strength
/// of holds released here. An order stored meanwhile (a late attempt, arriving
/// after a retry placed the order) keeps its holds: they are its stock. When
/// the order's state cannot be told, nothing is released here: holds whose
/// order is never stored are released once stale, by the next reservation of
/// those products.
async fn undo(store: &(impl StockStore + OrderStore), order: OrderId, lines: &[LineRequest]) {
    match store.drop_pending(order).await {
        Ok(true) => {}
        Ok(false) => match store.order_status(order).await {
            Ok(None | Some((OrderStatus::Abandoned | OrderStatus::Cancelled, _))) => {}
            Ok(Some(_)) => {
                tracing::warn!(%order, "a failed reservation's order was stored meanwhile; its holds stay");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, %order, "cannot tell the order of a failed reservation; its holds are released once stale");
                return;
            }
        },
        Err(e) => {
            tracing::error!(error = %e, %order, "abandoning the order of a failed reservation failed; its holds are released once stale");
            return;
        }
    }
    for line in lines {
        if let Err(e) = store.release_hold(line.product_id, order).await {
            tracing::error!(error = %e, product_id = %line.product_id, "undoing a hold failed");
        }
    }
}

/// The short line that stopped the reservation, and every other line that the
/// stock read before it could not have served either.
fn shortages(
    lines: &[LineRequest],
    found: &[(Product, Vec<StockHold>)],
    stopped_at: Shortage,
) -> Vec<Shortage> {
    lines
        .iter()
        .filter_map(|line| {
            if line.product_id == stopped_at.product_id {
                return Some(stopped_at);
            }
            let (product, _) = found.iter().find(|(p, _)| p.id == line.product_id)?;
            let available = product.stock?;
            (available < line.quantity).then_some(Shortage {
                product_id: line.product_id,
                requested: line.quantity,
                available,
            })
        })
        .collect()
}

/// What releasing an order's stock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The holds there were (possibly none) are released.
    Done,
    /// The order is placed and not cancelled: its stock stays.
    OrderIsLive(OrderStatus),
}

/// Releases every hold of `order`, unless the order is live. A pending order is
/// abandoned first, so that it can never be stored after its stock went back.
pub async fn release_order(
    store: &(impl StockStore + OrderStore),
    order: OrderId,
) -> StoreResult<Released> {
    match store.order_status(order).await? {
        Some((OrderStatus::Pending, _)) => {
            if !store.drop_pending(order).await? {
                // Stored meanwhile: look again.
                return Box::pin(release_order(store, order)).await;
            }
        }
        Some((OrderStatus::Cancelled | OrderStatus::Abandoned, _)) | None => {}
        Some((status, _)) => return Ok(Released::OrderIsLive(status)),
    }
    for product in store.products_holding(order).await? {
        store.release_hold(product, order).await?;
    }
    Ok(Released::Done)
}

/// What a reconciling pass did to one hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// Its order was never stored, or was cancelled: the stock went back.
    Released,
    /// Its order shipped: the stock is gone for good and the hold forgotten.
    Settled,
    /// Its order is live: kept, and marked so.
    Kept,
}

/// Settles one hold that is older than a reservation may stay open, from the
/// state of its order.
pub async fn reconcile_hold(
    store: &(impl StockStore + OrderStore),
    product: ProductId,
    hold: &StockHold,
) -> StoreResult<Reconciled> {
    let outcome = match store.order_status(hold.order).await? {
        Some((OrderStatus::Pending, _)) if !store.drop_pending(hold.order).await? => {
            // Stored just now: decide on the next pass.
            return Ok(Reconciled::Kept);
        }
        None
        | Some((OrderStatus::Pending | OrderStatus::Cancelled | OrderStatus::Abandoned, _)) => {
            store.release_hold(product, hold.order).await?;
            Reconciled::Released
        }
        Some((OrderStatus::Shipped | OrderStatus::Delivered, _)) => {
            store.settle_hold(product, hold.order).await?;
            Reconciled::Settled
        }
        Some((OrderStatus::Created | OrderStatus::Paid, _)) => {
            store.mark_hold_live(product, hold.order).await?;
            Reconciled::Kept
        }
    };
    tracing::info!(%product, order = %hold.order, ?outcome, "stale stock hold reconciled");
    Ok(outcome)
}

/// What a whole reconciling pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    pub abandoned_orders: usize,
    pub released: usize,
    pub settled: usize,
    pub kept: usize,
}

/// Reconciles everything at once (`shop-admin reconcile`): abandons pending
/// orders older than `ttl` and releases what they hold, then settles every hold
/// older than `ttl` (marked live or not) from its order's state.
pub async fn reconcile_all(
    store: &(impl StockStore + OrderStore),
    ttl: Duration,
    at: OffsetDateTime,
) -> StoreResult<Sweep> {
    let before = at - ttl;
    let mut sweep = Sweep::default();
    for order in store.pending_orders_before(before).await? {
        if let Released::Done = release_order(store, order).await? {
            sweep.abandoned_orders += 1;
        }
    }
    for product in store.products_with_any_hold().await? {
        for hold in store.holds_on(product).await? {
            if hold.at >= before {
                continue;
            }
            match reconcile_hold(store, product, &hold).await? {
                Reconciled::Released => sweep.released += 1,
                Reconciled::Settled => sweep.settled += 1,
                Reconciled::Kept => sweep.kept += 1,
            }
        }
    }
    Ok(sweep)
}
