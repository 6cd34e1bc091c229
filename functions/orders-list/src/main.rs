//! GET /orders: the caller's orders (an admin's: everyone's), newest first.

use std::convert::Infallible;

use lambda_http::service_fn;
use shop_core::config;
use shop_core::handlers::orders;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    config::init_tracing();
    // Built once per instance, shared by every invocation it serves.
    let tokens = config::tokens_from_env()?;
    let store = config::mongo_store_from_env().await?;
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Infallible>(orders::list(&store, &tokens, request).await)
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
