//! DELETE /stock/reservations/{orderId} (internal): gives an order's stock back.

use shop_api::stock::release::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
