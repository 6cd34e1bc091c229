//! An in-memory store with the MongoDB adapter's semantics, for handler unit tests.

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

use time::OffsetDateTime;

use crate::{
    Claim, Counters, KeyClaim, OrderStore, ProductFilter, ProductStore, StoreError, StoreResult,
    Updated, UserStore,
};
use shop_domain::limits::{Count, window};
use shop_domain::order::Order;
use shop_domain::paging::PageParams;
use shop_domain::{CategoryCount, OrderId, Product, ProductId, ProductPatch, Role, User, UserId};

#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<Vec<User>>,
    /// Each product with whether it is archived.
    products: Mutex<Vec<(Product, bool)>>,
    counters: Mutex<HashMap<String, u64>>,
    orders: Mutex<Vec<Order>>,
    keys: Mutex<Vec<KeyClaim>>,
    /// When set, every operation fails as an unreachable database would.
    pub offline: std::sync::atomic::AtomicBool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn check_online(&self) -> StoreResult<()> {
        if self.offline.load(std::sync::atomic::Ordering::SeqCst) {
            Err(StoreError::Unavailable(
                "the in-memory store is offline".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Every stored order, for assertions.
    pub fn orders(&self) -> Vec<Order> {
        self.orders.lock().unwrap().clone()
    }

    /// The stored user records, hashes included, for assertions.
    pub fn users(&self) -> Vec<User> {
        self.users.lock().unwrap().clone()
    }

    fn matches_login(user: &User, login: &str) -> bool {
        let key = login.to_ascii_lowercase();
        if key.contains('@') {
            user.email.as_str() == key
        } else {
            user.username.key() == key
        }
    }
}

impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.check_online()?;
        let mut users = self.users.lock().unwrap();
        if users
            .iter()
            .any(|u| u.username.key() == user.username.key())
        {
            return Err(StoreError::Duplicate("username"));
        }
        if users.iter().any(|u| u.email == user.email) {
            return Err(StoreError::Duplicate("email"));
        }
        users.push(user.clone());
        Ok(())
    }

    async fn find_user(&self, login: &str) -> StoreResult<Option<User>> {
        self.check_online()?;
        let users = self.users.lock().unwrap();
        Ok(users
            .iter()
            .find(|u| Self::matches_login(u, login))
            .cloned())
    }

    async fn find_user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.check_online()?;
        let users = self.users.lock().unwrap();
        Ok(users.iter().find(|u| u.id == id).cloned())
    }

    async fn set_role(&self, login: &str, role: Role) -> StoreResult<Option<User>> {
        self.update_user(login, |user| user.role = role)
    }

    async fn set_disabled(&self, login: &str, disabled: bool) -> StoreResult<Option<User>> {
        self.update_user(login, |user| user.disabled = disabled)
    }

    async fn change_password(
        &self,
        id: UserId,
        generation: u32,
        password_hash: &str,
    ) -> StoreResult<bool> {
        self.check_online()?;
        let mut users = self.users.lock().unwrap();
        let found = users
            .iter_mut()
            .find(|u| u.id == id && !u.disabled && u.token_generation == generation);
        Ok(found
            .map(|user| {
                user.password_hash = password_hash.to_string();
                user.token_generation = generation + 1;
            })
            .is_some())
    }
}

impl MemoryStore {
    fn update_user(
        &self,
        login: &str,
        change: impl FnOnce(&mut User),
    ) -> StoreResult<Option<User>> {
        self.check_online()?;
        let mut users = self.users.lock().unwrap();
        let found = users.iter_mut().find(|u| Self::matches_login(u, login));
        Ok(found.map(|user| {
            change(user);
            user.clone()
        }))
    }

    fn count(
        &self,
        name: &str,
        length: Duration,
        now: OffsetDateTime,
        by: u64,
    ) -> StoreResult<Count> {
        self.check_online()?;
        let (start, end) = window(now, length);
        let mut counters = self.counters.lock().unwrap();
        let value = counters.entry(format!("{name}@{start}")).or_default();
        *value += by;
        Ok(Count {
            value: *value,
            wait: Duration::try_from(end - now)
                .unwrap_or_default()
                .max(Duration::from_secs(1)),
        })
    }
}

impl Counters for MemoryStore {
    async fn bump(
        &self,
        name: &str,
        length: Duration,
        now: OffsetDateTime,
        by: u64,
    ) -> StoreResult<Count> {
        self.count(name, length, now, by)
    }

    async fn peek(&self, name: &str, length: Duration, now: OffsetDateTime) -> StoreResult<Count> {
        self.count(name, length, now, 0)
    }
}

impl ProductStore for MemoryStore {
    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        self.check_online()?;
        self.products.lock().unwrap().push((product.clone(), false));
        Ok(())
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.check_online()?;
        let products = self.products.lock().unwrap();
        Ok(products
            .iter()
            .find(|(p, archived)| p.id == id && !archived)
            .map(|(p, _)| p.clone()))
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
            .filter(|(_, archived)| !archived)
            .map(|(p, _)| p)
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
        self.check_online()?;
        let mut products = self.products.lock().unwrap();
        let Some((product, _)) = products
            .iter_mut()
            .find(|(p, archived)| p.id == id && !archived)
        else {
            return Ok(Updated::Missing);
        };
        if product.version != expected {
            return Ok(Updated::Stale);
        }
        *product = patch.apply(product, now);
        Ok(Updated::Done(product.clone()))
    }

    async fn archive_product(&self, id: ProductId, _now: OffsetDateTime) -> StoreResult<bool> {
        self.check_online()?;
        let mut products = self.products.lock().unwrap();
        match products
            .iter_mut()
            .find(|(p, archived)| p.id == id && !archived)
        {
            Some((_, archived)) => {
                *archived = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn list_categories(&self) -> StoreResult<Vec<CategoryCount>> {
        self.check_online()?;
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for (product, archived) in self.products.lock().unwrap().iter() {
            if !archived {
                *counts
                    .entry(product.category.as_str().to_string())
                    .or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|(name, count)| CategoryCount { name, count })
            .collect())
    }
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
        self.check_online()?;
        Ok(self
            .orders
            .lock()
            .unwrap()
            .iter()
            .find(|o| o.id == id)
            .cloned())
    }

    async fn list_orders(
        &self,
        user: Option<UserId>,
        page: &PageParams,
    ) -> StoreResult<Vec<Order>> {
        self.check_online()?;
        let mut selected: Vec<Order> = self
            .orders
            .lock()
            .unwrap()
            .iter()
            .filter(|o| user.is_none_or(|u| o.user_id == u))
            .filter(|o| page.before.is_none_or(|before| o.id.bytes() < before))
            .cloned()
            .collect();
        selected.sort_by_key(|o| std::cmp::Reverse(o.id));
        selected.truncate(page.fetch());
        Ok(selected)
    }

    async fn claim_key(&self, claim: &KeyClaim) -> StoreResult<Claim> {
        self.check_online()?;
        let mut keys = self.keys.lock().unwrap();
        match keys
            .iter()
            .find(|k| k.user_id == claim.user_id && k.key == claim.key)
        {
            Some(existing) => Ok(Claim::Taken(existing.clone())),
            None => {
                keys.push(claim.clone());
                Ok(Claim::Won)
            }
        }
    }

    async fn release_key(&self, claim: &KeyClaim) -> StoreResult<()> {
        self.check_online()?;
        self.keys.lock().unwrap().retain(|k| k != claim);
        Ok(())
    }
}
