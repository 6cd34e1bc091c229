//! PATCH /orders/{id}: an admin moves an order along its lifecycle.

use shop_api::orders::update::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
