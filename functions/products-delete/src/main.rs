//! DELETE /products/{id}: an admin archives a product.

use shop_api::products::delete::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
