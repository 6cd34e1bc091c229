//! The product service's stock routes, internal: only the order functions
//! call them, with a service token ([`token`]). `POST /stock/reservations`
//! reserves an order's stock and prices its lines in one call;
//! `DELETE /stock/reservations/{orderId}` gives the stock of an order that was
//! not stored, or was cancelled, back.

pub mod ledger;
pub mod release;
pub mod reserve;
pub mod token;

use std::time::Duration;

use shop_store::MongoStore;

use crate::config::{self, ConfigError};
use token::ServiceTokens;

/// What an instance of a stock function keeps.
pub struct Instance {
    pub store: MongoStore,
    pub service: ServiceTokens,
    /// How old a reservation whose order never appeared must be to be released.
    pub ttl: Duration,
}

impl Instance {
    pub async fn init() -> Result<Self, ConfigError> {
        Ok(Self {
            service: config::service_tokens_from_env()?,
            ttl: config::reservation_ttl_from_env()?,
            store: config::mongo_store_from_env().await?,
        })
    }
}
