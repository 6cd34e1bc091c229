//! GET /products/{id}: one product.

use std::convert::Infallible;

use lambda_http::service_fn;
use shop_core::config;
use shop_core::handlers::products;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    config::init_tracing();
    // Built once per instance, shared by every invocation it serves.
    let store = config::mongo_store_from_env().await?;
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Infallible>(products::get(&store, request).await)
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
