//! The in-memory store's orders and the idempotency keys they hold.

use time::OffsetDateTime;

use super::MemoryStore;
use crate::{Claim, KeyClaim, OrderFilter, OrderStore, StoreError, StoreResult, Updated};
use shop_domain::OrderId;
use shop_domain::order::{Order, OrderStatus, StatusChange};
use shop_domain::paging::PageParams;

impl MemoryStore {
    /// Runs `f` on the order `id`, pending or placed.
    fn with_order<T>(
        &self,
        id: OrderId,
        f: impl FnOnce(&mut Order) -> T,
    ) -> StoreResult<Option<T>> {
        self.check_online()?;
        let mut orders = self.orders.lock().unwrap();
        Ok(orders.iter_mut().find(|o| o.id == id).map(f))
    }
}

/// Whether order `id` is among `orders`, pending.
fn is_pending(orders: &[Order], id: OrderId) -> bool {
    orders
        .iter()
        .any(|o| o.id == id && o.status == OrderStatus::Pending)
}

/// Whether an order in this status was placed (is an order for the API).
fn placed(status: OrderStatus) -> bool {
    !matches!(status, OrderStatus::Pending | OrderStatus::Abandoned)
}

impl OrderStore for MemoryStore {
    async fn insert_order(&self, order: &Order) -> StoreResult<()> {
        self.check_online()?;
        let mut orders = self.orders.lock().unwrap();
        if orders.iter().any(|o| o.id == order.id) {
            return Err(StoreError::Duplicate("id"));
        }
        orders.push(order.clone());
        Ok(())
    }

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        Ok(self
            .with_order(id, |o| o.clone())?
            .filter(|o| placed(o.status)))
    }

    async fn list_orders(
        &self,
        filter: &OrderFilter,
        page: &PageParams,
    ) -> StoreResult<Vec<Order>> {
        self.check_online()?;
        let mut selected: Vec<Order> = self
            .orders
            .lock()
            .unwrap()
            .iter()
            .filter(|o| placed(o.status))
            .filter(|o| filter.user.is_none_or(|u| o.user_id == u))
            .filter(|o| filter.status.is_none_or(|s| o.status == s))
            .filter(|o| page.before.is_none_or(|before| o.id.bytes() < before))
            .cloned()
            .collect();
        selected.sort_by_key(|o| std::cmp::Reverse(o.id));
        selected.truncate(page.fetch());
        Ok(selected)
    }

    async fn finalize_order(&self, order: &Order) -> StoreResult<bool> {
        if self
            .fail_finalize
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable(
                "the store failed on purpose".into(),
            ));
        }
        Ok(self
            .with_order(order.id, |stored| {
                let pending = stored.status == OrderStatus::Pending;
                if pending {
                    *stored = order.clone();
                }
                pending
            })?
            .unwrap_or(false))
    }

    async fn drop_pending(&self, id: OrderId) -> StoreResult<bool> {
        self.check_online()?;
        let mut orders = self.orders.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        let Some(order) = orders
            .iter_mut()
            .find(|o| o.id == id && o.status == OrderStatus::Pending)
        else {
            return Ok(false);
        };
        order.status = OrderStatus::Abandoned;
        keys.retain(|k| k.order_id != id);
        Ok(true)
    }

    async fn change_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        change: &StatusChange,
    ) -> StoreResult<Updated<Order>> {
        let changed = self.with_order(id, |order| {
            if !placed(order.status) {
                Updated::Missing
            } else if order.status != from {
                Updated::Stale
            } else {
                order.status = change.status;
                order.updated_at = change.at;
                order.status_history.push(change.clone());
                Updated::Done(order.clone())
            }
        })?;
        Ok(changed.unwrap_or(Updated::Missing))
    }

    async fn order_status(
        &self,
        id: OrderId,
    ) -> StoreResult<Option<(OrderStatus, OffsetDateTime)>> {
        self.with_order(id, |o| (o.status, o.created_at))
    }

    async fn pending_orders_before(&self, before: OffsetDateTime) -> StoreResult<Vec<OrderId>> {
        self.check_online()?;
        let orders = self.orders.lock().unwrap();
        Ok(orders
            .iter()
            .filter(|o| o.status == OrderStatus::Pending && o.created_at < before)
            .map(|o| o.id)
            .collect())
    }

    async fn claim_key(&self, pending: &Order, claim: &KeyClaim) -> StoreResult<Claim> {
        debug_assert_eq!(claim.order_id, pending.id, "a claim names its own order");
        self.check_online()?;
        // Orders, then keys, as every other path that takes both.
        let mut orders = self.orders.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        if let Some(held) = keys
            .iter()
            .find(|k| k.user_id == claim.user_id && k.key == claim.key)
        {
            return Ok(Claim::Taken(held.clone()));
        }
        if orders.iter().any(|o| o.id == pending.id) {
            return Err(StoreError::Duplicate("id"));
        }
        orders.push(pending.clone());
        keys.push(claim.clone());
        Ok(Claim::Won)
    }

    async fn take_over_key(
        &self,
        held: &KeyClaim,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.check_online()?;
        let orders = self.orders.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        let pending = is_pending(&orders, held.order_id);
        match keys.iter_mut().find(|k| *k == held) {
            Some(claim) if pending => {
                claim.expires_at = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_key(&self, held: &KeyClaim) -> StoreResult<bool> {
        self.check_online()?;
        let orders = self.orders.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        let pending = is_pending(&orders, held.order_id);
        let before = keys.len();
        if !pending {
            keys.retain(|k| !(k.order_id == held.order_id && k.key == held.key));
        }
        Ok(keys.len() < before)
    }

    async fn discard_pending(&self, id: OrderId) -> StoreResult<bool> {
        self.check_online()?;
        let mut orders = self.orders.lock().unwrap();
        let before = orders.len();
        orders.retain(|o| !(o.id == id && o.status == OrderStatus::Pending));
        let discarded = orders.len() < before;
        if discarded {
            self.keys.lock().unwrap().retain(|k| k.order_id != id);
        }
        Ok(discarded)
    }
}
