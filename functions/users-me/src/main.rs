//! GET /users/me: the caller's own account.

use shop_api::users::me::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
