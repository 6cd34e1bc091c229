//! PATCH /products/{id}: an admin edits a product (merge patch, If-Match).

use shop_api::products::update::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
