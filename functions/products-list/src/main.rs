//! GET /products: a page of products, filtered by category or ids.

use shop_api::products::list::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
