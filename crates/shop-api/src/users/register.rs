//! `POST /users/register`: anyone creates a customer account.

use lambda_http::{Body, Request, Response};
use shop_domain::limits::Limits;
use shop_domain::validation::{Errors, Object, string};
use shop_domain::{Email, Password, Role, User, UserId, Username, now};
use shop_store::{Counters, MongoStore, UserStore};

use crate::auth::hash_password;
use crate::config::{self, ConfigError};
use crate::error::ApiError;
use crate::http::{json, json_body, serve, source_ip};

/// What an instance builds once and keeps for every invocation.
pub struct Instance {
    store: MongoStore,
    limits: Limits,
}

impl Instance {
    pub async fn init() -> Result<Self, ConfigError> {
        Ok(Self {
            store: config::mongo_store_from_env().await?,
            limits: config::limits_from_env()?,
        })
    }
}

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.limits, request).await
}

struct Registration {
    username: Username,
    email: Email,
    password: Password,
}

impl Registration {
    fn parse(body: &str) -> Result<Self, ApiError> {
        let object = Object::parse_body(body)?;
        let mut errors = Errors::default();
        object.deny_unknown(&["username", "email", "password"], &mut errors);
        let username = object.required("username", &mut errors, string(Username::parse));
        let email = object.required("email", &mut errors, string(Email::parse));
        let password = object.required("password", &mut errors, string(Password::parse));
        errors.finish()?;
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) => Ok(Self {
                username,
                email,
                password,
            }),
            _ => Err(ApiError::Internal),
        }
    }
}

/// Registrations are counted per address once they pass validation, before the
/// password is hashed: past the limit, no more hashing work is done for it.
pub async fn handle(
    store: &(impl UserStore + Counters),
    limits: &Limits,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let input = Registration::parse(json_body(&request)?)?;
        let limit = limits.registrations_per_address;
        let address = format!("register:{}", source_ip(&request));
        let counted = store.bump(&address, limit.window, now(), 1).await?;
        if let Some(wait) = counted.over(limit) {
            return Err(ApiError::RateLimited {
                what: "too many registrations from this address",
                wait,
            });
        }
        let user = User {
            id: UserId::new(),
            password_hash: hash_password(input.password.expose()).await?,
            username: input.username,
            email: input.email,
            role: Role::Customer,
            disabled: false,
            token_generation: 0,
            created_at: now(),
        };
        store.insert_user(&user).await?;
        tracing::info!(user_id = %user.id, "user registered");
        json(201, &user.view())
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{ELSEWHERE, HOME, small_limits};
    use crate::testing::{PASSWORD, ShopApp, Stores as Store};

    crate::on_both_stores!(
        register_answers_201_with_the_public_view_and_never_the_password,
        register_accepts_each_limit_at_its_edge_and_refuses_one_past_it,
        register_lists_every_failing_field_at_once,
        register_refuses_a_taken_username_in_any_letter_case_with_409,
        register_refuses_a_taken_email_in_any_letter_case_with_409,
        register_refuses_an_operator_object_where_a_string_belongs,
        register_refuses_bodies_that_are_not_json_objects,
        registrations_are_limited_per_address,
    );

    async fn register_answers_201_with_the_public_view_and_never_the_password<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let response = app.register("Alice", "Alice@Example.com", PASSWORD).await;
        assert_eq!(response.status, 201, "{}", response.text);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body = &response.body;
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["createdAt", "email", "id", "role", "username"]);
        assert_eq!(body["username"], "Alice");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["role"], "customer");
        assert_eq!(body["id"].as_str().unwrap().len(), 24);
        let created = body["createdAt"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
                .is_ok()
        );
        assert!(created.ends_with('Z'), "{created}");
        assert!(!response.text.contains(PASSWORD));
        assert!(!response.text.contains("argon2"));

        let stored = app.store.find_user("alice").await.unwrap().unwrap();
        assert!(
            stored.password_hash.starts_with("$argon2id$"),
            "{}",
            stored.password_hash
        );
        assert!(!stored.password_hash.contains(PASSWORD));
    }

    async fn register_accepts_each_limit_at_its_edge_and_refuses_one_past_it<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let email_254 = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
        let email_255 = format!("y{email_254}");
        let cases = [
            ("abc", "u3@example.com".to_string(), "p".repeat(8), None),
            (
                &*"u".repeat(32),
                "u32@example.com".to_string(),
                "p".repeat(128),
                None,
            ),
            (
                "ab",
                "u2@example.com".to_string(),
                "p".repeat(8),
                Some("username"),
            ),
            (
                &*"v".repeat(33),
                "u33@example.com".to_string(),
                "p".repeat(8),
                Some("username"),
            ),
            (
                "pw7",
                "pw7@example.com".to_string(),
                "p".repeat(7),
                Some("password"),
            ),
            (
                "pw129",
                "pw129@example.com".to_string(),
                "p".repeat(129),
                Some("password"),
            ),
            ("mail254", email_254, "p".repeat(8), None),
            ("mail255", email_255, "p".repeat(8), Some("email")),
        ];
        for (username, email, password, failing) in cases {
            let response = app.register(username, &email, &password).await;
            match failing {
                None => assert_eq!(response.status, 201, "{username}: {}", response.text),
                Some(field) => {
                    assert_eq!(response.status, 400, "{username}: {}", response.text);
                    assert_eq!(response.error_fields(), [field], "{username}");
                }
            }
        }
    }

    async fn register_lists_every_failing_field_at_once<S: Store>(app: &ShopApp<'_, S>) {
        let body = json!({"username": "x!", "email": "not-an-email", "password": "short", "role": "admin"});
        let response = app.post("/users/register", None, &body).await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            response.error_fields(),
            ["role", "username", "email", "password"]
        );
        assert_eq!(
            response.body["type"],
            "https://shop.invalid/problems/validation"
        );
        assert!(
            response.body["requestId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );

        let empty = app.post("/users/register", None, &json!({})).await;
        assert_eq!(empty.error_fields(), ["username", "email", "password"]);
    }

    async fn register_refuses_a_taken_username_in_any_letter_case_with_409<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        assert_eq!(
            app.register("bob", "bob@example.com", PASSWORD)
                .await
                .status,
            201
        );
        for name in ["bob", "BOB", "Bob"] {
            let again = app
                .register(name, &format!("other-{name}@example.com"), PASSWORD)
                .await;
            assert_eq!(again.status, 409, "{name}: {}", again.text);
            assert_eq!(again.body["detail"], "username is already taken");
        }
    }

    async fn register_refuses_a_taken_email_in_any_letter_case_with_409<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        assert_eq!(
            app.register("carol", "carol@example.com", PASSWORD)
                .await
                .status,
            201
        );
        for (name, email) in [
            ("carol2", "carol@example.com"),
            ("carol3", "CAROL@Example.COM"),
        ] {
            let again = app.register(name, email, PASSWORD).await;
            assert_eq!(again.status, 409, "{email}: {}", again.text);
            assert_eq!(again.body["detail"], "email is already taken");
        }
    }

    async fn register_refuses_an_operator_object_where_a_string_belongs<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        app.register("dave", "dave@example.com", PASSWORD).await;
        let body = json!({"username": {"$ne": ""}, "email": {"$gt": ""}, "password": PASSWORD});
        let response = app.post("/users/register", None, &body).await;
        assert_eq!(response.status, 400);
        assert_eq!(response.error_fields(), ["username", "email"]);
        let login = app
            .post(
                "/users/login",
                None,
                &json!({"username": {"$ne": ""}, "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, 400);
        assert_eq!(login.error_fields(), ["username"]);
    }

    async fn register_refuses_bodies_that_are_not_json_objects<S: Store>(app: &ShopApp<'_, S>) {
        let json_type = [("content-type", "application/json")];
        for body in ["{\"username\":", "[]", "null", ""] {
            let response = app
                .call("POST", "/users/register", &json_type, Some(body))
                .await;
            assert_eq!(response.status, 400, "{body:?}");
            assert_eq!(
                response.body["type"],
                "https://shop.invalid/problems/malformed-json"
            );
        }
        let text = [("content-type", "text/plain")];
        let response = app.call("POST", "/users/register", &text, Some("{}")).await;
        assert_eq!(response.status, 415);
        let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(1024 * 1024));
        let response = app
            .call("POST", "/users/register", &json_type, Some(&huge))
            .await;
        assert_eq!(response.status, 413);
    }

    async fn registrations_are_limited_per_address<S: Store>(app: &ShopApp<'_, S>) {
        let app = ShopApp::new(app.store).with_limits(small_limits());
        for name in ["nia", "noor", "nell"] {
            assert_eq!(app.register_from(HOME, name).await.status, 201);
        }
        let refused = app.register_from(HOME, "nora").await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        assert!(refused.header("retry-after").is_some());
        // Nothing was stored for it, and another address still registers.
        assert_eq!(app.register_from(ELSEWHERE, "nora").await.status, 201);
    }
}
