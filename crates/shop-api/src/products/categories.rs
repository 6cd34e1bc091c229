//! `GET /categories`: every category that holds a listed product, with counts.

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shop_domain::CategoryCount;
use shop_domain::validation::Errors;
use shop_store::ProductStore;

use crate::http::{Query, finish_request, json, serve};

/// What an instance keeps: the store.
pub use crate::instance::Public as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, request).await
}

#[derive(Serialize)]
struct Categories {
    items: Vec<CategoryCount>,
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(store: &impl ProductStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let mut errors = Errors::default();
        Query::of(&request).deny_unknown(&[], &mut errors);
        finish_request(errors)?;
        let items = store.list_categories().await?;
        json(200, &Categories { items })
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(categories_are_counted_and_sorted_by_name,);

    async fn categories_are_counted_and_sorted_by_name<S: Store>(app: &ShopApp<'_, S>) {
        assert_eq!(
            app.get("/categories", None).await.body,
            json!({"items": []})
        );
        let admin = app.user_token("admin", true).await;
        for (name, category) in [
            ("Pen", "office"),
            ("Cup", "kitchen"),
            ("Clip", "office"),
            ("Pan", "kitchen"),
            ("Desk", "office"),
            ("Kite", "Toys"),
        ] {
            app.create_product(&admin, name, "1.00", category).await;
        }
        let listed = app.get("/categories", None).await;
        assert_eq!(listed.status, 200);
        assert_eq!(
            listed.body,
            json!({"items": [
                {"name": "Toys", "count": 1},
                {"name": "kitchen", "count": 2},
                {"name": "office", "count": 3},
            ]}),
            "by name, byte order"
        );
        let unknown = app.get("/categories?limit=5", None).await;
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.error_fields(), ["limit"]);
    }
}
