//! `GET /orders/{id}`: one order, to its buyer or an admin.

use lambda_http::{Body, Request, Response};
use shop_domain::OrderId;
use shop_store::{OrderStore, UserStore};

use crate::auth::{Tokens, caller};
use crate::error::ApiError;
use crate::http::{json, path_param, serve};

/// What an instance keeps: the store and the token keys.
pub use crate::instance::Authenticated as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, request).await
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
pub async fn handle(
    store: &(impl OrderStore + UserStore),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = caller(tokens, store, &request).await?;
        let id = OrderId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        // Another buyer's order is as invisible as one that does not exist.
        let order = store
            .get_order(id)
            .await?
            .filter(|order| principal.is_admin() || order.user_id == principal.user_id)
            .ok_or(ApiError::NotFound)?;
        json(200, &order)
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(buyers_get_only_their_own_orders_and_admins_get_any);

    async fn buyers_get_only_their_own_orders_and_admins_get_any<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let alice = app.user_token("alice", false).await;
        let bob = app.user_token("bob", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        let a = app.order(&alice, &[(&pen, 1)], None).await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let b = app.order(&bob, &[(&pen, 2)], None).await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mine = app.get(&format!("/orders/{a}"), Some(&alice)).await;
        assert_eq!(mine.status, 200, "{}", mine.text);
        assert_eq!(mine.body["id"], a.as_str());
        assert!(mine.text.contains(r#""totalPrice":2.00"#), "{}", mine.text);
        // Another buyer's order is as invisible as one that does not exist.
        for (id, token) in [(&a, &bob), (&b, &alice)] {
            assert_eq!(
                app.get(&format!("/orders/{id}"), Some(token)).await.status,
                404
            );
        }
        assert_eq!(app.get("/orders/not-an-id", Some(&alice)).await.status, 404);
        assert_eq!(
            app.get("/orders/0123456789abcdef01234567", Some(&alice))
                .await
                .status,
            404
        );
        for id in [&a, &b] {
            let any = app.get(&format!("/orders/{id}"), Some(&admin)).await;
            assert_eq!(
                (any.status, any.body["id"].as_str()),
                (200, Some(id.as_str()))
            );
        }
    }
}
