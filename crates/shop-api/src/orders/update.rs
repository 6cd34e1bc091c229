//! `PATCH /orders/{id}`: an admin moves an order along its lifecycle
//! (`{"status": "paid" | "shipped" | "delivered" | "cancelled"}`).

use lambda_http::{Body, Request, Response};
use shop_domain::OrderId;
use shop_domain::order::OrderStatus;
use shop_domain::validation::{Errors, Object, string};
use shop_store::{OrderStore, UserStore};

use super::Deps;
use super::status::move_to;
use crate::auth::admin;
use crate::catalog::ProductCatalog;
use crate::error::ApiError;
use crate::http::{json, json_body, path_param, serve};

/// What an instance builds once and keeps for every invocation.
pub use super::Ordering as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.deps(), request).await
}

fn parse_status(body: &str) -> Result<OrderStatus, ApiError> {
    let object = Object::parse_body(body)?;
    let mut errors = Errors::default();
    object.deny_unknown(&["status"], &mut errors);
    let status = object.required("status", &mut errors, string(|s| OrderStatus::parse(&s)));
    errors.finish()?;
    status.ok_or(ApiError::Internal)
}

/// The handler, over any store and product client.
pub async fn handle<S: OrderStore + UserStore, C: ProductCatalog>(
    deps: &Deps<'_, S, C>,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let principal = admin(deps.tokens, deps.store, &request).await?;
        let id = OrderId::parse(&path_param(&request, "id")).map_err(|_| ApiError::NotFound)?;
        let to = parse_status(json_body(&request)?)?;
        let order = deps.store.get_order(id).await?.ok_or(ApiError::NotFound)?;
        let moved = move_to(deps, &request, order, to, principal.user_id).await?;
        json(200, &moved)
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        an_admin_moves_an_order_through_its_lifecycle_with_history,
        moves_the_lifecycle_forbids_are_409_naming_both_statuses,
        only_an_admin_changes_a_status_and_only_to_a_known_one,
        orders_are_filtered_by_status,
    );

    async fn an_admin_moves_an_order_through_its_lifecycle_with_history<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "1.00").await;
        let order = app.order(&buyer, &[(&pen, 1)], None).await;
        let path = format!("/orders/{}", order.body["id"].as_str().unwrap());
        let buyer_id = app.tokens.verify(&buyer).unwrap().user_id.to_string();
        let admin_id = app.tokens.verify(&admin).unwrap().user_id.to_string();
        assert_eq!(order.body["statusHistory"][0]["by"], buyer_id);
        for status in ["paid", "shipped", "delivered"] {
            let moved = app
                .patch(&path, Some(&admin), None, &json!({"status": status}))
                .await;
            assert_eq!(moved.status, 200, "{status}: {}", moved.text);
            assert_eq!(moved.body["status"], status);
        }
        let fetched = app.get(&path, Some(&buyer)).await;
        let history: Vec<(&str, &str)> = fetched.body["statusHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["status"].as_str().unwrap(), c["by"].as_str().unwrap()))
            .collect();
        assert_eq!(
            history,
            [
                ("created", buyer_id.as_str()),
                ("paid", admin_id.as_str()),
                ("shipped", admin_id.as_str()),
                ("delivered", admin_id.as_str()),
            ]
        );
        assert_eq!(
            fetched.body["updatedAt"],
            fetched.body["statusHistory"][3]["at"]
        );
        assert_eq!(fetched.body["createdAt"], order.body["createdAt"]);
    }

    async fn moves_the_lifecycle_forbids_are_409_naming_both_statuses<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "1.00").await;
        let order = app.order(&buyer, &[(&pen, 1)], None).await;
        let id = order.body["id"].as_str().unwrap();
        let path = format!("/orders/{id}");
        let skip = app
            .patch(&path, Some(&admin), None, &json!({"status": "shipped"}))
            .await;
        assert_eq!(skip.status, 409, "{}", skip.text);
        assert_eq!(
            skip.body["detail"],
            "an order that is created cannot become shipped"
        );
        for status in ["paid", "shipped"] {
            let moved = app
                .patch(&path, Some(&admin), None, &json!({"status": status}))
                .await;
            assert_eq!(moved.status, 200);
        }
        let cancel = app
            .patch(&path, Some(&admin), None, &json!({"status": "cancelled"}))
            .await;
        assert_eq!(
            cancel.status, 409,
            "a shipped order is never cancelled, by an admin neither"
        );
        let by_owner = app
            .post(&format!("{path}/cancel"), Some(&buyer), &json!({}))
            .await;
        assert_eq!(by_owner.status, 409);
        assert_eq!(app.get(&path, Some(&buyer)).await.body["status"], "shipped");
        // Two admins racing to pay one order: one wins, the other is told.
        let fresh = app.order(&buyer, &[(&pen, 1)], None).await;
        let fresh = format!("/orders/{}", fresh.body["id"].as_str().unwrap());
        let paid = json!({"status": "paid"});
        let (a, b) = tokio::join!(
            app.patch(&fresh, Some(&admin), None, &paid),
            app.patch(&fresh, Some(&admin), None, &paid),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409]);
        let history = app.get(&fresh, Some(&admin)).await.body["statusHistory"].clone();
        assert_eq!(
            history.as_array().unwrap().len(),
            2,
            "one move recorded: {history}"
        );
    }

    async fn only_an_admin_changes_a_status_and_only_to_a_known_one<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "1.00").await;
        let order = app.order(&buyer, &[(&pen, 1)], None).await;
        let path = format!("/orders/{}", order.body["id"].as_str().unwrap());
        let paid = json!({"status": "paid"});
        assert_eq!(
            app.patch(&path, Some(&buyer), None, &paid).await.status,
            403
        );
        assert_eq!(app.patch(&path, None, None, &paid).await.status, 401);
        for (body, field) in [
            (json!({"status": "lost"}), "status"),
            (json!({"status": "pending"}), "status"),
            (json!({"status": "created"}), "status"),
            (json!({}), "status"),
            (json!({"status": "paid", "totalPrice": 0}), "totalPrice"),
        ] {
            let response = app.patch(&path, Some(&admin), None, &body).await;
            if body["status"] == "created" {
                assert_eq!(response.status, 409, "{}", response.text);
                continue;
            }
            assert_eq!(response.status, 400, "{body}: {}", response.text);
            assert_eq!(response.error_fields(), [field]);
        }
        let missing = app
            .patch(
                "/orders/0123456789abcdef01234567",
                Some(&admin),
                None,
                &paid,
            )
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(app.get(&path, Some(&buyer)).await.body["status"], "created");
    }

    async fn orders_are_filtered_by_status<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let pen = app.product_id(&admin, "Pen", "1.00").await;
        let first = app.order(&buyer, &[(&pen, 1)], None).await;
        let second = app.order(&buyer, &[(&pen, 2)], None).await;
        let path = format!("/orders/{}", first.body["id"].as_str().unwrap());
        app.patch(&path, Some(&admin), None, &json!({"status": "paid"}))
            .await;
        let ids = |target: &'static str, token: String| async move {
            let page = app.get(target, Some(&token)).await;
            assert_eq!(page.status, 200, "{}", page.text);
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids("/orders?status=paid", buyer.clone()).await,
            [first.body["id"].clone()]
        );
        assert_eq!(
            ids("/orders?status=created", admin.clone()).await,
            [second.body["id"].clone()]
        );
        assert!(
            ids("/orders?status=shipped", buyer.clone())
                .await
                .is_empty()
        );
        let bad = app.get("/orders?status=pending", Some(&buyer)).await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.error_fields(), ["status"]);
    }

    use shop_domain::order::OrderStatus;

    /// The database fails between reserving the stock and storing the order:
    /// only the in-memory store fails on cue (the fault tests stop a real
    /// server, with no control over when).
    #[tokio::test]
    async fn an_order_that_cannot_be_stored_gives_its_stock_back() {
        let store = crate::testing::MemoryStore::new();
        let app = ShopApp::new(&store);
        let admin = app.user_token("admin", true).await;
        let buyer = app.user_token("buyer", false).await;
        let body =
            json!({"name": "Pen", "description": "", "price": 1, "category": "c", "stock": 4});
        let pen = app.post("/products", Some(&admin), &body).await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        store
            .fail_finalize
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let failed = app.order(&buyer, &[(&pen, 3)], Some("k")).await;
        assert_eq!(failed.status, 503, "{}", failed.text);
        assert_eq!(app.catalog.releases(), 1, "the reservation was given back");
        let stock = app.get(&format!("/products/{pen}"), None).await.body["stock"].clone();
        assert_eq!(stock, 4);
        assert_eq!(
            app.get("/orders", Some(&buyer)).await.body["items"],
            json!([])
        );
        let statuses: Vec<_> = store.orders().iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            [OrderStatus::Abandoned],
            "the pending order was abandoned"
        );
        // The key was given back with it: the retry goes through.
        let retry = app.order(&buyer, &[(&pen, 3)], Some("k")).await;
        assert_eq!(retry.status, 201, "{}", retry.text);
        assert_eq!(
            app.get(&format!("/products/{pen}"), None).await.body["stock"],
            1
        );
    }
}
