//! The in-memory store's products and stock.

use time::OffsetDateTime;

use super::{MemoryStore, Stored};
use crate::{Hold, ProductFilter, ProductStore, StockHold, StockStore, StoreResult, Updated};
use shop_domain::paging::PageParams;
use shop_domain::{CategoryCount, OrderId, Product, ProductId, ProductPatch};

impl MemoryStore {
    /// Runs `f` on the listed product `id`, if there is one.
    fn with_listed<T>(
        &self,
        id: ProductId,
        f: impl FnOnce(&mut Stored) -> T,
    ) -> StoreResult<Option<T>> {
        self.with_product(id, false, f)
    }

    /// Runs `f` on product `id`, archived or not, if there is one.
    fn with_any<T>(
        &self,
        id: ProductId,
        f: impl FnOnce(&mut Stored) -> T,
    ) -> StoreResult<Option<T>> {
        self.with_product(id, true, f)
    }

    fn with_product<T>(
        &self,
        id: ProductId,
        archived_too: bool,
        f: impl FnOnce(&mut Stored) -> T,
    ) -> StoreResult<Option<T>> {
        self.check_online()?;
        let mut products = self.products.lock().unwrap();
        Ok(products
            .iter_mut()
            .find(|s| s.product.id == id && (archived_too || !s.archived))
            .map(f))
    }
}

impl ProductStore for MemoryStore {
    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        self.check_online()?;
        self.products.lock().unwrap().push(Stored {
            product: product.clone(),
            archived: false,
            holds: Vec::new(),
        });
        Ok(())
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.with_listed(id, |s| s.product.clone())
    }

    async fn list_products(
        &self,
        filter: &ProductFilter,
        page: &PageParams,
    ) -> StoreResult<Vec<Product>> {
        self.check_online()?;
        let mut selected: Vec<Product> = self
            .products
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !s.archived)
            .map(|s| &s.product)
            .filter(|p| filter.category.as_ref().is_none_or(|c| &p.category == c))
            .filter(|p| filter.ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
            .filter(|p| page.before.is_none_or(|before| p.id.bytes() < before))
            .cloned()
            .collect();
        selected.sort_by_key(|p| std::cmp::Reverse(p.id));
        selected.truncate(page.fetch());
        Ok(selected)
    }

    async fn update_product(
        &self,
        id: ProductId,
        expected: u64,
        patch: &ProductPatch,
        now: OffsetDateTime,
    ) -> StoreResult<Updated<Product>> {
        let updated = self.with_listed(id, |stored| {
            if stored.product.version != expected {
                return Updated::Stale;
            }
            stored.product = patch.apply(&stored.product, now);
            Updated::Done(stored.product.clone())
        })?;
        Ok(updated.unwrap_or(Updated::Missing))
    }

    async fn archive_product(&self, id: ProductId, _now: OffsetDateTime) -> StoreResult<bool> {
        Ok(self.with_listed(id, |s| s.archived = true)?.is_some())
    }

    async fn list_categories(&self) -> StoreResult<Vec<CategoryCount>> {
        self.check_online()?;
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for stored in self.products.lock().unwrap().iter().filter(|s| !s.archived) {
            *counts
                .entry(stored.product.category.as_str().to_string())
                .or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|(name, count)| CategoryCount { name, count })
            .collect())
    }
}

impl StockStore for MemoryStore {
    async fn products_with_holds(
        &self,
        ids: &[ProductId],
    ) -> StoreResult<Vec<(Product, Vec<StockHold>)>> {
        self.check_online()?;
        Ok(self
            .products
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !s.archived && ids.contains(&s.product.id))
            .map(|s| (s.product.clone(), s.holds.clone()))
            .collect())
    }

    async fn hold_stock(
        &self,
        product: ProductId,
        order: OrderId,
        quantity: u32,
        at: OffsetDateTime,
    ) -> StoreResult<Hold> {
        let hold = self.with_listed(product, |stored| {
            if stored.holds.iter().any(|h| h.order == order) {
                return Hold::AlreadyHeld;
            }
            match stored.product.stock {
                None => Hold::Untracked,
                Some(available) if available < quantity => Hold::Short { available },
                Some(available) => {
                    stored.product.stock = Some(available - quantity);
                    stored.holds.push(StockHold {
                        order,
                        quantity,
                        at,
                        live: false,
                    });
                    Hold::Held
                }
            }
        })?;
        Ok(hold.unwrap_or(Hold::Missing))
    }

    async fn release_hold(&self, product: ProductId, order: OrderId) -> StoreResult<bool> {
        Ok(self
            .with_any(product, |stored| {
                let at = stored.holds.iter().position(|h| h.order == order)?;
                let hold = stored.holds.remove(at);
                if let Some(stock) = &mut stored.product.stock {
                    *stock += hold.quantity;
                }
                Some(())
            })?
            .flatten()
            .is_some())
    }

    async fn settle_hold(&self, product: ProductId, order: OrderId) -> StoreResult<bool> {
        Ok(self
            .with_any(product, |stored| {
                let before = stored.holds.len();
                stored.holds.retain(|h| h.order != order);
                stored.holds.len() < before
            })?
            .unwrap_or(false))
    }

    async fn mark_hold_live(&self, product: ProductId, order: OrderId) -> StoreResult<()> {
        self.with_any(product, |stored| {
            for hold in stored.holds.iter_mut().filter(|h| h.order == order) {
                hold.live = true;
            }
        })?;
        Ok(())
    }

    async fn products_holding(&self, order: OrderId) -> StoreResult<Vec<ProductId>> {
        self.product_ids(|s| s.holds.iter().any(|h| h.order == order))
    }

    async fn products_with_any_hold(&self) -> StoreResult<Vec<ProductId>> {
        self.product_ids(|s| !s.holds.is_empty())
    }

    async fn holds_on(&self, product: ProductId) -> StoreResult<Vec<StockHold>> {
        Ok(self
            .with_any(product, |s| s.holds.clone())?
            .unwrap_or_default())
    }
}

impl MemoryStore {
    fn product_ids(&self, keep: impl Fn(&Stored) -> bool) -> StoreResult<Vec<ProductId>> {
        self.check_online()?;
        let products = self.products.lock().unwrap();
        Ok(products
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.product.id)
            .collect())
    }

    /// Every product's stock and holds, archived ones too, for assertions.
    pub fn stock_ledger(&self) -> Vec<(ProductId, Option<u32>, Vec<StockHold>)> {
        self.products
            .lock()
            .unwrap()
            .iter()
            .map(|s| (s.product.id, s.product.stock, s.holds.clone()))
            .collect()
    }
}
