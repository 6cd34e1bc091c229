//! `POST /users/me/password`: the caller changes their password, which ends every
//! session: each token issued before is refused from then on.

use lambda_http::{Body, Request, Response};
use shop_domain::Password;
use shop_domain::limits::Limits;
use shop_domain::validation::{Errors, Object, string};
use shop_store::{Counters, UserStore};

use super::login::{LoginCounters, non_empty, too_many_failures};
use crate::auth::{Tokens, hash_password, signed_in_user, verify_password};
use crate::error::ApiError;
use crate::http::{json_body, no_content, serve, source_ip};

/// What an instance keeps: the store, the token keys and the failed-login limits
/// (a wrong current password counts as a failed login).
pub use super::login::Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, &instance.limits, request).await
}

struct PasswordChange {
    current: String,
    new: Password,
}

impl PasswordChange {
    fn parse(body: &str) -> Result<Self, ApiError> {
        let object = Object::parse_body(body)?;
        let mut errors = Errors::default();
        object.deny_unknown(&["currentPassword", "newPassword"], &mut errors);
        let current = object.required("currentPassword", &mut errors, string(non_empty));
        let new = object.required("newPassword", &mut errors, string(Password::parse));
        errors.finish()?;
        match (current, new) {
            (Some(current), Some(new)) => Ok(Self { current, new }),
            _ => Err(ApiError::Internal),
        }
    }
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store.
///
/// The current password is checked under the failed-login limits, as a login
/// is: a stolen token is not a way to guess the password without limit.
pub async fn handle(
    store: &(impl UserStore + Counters),
    tokens: &Tokens,
    limits: &Limits,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let user = signed_in_user(tokens, store, &request).await?;
        let change = PasswordChange::parse(json_body(&request)?)?;
        let counters = LoginCounters::new(Some(&user), "", &source_ip(&request));
        if let Some(wait) = counters.refused(store, limits).await? {
            return Err(too_many_failures(wait));
        }
        if !verify_password(&change.current, Some(&user.password_hash)).await {
            tracing::info!(user_id = %user.id, "password change refused");
            return Err(match counters.count_failure(store, limits).await? {
                Some(wait) => too_many_failures(wait),
                None => ApiError::InvalidCredentials,
            });
        }
        // Parallel guesses counted meanwhile refuse this one too, as at login.
        if let Some(wait) = counters.refused(store, limits).await? {
            return Err(too_many_failures(wait));
        }
        let hash = hash_password(change.new.expose()).await?;
        // Conditional on the generation the token was checked at: of two changes
        // racing with one token, the second finds its token already ended.
        if !store
            .change_password(user.id, user.token_generation, &hash)
            .await?
        {
            return Err(ApiError::Unauthenticated);
        }
        tracing::info!(user_id = %user.id, "password changed");
        no_content()
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{ELSEWHERE, HOME, small_limits};
    use crate::testing::{PASSWORD, ShopApp, Stores as Store};

    const NEW: &str = "a brand new passphrase";

    crate::on_both_stores!(
        a_changed_password_ends_every_earlier_token,
        a_wrong_current_password_is_401_and_counts_as_a_failed_login,
        the_new_password_follows_the_registration_rules,
        two_changes_with_one_token_end_in_one_password,
    );

    fn change(current: &str, new: &str) -> serde_json::Value {
        json!({"currentPassword": current, "newPassword": new})
    }

    async fn a_changed_password_ends_every_earlier_token<S: Store>(app: &ShopApp<'_, S>) {
        let first = app.user_token("nina", false).await;
        let second = app.login("nina", PASSWORD).await.body["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        let changed = app
            .post("/users/me/password", Some(&first), &change(PASSWORD, NEW))
            .await;
        assert_eq!(changed.status, 204, "{}", changed.text);
        assert_eq!(changed.text, "");
        for old in [&first, &second] {
            let me = app.get("/users/me", Some(old)).await;
            assert_eq!(me.status, 401, "a token issued before the change");
        }
        assert_eq!(app.login("nina", PASSWORD).await.status, 401);
        let fresh = app.login("nina", NEW).await;
        assert_eq!(fresh.status, 200, "{}", fresh.text);
        let token = fresh.body["accessToken"].as_str().unwrap();
        let me = app.get("/users/me", Some(token)).await;
        assert_eq!(
            me.status, 200,
            "a token issued after the change, in the same second"
        );
        // And once more: the generation keeps moving.
        let again = app
            .post("/users/me/password", Some(token), &change(NEW, PASSWORD))
            .await;
        assert_eq!(again.status, 204);
        assert_eq!(app.get("/users/me", Some(token)).await.status, 401);
        assert_eq!(app.login("nina", PASSWORD).await.status, 200);
    }

    async fn a_wrong_current_password_is_401_and_counts_as_a_failed_login<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let app = ShopApp::new(app.store).with_limits(small_limits());
        let token = app.user_token("omar", false).await;
        let app = &app;
        let wrong = |guess: &str| {
            let body = change(guess, NEW).to_string();
            let auth = format!("Bearer {token}");
            async move {
                app.call_from(
                    Some(HOME),
                    "POST",
                    "/users/me/password",
                    &[
                        ("content-type", "application/json"),
                        ("authorization", &auth),
                    ],
                    Some(&body),
                )
                .await
            }
        };
        let first = wrong("not my password").await;
        assert_eq!(first.status, 401, "{}", first.text);
        assert_eq!(
            first.body["type"],
            "https://shop.invalid/problems/invalid-credentials"
        );
        assert_eq!(
            app.get("/users/me", Some(&token)).await.status,
            200,
            "still signed in"
        );
        // Two more failures from HOME fill the pair's limit of 3, for logins too.
        assert_eq!(wrong("guess two").await.status, 401);
        assert_eq!(wrong("guess three").await.status, 401);
        let right_from_home = wrong(PASSWORD).await;
        assert_eq!(
            right_from_home.status, 429,
            "no more guessing with the token"
        );
        assert!(right_from_home.header("retry-after").is_some());
        assert_eq!(app.login_from(HOME, "omar", PASSWORD).await.status, 429);
        assert_eq!(
            app.login_from(ELSEWHERE, "omar", PASSWORD).await.status,
            200
        );
        assert_eq!(
            app.login("omar", NEW).await.status,
            401,
            "nothing was changed"
        );
    }

    async fn the_new_password_follows_the_registration_rules<S: Store>(app: &ShopApp<'_, S>) {
        let token = app.user_token("pia", false).await;
        let cases = [
            (change(PASSWORD, "short"), vec!["newPassword"]),
            (change(PASSWORD, &"p".repeat(129)), vec!["newPassword"]),
            (change("", NEW), vec!["currentPassword"]),
            (json!({"newPassword": NEW}), vec!["currentPassword"]),
            (
                json!({"currentPassword": PASSWORD, "newPassword": 12_345_678}),
                vec!["newPassword"],
            ),
            (
                json!({"currentPassword": PASSWORD, "newPassword": NEW, "userId": "x"}),
                vec!["userId"],
            ),
        ];
        for (body, fields) in cases {
            let response = app.post("/users/me/password", Some(&token), &body).await;
            assert_eq!(response.status, 400, "{body}: {}", response.text);
            assert_eq!(response.error_fields(), fields, "{body}");
        }
        assert_eq!(
            app.post("/users/me/password", None, &change(PASSWORD, NEW))
                .await
                .status,
            401
        );
        assert_eq!(app.get("/users/me", Some(&token)).await.status, 200);
        let edge = app
            .post(
                "/users/me/password",
                Some(&token),
                &change(PASSWORD, &"p".repeat(128)),
            )
            .await;
        assert_eq!(edge.status, 204, "{}", edge.text);
        assert!(!edge.text.contains(PASSWORD));
    }

    async fn two_changes_with_one_token_end_in_one_password<S: Store>(app: &ShopApp<'_, S>) {
        let token = app.user_token("quinn", false).await;
        let (one, two) = (
            change(PASSWORD, "first new password"),
            change(PASSWORD, "second new password"),
        );
        let (a, b) = tokio::join!(
            app.post("/users/me/password", Some(&token), &one),
            app.post("/users/me/password", Some(&token), &two),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 401], "{} / {}", a.text, b.text);
        let winner = if a.status == 204 {
            "first new password"
        } else {
            "second new password"
        };
        assert_eq!(app.login("quinn", winner).await.status, 200);
    }
}
