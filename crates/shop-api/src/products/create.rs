//! `POST /products`: an admin adds a product to the catalogue.

use lambda_http::{Body, Request, Response};
use shop_domain::validation::{Errors, Object, string};
use shop_domain::{
    Category, Description, Money, Product, ProductId, ProductName, now, parse_stock,
};
use shop_store::{ProductStore, UserStore};

use crate::auth::{Tokens, admin};
use crate::error::ApiError;
use crate::http::{created, json_body, serve, with_etag};

/// What an instance keeps: the store and the token keys.
pub use crate::instance::Authenticated as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, request).await
}

fn parse_new_product(body: &str) -> Result<Product, ApiError> {
    let object = Object::parse_body(body)?;
    let mut errors = Errors::default();
    object.deny_unknown(
        &["name", "description", "price", "category", "stock"],
        &mut errors,
    );
    let name = object.required("name", &mut errors, string(ProductName::parse));
    let description = object.required("description", &mut errors, string(Description::parse));
    let price = object.required("price", &mut errors, Money::from_json);
    let category = object.required("category", &mut errors, string(Category::parse));
    let stock = object.optional("stock", &mut errors, None, parse_stock);
    errors.finish()?;
    match (name, description, price, category, stock) {
        (Some(name), Some(description), Some(price), Some(category), Some(stock)) => {
            let created_at = now();
            Ok(Product {
                id: ProductId::new(),
                name,
                description,
                price,
                category,
                stock,
                version: 1,
                created_at,
                updated_at: created_at,
            })
        }
        _ => Err(ApiError::Internal),
    }
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
        let product = parse_new_product(json_body(&request)?)?;
        store.insert_product(&product).await?;
        tracing::info!(product_id = %product.id, "product created");
        let response = created(&format!("/products/{}", product.id), &product)?;
        with_etag(response, &product)
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shop_domain::Role;

    use crate::auth::{AUDIENCE, Claims, ISSUER};
    use crate::testing::{ShopApp, Stores as Store, bearer, json_headers};

    crate::on_both_stores!(
        create_answers_401_without_a_token_and_403_for_a_customer,
        create_refuses_expired_tampered_unsigned_and_foreign_tokens,
        create_answers_201_with_location_and_the_exact_price,
        create_accepts_each_limit_at_its_edge_and_refuses_one_past_it,
        create_refuses_prices_that_are_not_exact_money,
    );

    async fn create_answers_401_without_a_token_and_403_for_a_customer<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let body = json!({"name": "Lamp", "description": "", "price": 10, "category": "home"});
        let anonymous = app.post("/products", None, &body).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        let garbage = app.post("/products", Some("not.a.jwt"), &body).await;
        assert_eq!(garbage.status, 401);
        let basic = [
            ("content-type", "application/json"),
            ("authorization", "Basic YTpi"),
        ];
        let basic = app
            .call("POST", "/products", &basic, Some(&body.to_string()))
            .await;
        assert_eq!(basic.status, 401);

        let customer = app.user_token("cust", false).await;
        let forbidden = app.post("/products", Some(&customer), &body).await;
        assert_eq!(forbidden.status, 403, "{}", forbidden.text);
        assert_eq!(
            forbidden.body["type"],
            "https://shop.invalid/problems/forbidden"
        );
        let listed = app.get("/products", None).await;
        assert_eq!(listed.body["items"], json!([]), "nothing was stored");
    }

    async fn create_refuses_expired_tampered_unsigned_and_foreign_tokens<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("root", true).await;
        let claims = app.tokens.verify(&admin).unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let expired = app
            .tokens
            .sign(&Claims {
                sub: claims.user_id.to_string(),
                username: claims.username.clone(),
                role: Role::Admin,
                iat: now - 7200,
                exp: now - 3600,
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                generation: 0,
            })
            .unwrap();
        let mut parts: Vec<String> = admin.split('.').map(String::from).collect();
        parts[2] = parts[2].chars().rev().collect();
        let tampered = parts.join(".");
        let unsigned = format!("{}.{}.", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0", parts[1]);
        let foreign = crate::auth::Tokens::new(
            &"some-other-deployment-secret-32b!".into(),
            std::time::Duration::from_secs(60),
        )
        .unwrap()
        .sign(
            &app.tokens
                .verify(&admin)
                .map(|p| Claims {
                    sub: p.user_id.to_string(),
                    username: p.username,
                    role: Role::Admin,
                    iat: now,
                    exp: now + 60,
                    iss: ISSUER.into(),
                    aud: AUDIENCE.into(),
                    generation: 0,
                })
                .unwrap(),
        )
        .unwrap();
        let body = json!({"name": "Lamp", "description": "", "price": 10, "category": "home"});
        for (what, token) in [
            ("expired", expired),
            ("tampered", tampered),
            ("alg none", unsigned),
            ("foreign", foreign),
        ] {
            let response = app.post("/products", Some(&token), &body).await;
            assert_eq!(response.status, 401, "{what}: {}", response.text);
        }
        assert_eq!(app.post("/products", Some(&admin), &body).await.status, 201);
    }

    async fn create_answers_201_with_location_and_the_exact_price<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let created = app.create_product(&admin, "Pen", "19.99", "office").await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(
            created.header("location"),
            Some(&*format!("/products/{id}"))
        );
        assert!(
            created.text.contains(r#""price":19.99"#),
            "{}",
            created.text
        );
        assert_eq!(created.body["name"], "Pen");
        assert_eq!(created.body["description"], "");
        assert_eq!(created.body["category"], "office");
        assert!(created.body["createdAt"].is_string());

        let cheap = app.create_product(&admin, "Clip", "0.1", "office").await;
        assert!(cheap.text.contains(r#""price":0.10"#), "{}", cheap.text);
        let fetched = app
            .get(
                &format!("/products/{}", cheap.body["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert!(fetched.text.contains(r#""price":0.10"#), "{}", fetched.text);
    }

    async fn create_accepts_each_limit_at_its_edge_and_refuses_one_past_it<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let admin = app.user_token("admin", true).await;
        let product = |name: String, description: String, category: String| json!({"name": name, "description": description, "price": 1, "category": category});
        let ok = [
            product("n".into(), String::new(), "c".into()),
            product("n".repeat(200), "d".repeat(5000), "c".repeat(100)),
        ];
        for body in ok {
            let response = app.post("/products", Some(&admin), &body).await;
            assert_eq!(response.status, 201, "{}", response.text);
        }
        let bad = [
            (product(String::new(), String::new(), "c".into()), "name"),
            (product("n".repeat(201), String::new(), "c".into()), "name"),
            (
                product("n".into(), "d".repeat(5001), "c".into()),
                "description",
            ),
            (
                product("n".into(), String::new(), String::new()),
                "category",
            ),
            (
                product("n".into(), String::new(), "c".repeat(101)),
                "category",
            ),
        ];
        for (body, field) in bad {
            let response = app.post("/products", Some(&admin), &body).await;
            assert_eq!(response.status, 400, "{field}");
            assert_eq!(response.error_fields(), [field]);
        }
        let everything_wrong = json!({"name": "", "price": "1", "category": 5, "colour": "red"});
        let response = app.post("/products", Some(&admin), &everything_wrong).await;
        assert_eq!(
            response.error_fields(),
            ["colour", "name", "description", "price", "category"]
        );
    }

    async fn create_refuses_prices_that_are_not_exact_money<S: Store>(app: &ShopApp<'_, S>) {
        let admin = app.user_token("admin", true).await;
        let auth = bearer(Some(&admin));
        let headers = json_headers(&auth);
        let with_price = |price: &str| {
            format!(r#"{{"name":"n","description":"","price":{price},"category":"c"}}"#)
        };
        for price in ["0", "0.01", "1000000000", "999999999.99", "19.990", "1e3"] {
            let response = app
                .call("POST", "/products", &headers, Some(&with_price(price)))
                .await;
            assert_eq!(response.status, 201, "{price}: {}", response.text);
        }
        for (price, message) in [
            ("1000000000.01", "must be at most 1000000000"),
            ("-0.01", "must not be negative"),
            ("19.999", "must have at most 2 decimal places"),
            (
                "0.1000000000000000000001",
                "must have at most 2 decimal places",
            ),
            ("\"19.99\"", "must be a number"),
            ("null", "must be a number"),
            ("{\"$gt\": 0}", "must be a number"),
            (
                "1e400",
                "must be a number from 0 to 1000000000 with at most 2 decimal places",
            ),
        ] {
            let response = app
                .call("POST", "/products", &headers, Some(&with_price(price)))
                .await;
            assert_eq!(response.status, 400, "{price}");
            assert_eq!(response.body["errors"][0]["message"], message, "{price}");
        }
        for not_json in ["NaN", "Infinity", "19,99"] {
            let response = app
                .call("POST", "/products", &headers, Some(&with_price(not_json)))
                .await;
            assert_eq!(response.status, 400, "{not_json}");
        }
    }
}
