//! GET /categories: every category with a listed product, and its count.

use shop_api::products::categories::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
