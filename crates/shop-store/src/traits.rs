//! The storage traits the API is written against: one per aggregate, plus the
//! rate-limit counters.

use std::future::Future;
use std::time::Duration;

use shop_domain::limits::Count;
use shop_domain::order::{Order, OrderStatus, StatusChange};
use shop_domain::paging::PageParams;
use shop_domain::{
    Category, CategoryCount, OrderId, Product, ProductId, ProductPatch, Role, User, UserId,
};
use time::OffsetDateTime;

use crate::StoreResult;

pub trait UserStore: Send + Sync {
    /// Inserts a new user; `Duplicate("username" | "email")` when either is taken
    /// (usernames compared case-insensitively).
    fn insert_user(&self, user: &User) -> impl Future<Output = StoreResult<()>> + Send;

    /// Finds a user by username (any letter case) or, when `login` holds an `@`,
    /// by email.
    fn find_user(&self, login: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Finds a user by id (a token's subject).
    fn find_user_by_id(&self, id: UserId)
    -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Sets the role of the user found as [`UserStore::find_user`] finds one.
    fn set_role(
        &self,
        login: &str,
        role: Role,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Disables (or enables again) the user found as [`UserStore::find_user`] finds one.
    fn set_disabled(
        &self,
        login: &str,
        disabled: bool,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Replaces an enabled user's password hash and moves their token generation
    /// on, if it is still `generation` (one conditional write: of two changes made
    /// with the same token, one wins). `false` when it is not.
    fn change_password(
        &self,
        id: UserId,
        generation: u32,
        password_hash: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Counters in fixed windows ([`shop_domain::limits::window`]), for the rate limits. In
/// MongoDB, so that every instance of every function sees the same counts; each
/// change is one atomic write.
pub trait Counters: Send + Sync {
    /// Adds `by` to counter `name` in the window of length `window` that holds
    /// `now`, starting it at zero, and returns the count after.
    fn bump(
        &self,
        name: &str,
        window: Duration,
        now: OffsetDateTime,
        by: u64,
    ) -> impl Future<Output = StoreResult<Count>> + Send;

    /// Counter `name`'s value in that window, without changing it.
    fn peek(
        &self,
        name: &str,
        window: Duration,
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Count>> + Send;

    /// Several counters' values, each `(name, window)` in its own window, in
    /// one read; in the order asked.
    fn peek_each(
        &self,
        counters: &[(&str, Duration)],
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Vec<Count>>> + Send;
}

/// Which products a listing selects.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub category: Option<Category>,
    pub ids: Option<Vec<ProductId>>,
}

/// What a conditional update found.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated<T> {
    /// The condition held; the record as it is now.
    Done(T),
    /// The record exists in another version than the one expected.
    Stale,
    /// No such record (or an archived product).
    Missing,
}

/// Products. Archived products are kept (orders name them) but every read here
/// passes over them: for the API they are gone.
pub trait ProductStore: Send + Sync {
    fn insert_product(&self, product: &Product) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_product(
        &self,
        id: ProductId,
    ) -> impl Future<Output = StoreResult<Option<Product>>> + Send;

    /// Newest first (by id), after the page's cursor, at most `page.fetch()` items.
    fn list_products(
        &self,
        filter: &ProductFilter,
        page: &PageParams,
    ) -> impl Future<Output = StoreResult<Vec<Product>>> + Send;

    /// Applies `patch` if the product is still at version `expected`, in one
    /// conditional write (never read-then-write): a concurrent edit makes this
    /// `Stale`, not lost.
    fn update_product(
        &self,
        id: ProductId,
        expected: u64,
        patch: &ProductPatch,
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Updated<Product>>> + Send;

    /// Archives a listed product; `false` when there is none to archive.
    fn archive_product(
        &self,
        id: ProductId,
        now: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Every category of a listed product, with its count, by name.
    fn list_categories(&self) -> impl Future<Output = StoreResult<Vec<CategoryCount>>> + Send;
}

/// An idempotency key is honoured this long after its first use; a later use
/// frees it from the old order and places a new one.
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// A buyer's claim on an idempotency key, kept on the order that claimed it:
/// the first request to claim it creates that order; later ones with the same
/// key replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub user_id: UserId,
    pub key: String,
    /// What the claiming request asked for (`OrderRequest::fingerprint`).
    pub fingerprint: String,
    pub order_id: OrderId,
    pub created_at: OffsetDateTime,
    /// The claiming invocation's deadline: past it, that request is certainly
    /// gone, and a retry may take the key (and its pending order) over.
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the key: its pending order is stored with it.
    Won,
    /// Another order holds the key; nothing was stored.
    Taken(KeyClaim),
}

/// Which orders a listing selects.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderFilter {
    /// One buyer's orders, or everyone's.
    pub user: Option<UserId>,
    pub status: Option<OrderStatus>,
}

/// Orders. A pending order (recorded before its stock is reserved) is not an
/// order yet, nor is an abandoned one: every read here but
/// [`OrderStore::order_status`] passes over them.
pub trait OrderStore: Send + Sync {
    /// Inserts an order (a pending one, when placing it); `Duplicate("id")` when
    /// one with its id exists.
    fn insert_order(&self, order: &Order) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_order(&self, id: OrderId) -> impl Future<Output = StoreResult<Option<Order>>> + Send;

    /// Newest first, after the page's cursor.
    fn list_orders(
        &self,
        filter: &OrderFilter,
        page: &PageParams,
    ) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;

    /// Replaces the pending order of the same id with `order`, if it is still
    /// pending: one conditional write. `false` when it was abandoned meanwhile.
    fn finalize_order(&self, order: &Order) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Abandons a pending order, if it is still pending, and frees its
    /// idempotency key; `true` when this call did it. After that it can never
    /// be finalized, nor its id used again.
    fn drop_pending(&self, id: OrderId) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Moves an order from status `from` as `change` says and appends `change`
    /// to its history, if it is still in `from`: one conditional write.
    fn change_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        change: &StatusChange,
    ) -> impl Future<Output = StoreResult<Updated<Order>>> + Send;

    /// The status and creation time of any order, pending ones included.
    fn order_status(
        &self,
        id: OrderId,
    ) -> impl Future<Output = StoreResult<Option<(OrderStatus, OffsetDateTime)>>> + Send;

    /// The pending orders created before `before`.
    fn pending_orders_before(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Vec<OrderId>>> + Send;

    /// Stores a pending order that claims `claim.key` for its buyer, in one
    /// insert: a unique index on (buyer, key) decides between racers.
    /// `claim.order_id` must be `pending.id`.
    fn claim_key(
        &self,
        pending: &Order,
        claim: &KeyClaim,
    ) -> impl Future<Output = StoreResult<Claim>> + Send;

    /// Takes over the claim `held` of a request past its deadline, with its
    /// pending order, until `expires_at`: one conditional write, `false` when
    /// the order is no longer pending or another request took it over first.
    fn take_over_key(
        &self,
        held: &KeyClaim,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Frees the key `held` (used past [`IDEMPOTENCY_KEY_TTL`]) from its order,
    /// if that order still holds it and is not pending; `true` when this call
    /// did it. A pending order's key goes with [`OrderStore::drop_pending`].
    fn release_key(&self, held: &KeyClaim) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Deletes a pending order refused before its reservation, with its key;
    /// `false` when it was not pending. Stock it holds (a gone request's, whose
    /// order a retry took over) is released once stale, as for any order that
    /// was never stored.
    fn discard_pending(&self, id: OrderId) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// What holding stock for an order found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The stock was taken and the hold recorded, in one write.
    Held,
    /// This order holds stock of the product already: nothing was taken again.
    AlreadyHeld,
    /// The product does not track its stock: nothing to take.
    Untracked,
    /// Not enough: this much is available.
    Short { available: u32 },
    /// No such listed product.
    Missing,
}

/// Stock an order holds of one product, recorded on the product itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockHold {
    pub order: OrderId,
    pub quantity: u32,
    pub at: OffsetDateTime,
    /// Found to belong to a placed order: a reconciling pass need not look again.
    pub live: bool,
}

/// Stock, held per order on the product's own document, so that taking stock
/// and recording who took it are one atomic write (no multi-document
/// transactions: a standalone mongod has none).
pub trait StockStore: Send + Sync {
    /// The listed products among `ids`, each with the holds on it.
    fn products_with_holds(
        &self,
        ids: &[ProductId],
    ) -> impl Future<Output = StoreResult<Vec<(Product, Vec<StockHold>)>>> + Send;

    /// Takes `quantity` of a listed product's tracked stock for `order`, if there
    /// is that much and `order` holds none of it yet.
    fn hold_stock(
        &self,
        product: ProductId,
        order: OrderId,
        quantity: u32,
        at: OffsetDateTime,
    ) -> impl Future<Output = StoreResult<Hold>> + Send;

    /// Gives back exactly what `order` holds of the product (archived or not)
    /// and forgets the hold; `false` when it held nothing. Stock that stopped
    /// being tracked meanwhile gets nothing back.
    fn release_hold(
        &self,
        product: ProductId,
        order: OrderId,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Forgets a hold without giving its stock back (its order shipped).
    fn settle_hold(
        &self,
        product: ProductId,
        order: OrderId,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Marks a hold as belonging to a placed order (see [`StockHold::live`]).
    fn mark_hold_live(
        &self,
        product: ProductId,
        order: OrderId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The products (archived ones too) holding stock for `order`.
    fn products_holding(
        &self,
        order: OrderId,
    ) -> impl Future<Output = StoreResult<Vec<ProductId>>> + Send;

    /// Every product (archived ones too) that holds stock for some order.
    fn products_with_any_hold(&self) -> impl Future<Output = StoreResult<Vec<ProductId>>> + Send;

    /// The holds on one product, archived or not.
    fn holds_on(
        &self,
        product: ProductId,
    ) -> impl Future<Output = StoreResult<Vec<StockHold>>> + Send;
}
