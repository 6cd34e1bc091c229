//! The order functions' endpoints, one file each: `POST /orders`, `GET /orders`,
//! `GET /orders/{id}`, `POST /orders/{id}/cancel` and `PATCH /orders/{id}`;
//! every one needs a bearer token.

pub mod cancel;
pub mod create;
pub mod get;
mod idempotency;
pub mod list;
mod status;
#[cfg(test)]
mod stock_tests;
pub mod update;

use shop_domain::limits::Limits;
use shop_store::MongoStore;

use crate::auth::Tokens;
use crate::catalog::{CatalogLimits, HttpCatalog};
use crate::config::{self, ConfigError};

/// What the order functions that move stock need: the store, the product
/// function's client, the token keys and the limits.
pub struct Deps<'a, S, C> {
    pub store: &'a S,
    pub catalog: &'a C,
    pub tokens: &'a Tokens,
    pub limits: &'a Limits,
    /// `PRODUCTS_API_URL`; when `None` the URL comes from the request.
    pub products_url: Option<&'a str>,
}

/// What an instance of an order function that moves stock builds once.
pub struct Ordering {
    store: MongoStore,
    catalog: HttpCatalog,
    tokens: Tokens,
    limits: Limits,
    products_url: Option<String>,
}

impl Ordering {
    pub async fn init() -> Result<Self, ConfigError> {
        // The function's own name (Lambda sets it), named in its service tokens.
        let caller: &'static str = Box::leak(
            std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "orders".into())
                .into_boxed_str(),
        );
        let tokens = config::tokens_from_env()?;
        let service = config::service_tokens_from_env()?;
        Ok(Self {
            tokens,
            store: config::mongo_store_from_env().await?,
            catalog: HttpCatalog::new(CatalogLimits::default(), service, caller).map_err(|e| {
                ConfigError::Invalid {
                    name: "the product client",
                    why: e.to_string(),
                }
            })?,
            products_url: config::products_api_url_from_env(),
            limits: config::limits_from_env()?,
        })
    }

    pub fn deps(&self) -> Deps<'_, MongoStore, HttpCatalog> {
        Deps {
            store: &self.store,
            catalog: &self.catalog,
            tokens: &self.tokens,
            limits: &self.limits,
            products_url: self.products_url.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(every_order_route_needs_a_valid_token,);

    async fn every_order_route_needs_a_valid_token<S: Store>(app: &ShopApp<'_, S>) {
        let body = json!({"products": [{"productId": "0123456789abcdef01234567", "quantity": 1}]});
        let bad = format!("{}x", app.user_token("someone", false).await);
        for token in [None, Some("garbage"), Some(bad.as_str())] {
            let responses = [
                app.post("/orders", token, &body).await,
                app.get("/orders", token).await,
                app.get("/orders/0123456789abcdef01234567", token).await,
            ];
            for response in responses {
                assert_eq!(response.status, 401, "{token:?}: {}", response.text);
                assert_eq!(response.header("www-authenticate"), Some("Bearer"));
            }
        }
        assert_eq!(app.catalog.calls(), 0);
    }
}
