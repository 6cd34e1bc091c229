//! `GET /users/me`: the caller's own account, as the database holds it now.

use lambda_http::{Body, Request, Response};
use shop_store::UserStore;

use crate::auth::{Tokens, signed_in_user};
use crate::http::{json, serve};

/// What an instance keeps: the store and the token keys.
pub use crate::instance::Authenticated as Instance;

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, request).await
}

/// The handler, over any store: the function passes MongoDB, the tests also
/// the in-memory store. The role shown is the stored one, not the token's.
pub async fn handle(store: &impl UserStore, tokens: &Tokens, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let user = signed_in_user(tokens, store, &request).await?;
        json(200, &user.view())
    })
    .await
}

#[cfg(test)]
mod tests {
    use shop_domain::Role;

    use crate::testing::{ShopApp, Stores as Store};

    crate::on_both_stores!(
        me_answers_the_callers_account_and_never_its_password,
        me_shows_the_role_as_stored_now,
        me_refuses_a_missing_bad_or_disabled_token,
    );

    async fn me_answers_the_callers_account_and_never_its_password<S: Store>(app: &ShopApp<'_, S>) {
        let token = app.user_token("Maria", false).await;
        let me = app.get("/users/me", Some(&token)).await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.header("content-type"), Some("application/json"));
        assert_eq!(me.body["username"], "Maria");
        assert_eq!(me.body["email"], "maria@example.com");
        assert_eq!(me.body["role"], "customer");
        let claims = app.tokens.verify(&token).unwrap();
        assert_eq!(me.body["id"], claims.user_id.to_string());
        assert!(me.body["createdAt"].as_str().unwrap().ends_with('Z'));
        let mut fields: Vec<&String> = me.body.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["createdAt", "email", "id", "role", "username"]);
        assert!(!me.text.contains("argon2"), "{}", me.text);
    }

    async fn me_shows_the_role_as_stored_now<S: Store>(app: &ShopApp<'_, S>) {
        let token = app.user_token("rosa", false).await;
        app.store.set_role("rosa", Role::Admin).await.unwrap();
        let me = app.get("/users/me", Some(&token)).await;
        assert_eq!((me.status, me.body["role"].as_str()), (200, Some("admin")));
    }

    async fn me_refuses_a_missing_bad_or_disabled_token<S: Store>(app: &ShopApp<'_, S>) {
        let token = app.user_token("ivo", false).await;
        for bad in [None, Some("not.a.jwt"), Some(&format!("{token}x")[..])] {
            let me = app.get("/users/me", bad).await;
            assert_eq!(me.status, 401, "{bad:?}: {}", me.text);
            assert_eq!(me.header("www-authenticate"), Some("Bearer"));
        }
        app.store.set_disabled("ivo", true).await.unwrap();
        assert_eq!(app.get("/users/me", Some(&token)).await.status, 401);
    }
}
