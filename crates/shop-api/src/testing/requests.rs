//! The client's helpers for the product and order routes: orders by line,
//! products by name, edits and deletions.

use serde_json::{Value, json};

use super::ShopApp;
use super::events::{Stores, TestResponse, bearer, json_headers};

impl<S: Stores> ShopApp<'_, S> {
    /// `POST /orders` with `(productId, quantity)` lines and an optional key.
    pub async fn order(
        &self,
        token: &str,
        lines: &[(&str, u32)],
        key: Option<&str>,
    ) -> TestResponse {
        let products: Vec<Value> = lines
            .iter()
            .map(|(id, quantity)| json!({"productId": id, "quantity": quantity}))
            .collect();
        let body = json!({ "products": products }).to_string();
        let mut auth = bearer(Some(token));
        if let Some(key) = key {
            auth.push(("idempotency-key", key.to_string()));
        }
        self.call("POST", "/orders", &json_headers(&auth), Some(&body))
            .await
    }

    /// Creates a product as `admin` and returns its id.
    pub async fn product_id(&self, admin: &str, name: &str, price: &str) -> String {
        let created = self.create_product(admin, name, price, "misc").await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["id"].as_str().expect("an id").to_string()
    }
    /// PATCHes a JSON value with an optional token and `If-Match`.
    pub async fn patch(
        &self,
        path: &str,
        token: Option<&str>,
        if_match: Option<&str>,
        body: &Value,
    ) -> TestResponse {
        let mut headers = bearer(token);
        if let Some(tag) = if_match {
            headers.push(("if-match", tag.to_string()));
        }
        self.call(
            "PATCH",
            path,
            &json_headers(&headers),
            Some(&body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        let auth = bearer(token);
        let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call("DELETE", path, &headers, None).await
    }
}
