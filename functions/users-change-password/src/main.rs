//! POST /users/me/password: the caller changes their password; earlier tokens end.

use shop_api::users::password::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
