//! POST /stock/reservations (internal): reserves an order's stock and prices its lines.

use shop_api::stock::reserve::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
