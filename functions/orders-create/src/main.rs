//! POST /orders: prices the order through the product function over HTTP, then stores it.

use std::convert::Infallible;

use lambda_http::service_fn;
use shop_core::catalog::{CatalogLimits, HttpCatalog};
use shop_core::config;
use shop_core::handlers::orders::{self, CreateDeps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    config::init_tracing();
    // Built once per instance, shared by every invocation it serves.
    let tokens = config::tokens_from_env()?;
    let store = config::mongo_store_from_env().await?;
    let catalog = HttpCatalog::new(CatalogLimits::default())?;
    let products_url = config::products_api_url_from_env();
    let limits = config::limits_from_env()?;
    let deps = CreateDeps {
        store: &store,
        catalog: &catalog,
        tokens: &tokens,
        limits: &limits,
        products_url: products_url.as_deref(),
    };
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Infallible>(orders::create(&deps, request).await)
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
