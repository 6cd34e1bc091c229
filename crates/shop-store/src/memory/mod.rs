//! An in-memory store with the MongoDB adapter's semantics, for handler unit tests.

mod catalog;
mod orders;

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

use time::OffsetDateTime;

use crate::{Counters, KeyClaim, StockHold, StoreError, StoreResult, UserStore};
use shop_domain::limits::{Count, window};
use shop_domain::order::Order;
use shop_domain::{Product, Role, User, UserId};

/// A product as kept: whether it is archived, and the stock orders hold of it.
#[derive(Clone)]
pub(super) struct Stored {
    pub(super) product: Product,
    pub(super) archived: bool,
    pub(super) holds: Vec<StockHold>,
}

#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<Vec<User>>,
    products: Mutex<Vec<Stored>>,
    counters: Mutex<HashMap<String, u64>>,
    orders: Mutex<Vec<Order>>,
    /// The idempotency keys orders hold, each naming its order: taken with
    /// the order's insert, freed when it is abandoned or discarded.
    keys: Mutex<Vec<KeyClaim>>,
    /// When set, every operation fails as an unreachable database would.
    pub offline: std::sync::atomic::AtomicBool,
    /// When set, the next [`OrderStore::finalize_order`] fails as a database that
    /// went away between reserving stock and storing the order would.
    pub fail_finalize: std::sync::atomic::AtomicBool,
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

    async fn peek_each(
        &self,
        counters: &[(&str, Duration)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Count>> {
        counters
            .iter()
            .map(|&(name, length)| self.count(name, length, now, 0))
            .collect()
    }
}
