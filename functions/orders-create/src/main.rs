//! POST /orders: prices the order through the product function over HTTP, then stores it.

use shop_api::orders::create::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
