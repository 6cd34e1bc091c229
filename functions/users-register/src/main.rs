//! POST /users/register: creates a customer account.

use std::convert::Infallible;

use lambda_http::service_fn;
use shop_core::config;
use shop_core::handlers::users;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    config::init_tracing();
    // Built once per instance, shared by every invocation it serves.
    let store = config::mongo_store_from_env().await?;
    let limits = config::limits_from_env()?;
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Infallible>(users::register(&store, &limits, request).await)
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
