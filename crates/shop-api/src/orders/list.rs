//! `GET /orders`: a page of orders, newest first: the buyer's own, or for an
//! admin everyone's (or one buyer's, `?userId=`); `?status=` filters by status.

use lambda_http::{Body, Request, Response};
use shop_domain::UserId;
use shop_domain::order::OrderStatus;
use shop_domain::paging::Page;
use shop_domain::validation::Errors;
use shop_store::{OrderFilter, OrderStore, UserStore};

use crate::auth::{Tokens, caller};
use crate::error::ApiError;
use crate::http::{Query, finish_request, json, serve};

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
        let query = Query::of(&request);
        let mut errors = Errors::default();
        query.deny_unknown(&["limit", "cursor", "userId", "status"], &mut errors);
        let page = query.page(&mut errors);
        let user_filter = query.single("userId", &mut errors).and_then(|id| {
            UserId::parse(id)
                .map_err(|why| errors.push("userId", why))
                .ok()
        });
        let status = query.single("status", &mut errors).and_then(|text| {
            OrderStatus::parse(text)
                .map_err(|why| errors.push("status", why))
                .ok()
        });
        finish_request(errors)?;
        let user = if principal.is_admin() {
            user_filter
        } else if user_filter.is_some_and(|id| id != principal.user_id) {
            return Err(ApiError::Forbidden);
        } else {
            Some(principal.user_id)
        };
        let orders = store
            .list_orders(&OrderFilter { user, status }, &page)
            .await?;
        json(200, &Page::from_fetched(orders, &page, |o| o.id.bytes()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        buyers_list_only_their_own_orders_and_admins_list_all,
        orders_page_newest_first,
    );

    async fn buyers_list_only_their_own_orders_and_admins_list_all<S: Store>(app: &ShopApp<'_, S>) {
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
        let ids = |r: &crate::testing::TestResponse| -> Vec<String> {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids(&app.get("/orders", Some(&alice)).await), [a.as_str()]);
        assert_eq!(ids(&app.get("/orders", Some(&bob)).await), [b.as_str()]);

        assert_eq!(
            ids(&app.get("/orders", Some(&admin)).await),
            [b.as_str(), a.as_str()]
        );
        let alice_id = app.tokens.verify(&alice).unwrap().user_id.to_string();
        assert_eq!(
            ids(&app
                .get(&format!("/orders?userId={alice_id}"), Some(&admin))
                .await),
            [a.as_str()]
        );
        assert_eq!(
            ids(&app
                .get(&format!("/orders?userId={alice_id}"), Some(&alice))
                .await),
            [a]
        );
        assert_eq!(
            app.get(&format!("/orders?userId={alice_id}"), Some(&bob))
                .await
                .status,
            403
        );
        let bad = app.get("/orders?userId=nope", Some(&admin)).await;
        assert_eq!(
            (bad.status, bad.error_fields()),
            (400, vec!["userId".to_string()])
        );
    }

    async fn orders_page_newest_first<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "2.00").await;
        let mut created = Vec::new();
        for _ in 0..12 {
            created.push(
                app.order(&buyer, &[(&pen, 1)], None).await.body["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        created.reverse();
        let first = app.get("/orders?limit=5", Some(&buyer)).await;
        let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
        let second = app
            .get(&format!("/orders?limit=5&cursor={cursor}"), Some(&buyer))
            .await;
        let third = app
            .get(
                &format!(
                    "/orders?limit=5&cursor={}",
                    second.body["nextCursor"].as_str().unwrap()
                ),
                Some(&buyer),
            )
            .await;
        assert!(third.body["nextCursor"].is_null());
        let seen: Vec<String> = [first, second, third]
            .iter()
            .flat_map(|p| {
                p.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["id"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(seen, created);
        assert_eq!(app.get("/orders?limit=0", Some(&buyer)).await.status, 400);
    }
}
