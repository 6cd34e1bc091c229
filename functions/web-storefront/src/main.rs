//! GET / and /shop/{file}: the storefront.

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(async { Ok(()) }, shop_web::storefront).await
}
