//! A stand-in for the product function in unit tests: no HTTP, reserves and
//! releases stock in the store with the stock functions' own code, counts
//! calls, and can be told to be down or slow.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::catalog::{CatalogError, ProductCatalog};
use crate::error::ApiError;
use crate::stock::ledger::{DEFAULT_RESERVATION_TTL, Released, release_order, reserve_lines};
use shop_domain::OrderId;
use shop_domain::order::{CatalogEntry, OrderRequest};
use shop_store::{OrderStore, StockStore};

/// How the fake product function behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CatalogMode {
    /// Answers from the store's products, as the real function would.
    #[default]
    Answer,
    /// Unreachable.
    Down,
    /// Answers after this long (past the deadline: unavailable).
    Slow(Duration),
}

/// A product function stand-in for unit tests: no HTTP, but it counts calls.
#[derive(Debug, Default)]
pub struct FakeCatalog {
    /// Reservations asked for.
    pub calls: AtomicUsize,
    /// Releases asked for.
    pub releases: AtomicUsize,
    pub mode: Mutex<CatalogMode>,
    /// The reservation TTL, in seconds, when not the default.
    pub ttl_seconds: Mutex<Option<u64>>,
}

impl FakeCatalog {
    pub fn ttl(&self) -> Duration {
        self.ttl_seconds
            .lock()
            .unwrap()
            .map_or(DEFAULT_RESERVATION_TTL, Duration::from_secs)
    }

    pub fn releases(&self) -> usize {
        self.releases.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: CatalogMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The fake, answering from a store through the very code the stock
/// functions run.
pub(crate) struct StoreCatalog<'a, S> {
    pub(crate) store: &'a S,
    pub(crate) fake: &'a FakeCatalog,
}

impl<S> StoreCatalog<'_, S> {
    /// Counts the call and behaves as the fake's mode says.
    async fn enter(&self, deadline: Instant) -> Result<(), CatalogError> {
        self.fake.calls.fetch_add(1, Ordering::SeqCst);
        let mode = *self.fake.mode.lock().unwrap();
        match mode {
            CatalogMode::Down => Err(CatalogError::Unavailable("down".into())),
            CatalogMode::Slow(delay) => {
                if Instant::now() + delay > deadline {
                    return Err(CatalogError::Unavailable("too slow".into()));
                }
                tokio::time::sleep(delay).await;
                Ok(())
            }
            CatalogMode::Answer => Ok(()),
        }
    }
}

impl<S: StockStore + OrderStore> ProductCatalog for StoreCatalog<'_, S> {
    async fn reserve(
        &self,
        _base: &str,
        order: OrderId,
        request: &OrderRequest,
        deadline: Instant,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        self.enter(deadline).await?;
        match reserve_lines(self.store, order, &request.lines, self.fake.ttl()).await {
            Ok(products) => Ok(products
                .into_iter()
                .map(|p| CatalogEntry {
                    id: p.id,
                    name: p.name.as_str().to_string(),
                    price: p.price,
                })
                .collect()),
            Err(ApiError::MissingProducts(ids)) => Err(CatalogError::Missing(ids)),
            Err(ApiError::InsufficientStock(lines)) => Err(CatalogError::Insufficient(lines)),
            Err(other) => Err(CatalogError::Unavailable(other.to_string())),
        }
    }

    async fn release(
        &self,
        _base: &str,
        order: OrderId,
        _deadline: Instant,
    ) -> Result<(), CatalogError> {
        self.fake.releases.fetch_add(1, Ordering::SeqCst);
        if *self.fake.mode.lock().unwrap() == CatalogMode::Down {
            return Err(CatalogError::Unavailable("down".into()));
        }
        match release_order(self.store, order).await {
            Ok(Released::Done) => Ok(()),
            Ok(Released::OrderIsLive(status)) => {
                Err(CatalogError::Unavailable(format!("the order is {status}")))
            }
            Err(e) => Err(CatalogError::Unavailable(e.to_string())),
        }
    }
}
