//! POST /users/login: exchanges credentials for a bearer token.

use shop_api::users::login::{Instance, respond};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(Instance::init(), respond).await
}
