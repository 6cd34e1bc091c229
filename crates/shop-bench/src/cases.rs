//! What one request of each benchmark case asks of the database, in the order
//! its function asks it: the same store calls, with the same arguments, on a
//! store of its own (each function instance has its own client and pool).
//! Tokens, JSON and HTTP are left out: only the database, and for a login the
//! password hash, remain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use shop_api::auth::verify_password;
use shop_api::stock::ledger::{DEFAULT_RESERVATION_TTL, reserve_lines};
use shop_domain::limits::Limits;
use shop_domain::order::{CatalogEntry, Order, OrderRequest, price_lines};
use shop_domain::paging::PageParams;
use shop_domain::{Category, OrderId, ProductId, User, now};
use shop_store::{
    Claim, Counters, KeyClaim, MongoStore, OrderFilter, OrderStore, ProductFilter, ProductStore,
    UserStore,
};

/// The benchmark's cases, named as `scripts/bench-shop` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    ProductsList,
    ProductsGet,
    OrdersCreate,
    OrdersList,
    UsersLogin,
    /// The password check alone: Argon2id with the login's parameters.
    Argon2,
}

impl Case {
    pub(crate) fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "products-list" => Self::ProductsList,
            "products-get" => Self::ProductsGet,
            "orders-create" => Self::OrdersCreate,
            "orders-list" => Self::OrdersList,
            "users-login" => Self::UsersLogin,
            "argon2" => Self::Argon2,
            other => bail!("unknown case {other:?}"),
        })
    }
}

/// What every worker shares: the seeded users and products.
pub(crate) struct Seed {
    pub(crate) buyer: User,
    pub(crate) reader: User,
    pub(crate) product: ProductId,
    pub(crate) second: ProductId,
    pub(crate) password: String,
}

impl Seed {
    pub(crate) async fn load(
        store: &MongoStore,
        seed: &serde_json::Value,
        password: String,
    ) -> anyhow::Result<Self> {
        let user = async |name: &str| -> anyhow::Result<User> {
            store
                .find_user(name)
                .await?
                .with_context(|| format!("the seeded user {name} is missing"))
        };
        let product = |key: &str| -> anyhow::Result<ProductId> {
            let id = seed[key]
                .as_str()
                .with_context(|| format!("no {key} in the seed"))?;
            ProductId::parse(id).map_err(anyhow::Error::msg)
        };
        Ok(Self {
            buyer: user("benchbuyer").await?,
            reader: user("benchreader").await?,
            product: product("product")?,
            second: product("second")?,
            password,
        })
    }
}

/// One worker: a store of its own and a name for its idempotency keys.
pub(crate) struct Worker {
    pub(crate) store: MongoStore,
    pub(crate) seed: Arc<Seed>,
    pub(crate) name: String,
    pub(crate) limits: Limits,
    pub(crate) sent: u64,
}

impl Worker {
    /// One request's operations.
    pub(crate) async fn run(&mut self, case: Case) -> anyhow::Result<()> {
        self.sent += 1;
        match case {
            Case::ProductsList => {
                let filter = ProductFilter {
                    category: Some(Category::parse("listed".into()).map_err(anyhow::Error::msg)?),
                    ids: None,
                };
                let found = self
                    .store
                    .list_products(&filter, &PageParams::default())
                    .await?;
                ensure_some(!found.is_empty(), "no listed products")
            }
            Case::ProductsGet => {
                let found = self.store.get_product(self.seed.product).await?;
                ensure_some(found.is_some(), "the product is missing")
            }
            Case::OrdersList => {
                let reader = self.caller(&self.seed.reader).await?;
                let filter = OrderFilter {
                    user: Some(reader.id),
                    status: None,
                };
                let found = self
                    .store
                    .list_orders(&filter, &PageParams::default())
                    .await?;
                ensure_some(!found.is_empty(), "the reader has no orders")
            }
            Case::OrdersCreate => self.order().await,
            Case::UsersLogin => self.login().await,
            Case::Argon2 => {
                let hash = Some(self.seed.buyer.password_hash.as_str());
                ensure_some(
                    verify_password(&self.seed.password, hash).await,
                    "the password did not match",
                )
            }
        }
    }

    /// What the token check reads: the caller's stored user.
    async fn caller(&self, user: &User) -> anyhow::Result<User> {
        self.store
            .find_user_by_id(user.id)
            .await?
            .context("the caller is missing")
    }

    async fn order(&mut self) -> anyhow::Result<()> {
        let buyer = self.caller(&self.seed.buyer).await?;
        let body = format!(
            r#"{{"products":[{{"productId":"{}","quantity":1}},{{"productId":"{}","quantity":2}}]}}"#,
            self.seed.product, self.seed.second
        );
        let request = OrderRequest::parse(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let pending = Order::pending(OrderId::new(), buyer.id, &request, now());
        let claim = KeyClaim {
            user_id: buyer.id,
            key: format!("{}-{}", self.name, self.sent),
            fingerprint: request.fingerprint(),
            order_id: pending.id,
            created_at: pending.created_at,
            expires_at: pending.created_at + Duration::from_secs(10),
        };
        if self.store.claim_key(&pending, &claim).await? != Claim::Won {
            bail!("the idempotency key was taken");
        }
        let limit = self.limits.orders_per_user;
        let name = format!("orders:{}", buyer.id);
        self.store.bump(&name, limit.window, now(), 1).await?;
        let products = reserve_lines(
            &self.store,
            claim.order_id,
            &request.lines,
            DEFAULT_RESERVATION_TTL,
        )
        .await
        .map_err(|e| anyhow::anyhow!("the reservation failed: {e:?}"))?;
        let catalog: Vec<CatalogEntry> = products
            .into_iter()
            .map(|p| CatalogEntry {
                id: p.id,
                name: p.name.as_str().to_string(),
                price: p.price,
            })
            .collect();
        let (products, total_price) =
            price_lines(&request, &catalog).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let order = pending.created(products, total_price, buyer.id, now());
        ensure_some(
            self.store.finalize_order(&order).await?,
            "the pending order was gone",
        )
    }

    async fn login(&mut self) -> anyhow::Result<()> {
        let limits = &self.limits;
        let address = "127.0.0.1";
        self.store
            .bump(
                &format!("login:{address}"),
                limits.logins_per_address.window,
                now(),
                1,
            )
            .await?;
        let user = self
            .store
            .find_user(self.seed.buyer.username.as_str())
            .await?
            .context("the buyer is missing")?;
        let pair = format!("login-failures:user:{}:{address}", user.id);
        let account = format!("login-failures:user:{}", user.id);
        let windows = [
            (pair.as_str(), limits.login_failures_per_address.window),
            (account.as_str(), limits.login_failures_per_account.window),
        ];
        let peek_both = async || self.store.peek_each(&windows, now()).await;
        peek_both().await?;
        let matched = verify_password(&self.seed.password, Some(&user.password_hash)).await;
        ensure_some(matched, "the password did not match")?;
        peek_both().await?;
        Ok(())
    }
}

fn ensure_some(held: bool, otherwise: &str) -> anyhow::Result<()> {
    if held { Ok(()) } else { bail!("{otherwise}") }
}
