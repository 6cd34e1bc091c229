//! `DELETE /products/{id}`: an admin archives a product. It is kept for the
//! orders that hold it, and gone for everyone else.

use lambda_http::{Body, Request, Response};
use shop_domain::{ProductId, now};
use shop_store::{ProductStore, UserStore};

use crate::auth::{Tokens, admin};
use crate::error::ApiError;
use crate::http::{no_content, path_param, serve};

/// What an instance keeps: the store and the token keys.
pub use crate::instance::Authenticated as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, request).await
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(
    store: &(impl ProductStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        admin(tokens, store, &request).await?;
        let id = ProductId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        if !store.archive_product(id, now()).await? {
            return Err(ApiError::NotFound);
        }
        tracing::info!(product_id = %id, "product archived");
        no_content()
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        delete_archives_the_product_for_every_reader,
        delete_needs_an_admin_and_an_existing_product,
        orders_keep_the_lines_of_an_archived_product,
    );

    async fn delete_archives_the_product_for_every_reader<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let pen = app.create_product(&admin, "Pen", "1.00", "office").await;
        let cup = app.create_product(&admin, "Cup", "2.00", "kitchen").await;
        let id = pen.body["id"].as_str().unwrap();
        let path = format!("/products/{id}");
        let deleted = app.delete(&path, Some(&admin)).await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert_eq!(deleted.text, "");
        assert_eq!(app.get(&path, None).await.status, 404);
        let listed = app.get("/products", None).await;
        assert_eq!(listed.body["items"], json!([cup.body]));
        let by_category = app.get("/products?category=office", None).await;
        assert_eq!(by_category.body["items"], json!([]));
        let by_id = app.get(&format!("/products?ids={id}"), None).await;
        assert_eq!(by_id.body["items"], json!([]));
        let categories = app.get("/categories", None).await;
        assert_eq!(
            categories.body,
            json!({"items": [{"name": "kitchen", "count": 1}]})
        );
        let again = app.delete(&path, Some(&admin)).await;
        assert_eq!(again.status, 404, "deleting twice");
        let buyer = app.user_token("buyer", false).await;
        let order = app.order(&buyer, &[(id, 1)], None).await;
        assert_eq!(order.status, 422, "{}", order.text);
        assert_eq!(order.body["missing"], json!([id]));
    }

    async fn delete_needs_an_admin_and_an_existing_product<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let customer = app.user_token("cust", false).await;
        let pen = app.create_product(&admin, "Pen", "1.00", "office").await;
        let path = format!("/products/{}", pen.body["id"].as_str().unwrap());
        assert_eq!(app.delete(&path, None).await.status, 401);
        assert_eq!(app.delete(&path, Some(&customer)).await.status, 403);
        assert_eq!(app.get(&path, None).await.status, 200, "still there");
        for missing in ["/products/0123456789abcdef01234567", "/products/nope"] {
            assert_eq!(app.delete(missing, Some(&admin)).await.status, 404);
        }
    }

    async fn orders_keep_the_lines_of_an_archived_product<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "19.99").await;
        let order = app.order(&buyer, &[(&pen, 2)], None).await;
        assert_eq!(order.status, 201);
        let path = format!("/products/{pen}");
        let repriced = app
            .patch(
                &path,
                Some(&admin),
                Some("\"1\""),
                &json!({"price": 1, "name": "Cheap"}),
            )
            .await;
        assert_eq!(repriced.status, 200);
        assert_eq!(app.delete(&path, Some(&admin)).await.status, 204);
        let order_path = format!("/orders/{}", order.body["id"].as_str().unwrap());
        let fetched = app.get(&order_path, Some(&buyer)).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(
            fetched.body, order.body,
            "orders keep what was bought, as bought"
        );
        assert!(fetched.text.contains(r#""unitPrice":19.99"#));
    }
}
