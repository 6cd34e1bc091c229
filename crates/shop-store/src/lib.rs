//! Storage behind small traits: the MongoDB adapter for real use, an in-memory
//! one (feature `test-util`) for handler unit tests. It knows the domain and
//! nothing of HTTP: it returns [`StoreError`]s, which the API maps to statuses.

mod error;
mod traits;

pub mod deadline;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod mongo;
mod mongo_keys;
mod mongo_orders;
mod mongo_products;
mod mongo_stock;
mod mongo_users;

pub use error::{StoreError, StoreResult};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryStore;
pub use mongo::MongoStore;
pub use traits::{
    Claim, Counters, Hold, IDEMPOTENCY_KEY_TTL, KeyClaim, OrderFilter, OrderStore, ProductFilter,
    ProductStore, StockHold, StockStore, Updated, UserStore,
};
