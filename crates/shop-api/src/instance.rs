//! What an instance of a function builds once, at start, and keeps for every
//! invocation it serves, for the endpoints that need the same things. An
//! endpoint that needs more (rate limits, the product lookup) declares its own.

use shop_store::MongoStore;

use crate::auth::Tokens;
use crate::config::{self, ConfigError};

/// The store alone: the public reads.
pub struct Public {
    pub store: MongoStore,
}

impl Public {
    pub async fn init() -> Result<Self, ConfigError> {
        Ok(Self {
            store: config::mongo_store_from_env().await?,
        })
    }
}

/// The store and the token keys: the endpoints that need a bearer token.
pub struct Authenticated {
    pub store: MongoStore,
    pub tokens: Tokens,
}

impl Authenticated {
    pub async fn init() -> Result<Self, ConfigError> {
        Ok(Self {
            tokens: config::tokens_from_env()?,
            store: config::mongo_store_from_env().await?,
        })
    }
}
