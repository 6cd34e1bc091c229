//! `GET /products/{id}`: one product.

use lambda_http::{Body, Request, Response};
use shop_domain::ProductId;
use shop_store::ProductStore;

use crate::error::ApiError;
use crate::http::{json, path_param, serve, with_etag};

/// What an instance keeps: the store.
pub use crate::instance::Public as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, request).await
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(store: &impl ProductStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        // An id that is not an id cannot name a product: 404, like any other.
        let id = ProductId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        let product = store.get_product(id).await?.ok_or(ApiError::NotFound)?;
        with_etag(json(200, &product)?, &product)
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(get_answers_the_product_or_404_for_unknown_and_malformed_ids,);

    async fn get_answers_the_product_or_404_for_unknown_and_malformed_ids<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Mug", "7.50", "kitchen").await;
        let id = created.body["id"].as_str().unwrap();
        let fetched = app.get(&format!("/products/{id}"), None).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.body, created.body);
        for missing in [
            "0123456789abcdef01234567",
            "not-an-id",
            "0123456789ABCDEF01234567",
            "1234",
        ] {
            let response = app.get(&format!("/products/{missing}"), None).await;
            assert_eq!(response.status, 404, "{missing}");
            assert_eq!(
                response.header("content-type"),
                Some("application/problem+json")
            );
        }
    }
}
