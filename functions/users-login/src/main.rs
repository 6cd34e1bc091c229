//! POST /users/login: exchanges credentials for a bearer token.

use std::convert::Infallible;

use lambda_http::service_fn;
use shop_core::config;
use shop_core::handlers::users;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    config::init_tracing();
    // Built once per instance, shared by every invocation it serves.
    let tokens = config::tokens_from_env()?;
    let store = config::mongo_store_from_env().await?;
    let limits = config::limits_from_env()?;
    shop_core::auth::prepare_decoy();
    lambda_http::run(service_fn(|request| async {
        Ok::<_, Infallible>(users::login(&store, &tokens, &limits, request).await)
    }))
    .await
    .map_err(anyhow::Error::from_boxed)
}
