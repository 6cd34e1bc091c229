//! A stand-in for the product function in unit tests: no HTTP, answers from
//! the store, counts calls, and can be told to be down or slow.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::catalog::{CatalogError, ProductCatalog};
use shop_domain::ProductId;
use shop_domain::order::CatalogEntry;
use shop_domain::paging::PageParams;
use shop_store::{ProductFilter, ProductStore};

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
    pub calls: AtomicUsize,
    pub mode: Mutex<CatalogMode>,
}

impl FakeCatalog {
    pub fn set_mode(&self, mode: CatalogMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The fake, answering from a store.
pub(super) struct StoreCatalog<'a, S> {
    pub(super) store: &'a S,
    pub(super) fake: &'a FakeCatalog,
}

impl<S: ProductStore> ProductCatalog for StoreCatalog<'_, S> {
    async fn lookup(
        &self,
        _base: &str,
        ids: &[ProductId],
        deadline: Instant,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        self.fake.calls.fetch_add(1, Ordering::SeqCst);
        let mode = *self.fake.mode.lock().unwrap();
        match mode {
            CatalogMode::Down => return Err(CatalogError::Unavailable("down".into())),
            CatalogMode::Slow(delay) => {
                if Instant::now() + delay > deadline {
                    return Err(CatalogError::Unavailable("too slow".into()));
                }
                tokio::time::sleep(delay).await;
            }
            CatalogMode::Answer => {}
        }
        let filter = ProductFilter {
            category: None,
            ids: Some(ids.to_vec()),
        };
        let page = PageParams {
            limit: 100,
            before: None,
        };
        let products = self
            .store
            .list_products(&filter, &page)
            .await
            .map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        Ok(products
            .into_iter()
            .map(|p| CatalogEntry {
                id: p.id,
                name: p.name.as_str().to_string(),
                price: p.price,
            })
            .collect())
    }
}
