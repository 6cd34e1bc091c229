//! GET /orders: the caller's orders (an admin's: everyone's), newest first.

use shop_api::orders::list::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
