//! GET /docs, /docs/{file}, /openapi.json, /openapi.yaml: the API reference.

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    shop_api::run(async { Ok(()) }, shop_web::docs).await
}
