//! POST /orders/{id}/cancel: the buyer or an admin cancels an order; its stock goes back.

use shop_api::orders::cancel::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
