//! POST /products: adds a product (admin token required).

use shop_api::products::create::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
