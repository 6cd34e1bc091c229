//! GET /orders/{id}: one order, if the caller owns it or is an admin.

use shop_api::orders::get::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
