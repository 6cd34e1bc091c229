//! The shop's HTTP layer: request parsing, auth (JWT, Argon2id), problem+json,
//! the product lookup over HTTP, and one module per endpoint (`products::create`,
//! `orders::list`, …) holding its handler (`handle`, over any store), what an
//! instance of its function keeps (`Instance`), how an invocation is answered
//! with it (`respond`), and its unit tests. Each function crate's `main` is
//! `run(Instance::init(), respond)` for one of those modules.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod instance;
pub mod memory;
pub mod orders;
pub mod password;
pub mod products;
pub mod runtime_api;
pub mod stock;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod users;

pub use error::ApiError;

use lambda_http::{Body, Request, Response};

/// Serves one endpoint under a Lambda runtime: sets up logging, builds what the
/// instance keeps (`init`, once), then answers every invocation with `handler`
/// (through [`runtime_api`], which says why it is the shop's own).
///
/// What `init` builds lives as long as the process, as a Lambda instance does,
/// so every invocation borrows it.
pub async fn run<S, F>(
    init: impl Future<Output = Result<S, config::ConfigError>>,
    handler: fn(&'static S, Request) -> F,
) -> anyhow::Result<()>
where
    S: Sync + 'static,
    F: Future<Output = Response<Body>> + Send,
{
    memory::return_large_blocks();
    config::init_tracing();
    runtime_api::quiet_panics();
    let instance: &'static S = Box::leak(Box::new(init.await?));
    let address = runtime_api::address()?;
    let config = lambda_http::lambda_runtime::Config::from_env();
    runtime_api::serve(address, config, instance, handler).await?;
    Ok(())
}
