//! The order function's endpoints, one file each: `POST /orders`, `GET /orders`
//! and `GET /orders/{id}`; every one needs a bearer token.

pub mod create;
pub mod get;
mod idempotency;
pub mod list;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(every_order_route_needs_a_valid_token,);

    async fn every_order_route_needs_a_valid_token<S: Store>(app: &ShopApp<'_, S>) {
        let body = json!({"products": [{"productId": "0123456789abcdef01234567", "quantity": 1}]});
        let bad = format!("{}x", app.user_token("someone", false).await);
        for token in [None, Some("garbage"), Some(bad.as_str())] {
            let responses = [
                app.post("/orders", token, &body).await,
                app.get("/orders", token).await,
                app.get("/orders/0123456789abcdef01234567", token).await,
            ];
            for response in responses {
                assert_eq!(response.status, 401, "{token:?}: {}", response.text);
                assert_eq!(response.header("www-authenticate"), Some("Bearer"));
            }
        }
        assert_eq!(app.catalog.calls(), 0);
    }
}
