//! `POST /users/login`: a username (or email) and password for a bearer token,
//! under the failed-login limits.

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shop_domain::limits::{Count, Limits};
use shop_domain::validation::{Errors, Object, string};
use shop_domain::{User, now};
use shop_store::{Counters, MongoStore, UserStore};

use crate::auth::{Tokens, verify_password};
use crate::config::{self, ConfigError};
use crate::error::ApiError;
use crate::http::{json, json_body, serve, source_ip};

/// Login names and passwords beyond this are refused before any hashing work.
const MAX_LOGIN_FIELD: usize = 1024;

/// What an instance builds once and keeps for every invocation.
pub struct Instance {
    pub(crate) store: MongoStore,
    pub(crate) tokens: Tokens,
    pub(crate) limits: Limits,
}

impl Instance {
    pub async fn init() -> Result<Self, ConfigError> {
        Ok(Self {
            tokens: config::tokens_from_env()?,
            store: config::mongo_store_from_env().await?,
            limits: config::limits_from_env()?,
        })
    }
}

/// Answers one invocation with what the instance keeps.
pub async fn respond(instance: &Instance, request: Request) -> Response<Body> {
    handle(&instance.store, &instance.tokens, &instance.limits, request).await
}

struct Login {
    login: String,
    password: String,
}

pub(super) fn non_empty(value: String) -> Result<String, String> {
    match value.chars().count() {
        0 => Err("must not be empty".into()),
        n if n > MAX_LOGIN_FIELD => Err(format!("must be at most {MAX_LOGIN_FIELD} characters")),
        _ => Ok(value),
    }
}

impl Login {
    fn parse(body: &str) -> Result<Self, ApiError> {
        let object = Object::parse_body(body)?;
        let mut errors = Errors::default();
        object.deny_unknown(&["username", "password"], &mut errors);
        let login = object.required("username", &mut errors, string(non_empty));
        let password = object.required("password", &mut errors, string(non_empty));
        errors.finish()?;
        match (login, password) {
            (Some(login), Some(password)) => Ok(Self { login, password }),
            _ => Err(ApiError::Internal),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// The counters that a login for `subject` from `address` reads and adds to.
pub(super) struct LoginCounters {
    pair: String,
    account: String,
}

impl LoginCounters {
    /// An account is counted by its id, whichever name it logs in with; a name with
    /// no account by a hash of the name (so that what people type as a name, a
    /// password perhaps, is not stored), and otherwise exactly alike.
    pub(super) fn new(user: Option<&User>, login: &str, address: &str) -> Self {
        let subject = match user {
            Some(user) => format!("user:{}", user.id),
            None => {
                let digest = Sha256::digest(login.to_lowercase().as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                format!("name:{hex}")
            }
        };
        Self {
            pair: format!("login-failures:{subject}:{address}"),
            account: format!("login-failures:{subject}"),
        }
    }

    /// How long the login is refused, if the failures counted so far refuse it.
    pub(super) async fn refused(
        &self,
        store: &impl Counters,
        limits: &Limits,
    ) -> Result<Option<std::time::Duration>, ApiError> {
        let (per_address, per_account) = (
            limits.login_failures_per_address,
            limits.login_failures_per_account,
        );
        let counters = [
            (self.pair.as_str(), per_address.window),
            (self.account.as_str(), per_account.window),
        ];
        let counts = store.peek_each(&counters, now()).await?;
        let [pair, account] = counts[..] else {
            return Err(ApiError::Internal);
        };
        Ok(limits.login_refused(pair, account))
    }

    /// Counts a failure; how long the login is refused if this one took the pair
    /// (or, with it, the account) past its limit. Each count is one atomic step, so
    /// parallel guesses each get a number of their own, and past the limit every
    /// answer is the same 429, right password or not: a burst learns nothing from
    /// the guesses beyond the limit.
    pub(super) async fn count_failure(
        &self,
        store: &impl Counters,
        limits: &Limits,
    ) -> Result<Option<std::time::Duration>, ApiError> {
        let at = now();
        let per_address = limits.login_failures_per_address;
        let per_account = limits.login_failures_per_account;
        let pair = store.bump(&self.pair, per_address.window, at, 1).await?;
        let account = store.bump(&self.account, per_account.window, at, 1).await?;
        let before = |count: Count| Count {
            value: count.value.saturating_sub(1),
            ..count
        };
        Ok(limits.login_refused(before(pair), before(account)))
    }
}

pub(super) fn too_many_failures(wait: std::time::Duration) -> ApiError {
    ApiError::RateLimited {
        what: "too many failed logins for this account from this address",
        wait,
    }
}

/// Unknown user and wrong password take the same path, the same time (a decoy
/// hash is verified) and give the same 401 body; a disabled account's login is
/// refused the same way.
///
/// The limits of docs/api.md: every attempt counts against the address (per minute);
/// only failures count against the account, per address and in all. They are
/// checked before the password (a refused pair costs no hashing), counted after
/// it, and checked again before a success, so that a burst of parallel guesses
/// cannot slip past the count. A right password never adds to a failure count.
pub async fn handle(
    store: &(impl UserStore + Counters),
    tokens: &Tokens,
    limits: &Limits,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let input = Login::parse(json_body(&request)?)?;
        let address = source_ip(&request);
        let attempts = limits.logins_per_address;
        let attempted = store
            .bump(&format!("login:{address}"), attempts.window, now(), 1)
            .await?;
        if let Some(wait) = attempted.over(attempts) {
            return Err(ApiError::RateLimited {
                what: "too many login attempts from this address",
                wait,
            });
        }
        let user = store.find_user(&input.login).await?;
        let counters = LoginCounters::new(user.as_ref(), &input.login, &address);
        if let Some(wait) = counters.refused(store, limits).await? {
            return Err(too_many_failures(wait));
        }
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        let matched = verify_password(&input.password, hash).await;
        let Some(user) = user.filter(|u| matched && !u.disabled) else {
            tracing::info!("login refused");
            return Err(match counters.count_failure(store, limits).await? {
                Some(wait) => too_many_failures(wait),
                None => ApiError::InvalidCredentials,
            });
        };
        // Parallel guesses counted meanwhile refuse this one too: a success must
        // not be told apart from a failure once the pair is over its limit.
        if let Some(wait) = counters.refused(store, limits).await? {
            return Err(too_many_failures(wait));
        }
        tracing::info!(user_id = %user.id, "login succeeded");
        json(
            200,
            &TokenResponse {
                access_token: tokens.issue(&user)?,
                token_type: "Bearer",
                expires_in: tokens.ttl().as_secs(),
            },
        )
    })
    .await
}

#[cfg(test)]
mod tests {

    use super::super::fixtures::{ELSEWHERE, HOME, small_limits};
    use crate::testing::{PASSWORD, ShopApp, Stores as Store};

    crate::on_both_stores!(
        login_returns_a_bearer_token_for_username_or_email,
        login_gives_one_401_body_for_an_unknown_user_and_a_wrong_password,
        login_refuses_a_pair_after_ten_failures_and_the_owner_still_logs_in_elsewhere,
        login_answers_no_more_than_ten_parallel_guesses,
        login_counts_username_and_email_as_one_account,
        login_limits_a_name_that_has_no_account_exactly_alike,
        login_never_counts_a_right_password,
        login_past_the_account_limit_refuses_only_addresses_that_failed,
        login_attempts_are_limited_per_address,
        counters_are_read_together_each_in_its_own_window,
    );

    /// The failure counts are read in one query; each keeps its own window.
    async fn counters_are_read_together_each_in_its_own_window<S: Store>(app: &ShopApp<'_, S>) {
        use std::time::Duration;
        let (minute, hour) = (Duration::from_secs(60), Duration::from_secs(3600));
        let at = shop_domain::now();
        app.store.bump("short", minute, at, 2).await.unwrap();
        app.store.bump("long", hour, at, 5).await.unwrap();
        // The same name counted in another window is another counter.
        app.store.bump("long", minute, at, 7).await.unwrap();
        let counts = app
            .store
            .peek_each(
                &[("long", hour), ("missing", minute), ("short", minute)],
                at,
            )
            .await
            .unwrap();
        let values: Vec<u64> = counts.iter().map(|c| c.value).collect();
        assert_eq!(values, [5, 0, 2]);
        assert!(counts[0].wait > minute && counts[0].wait <= hour);
        assert!(counts[2].wait <= minute);
        assert_eq!(
            counts[2],
            app.store.peek("short", minute, at).await.unwrap()
        );
    }

    async fn login_returns_a_bearer_token_for_username_or_email<S: Store>(app: &ShopApp<'_, S>) {
        let registered = app.register("Erin", "erin@example.com", PASSWORD).await;
        for login in ["Erin", "erin", "ERIN@example.com"] {
            let response = app.login(login, PASSWORD).await;
            assert_eq!(response.status, 200, "{login}: {}", response.text);
            assert_eq!(response.body["tokenType"], "Bearer");
            assert_eq!(response.body["expiresIn"], 3600);
            let token = response.body["accessToken"].as_str().unwrap();
            let principal = app.tokens.verify(token).unwrap();
            assert_eq!(
                principal.user_id.to_string(),
                registered.body["id"].as_str().unwrap()
            );
            assert_eq!(principal.username, "Erin");
            assert!(!principal.is_admin());
            assert!(!response.text.contains(PASSWORD));
        }
    }

    async fn login_gives_one_401_body_for_an_unknown_user_and_a_wrong_password<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        app.register("frank", "frank@example.com", PASSWORD).await;
        let wrong = app.login("frank", "not the password").await;
        let unknown = app.login("nobody", PASSWORD).await;
        for response in [&wrong, &unknown] {
            assert_eq!(response.status, 401);
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        }
        let strip = |mut v: serde_json::Value| {
            v.as_object_mut().unwrap().remove("requestId");
            v
        };
        assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
    }

    async fn login_refuses_a_pair_after_ten_failures_and_the_owner_still_logs_in_elsewhere<
        S: Store,
    >(
        app: &ShopApp<'_, S>,
    ) {
        app.register("grace", "grace@example.com", PASSWORD).await;
        for attempt in 1..=10 {
            let response = app.login_from(HOME, "grace", "wrong password").await;
            assert_eq!(response.status, 401, "attempt {attempt}");
        }
        // That pair is refused now, even with the right password…
        let refused = app.login_from(HOME, "grace", PASSWORD).await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        assert_eq!(
            refused.body["type"],
            "https://shop.invalid/problems/too-many-requests"
        );
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=24 * 3600).contains(&retry), "{retry}");
        // …while the owner, from another address, logs in.
        assert_eq!(
            app.login_from(ELSEWHERE, "grace", PASSWORD).await.status,
            200
        );
        // Another account from the same address is not affected.
        app.register("heidi", "heidi@example.com", PASSWORD).await;
        assert_eq!(app.login_from(HOME, "heidi", PASSWORD).await.status, 200);
    }

    async fn login_answers_no_more_than_ten_parallel_guesses<S: Store>(app: &ShopApp<'_, S>) {
        app.register("ivy", "ivy@example.com", PASSWORD).await;
        let guesses = (0..20).map(|i| {
            let password = format!("guess number {i}");
            async move { app.login_from(HOME, "ivy", &password).await.status }
        });
        let mut statuses = futures::future::join_all(guesses).await;
        statuses.sort();
        // Each failure is counted atomically: the ten past the limit learn nothing.
        assert_eq!(statuses[..10], [401; 10]);
        assert_eq!(statuses[10..], [429; 10]);
        // The right password from that address is refused too: told apart from a
        // wrong one by nothing.
        assert_eq!(app.login_from(HOME, "ivy", PASSWORD).await.status, 429);
    }

    async fn login_counts_username_and_email_as_one_account<S: Store>(app: &ShopApp<'_, S>) {
        app.register("jack", "jack@example.com", PASSWORD).await;
        for login in ["jack", "JACK@example.com"].repeat(5) {
            assert_eq!(
                app.login_from(HOME, login, "wrong password").await.status,
                401
            );
        }
        assert_eq!(
            app.login_from(HOME, "jack@example.com", "wrong password")
                .await
                .status,
            429
        );
        assert_eq!(app.login_from(HOME, "jack", PASSWORD).await.status, 429);
    }

    async fn login_limits_a_name_that_has_no_account_exactly_alike<S: Store>(app: &ShopApp<'_, S>) {
        for _ in 0..10 {
            assert_eq!(
                app.login_from(HOME, "nobody-here", "whatever it is")
                    .await
                    .status,
                401
            );
        }
        let refused = app.login_from(HOME, "NOBODY-HERE", "whatever it is").await;
        assert_eq!(
            refused.status, 429,
            "a limit does not reveal whether the account exists"
        );
        assert!(refused.header("retry-after").is_some());
        assert_eq!(
            app.login_from(ELSEWHERE, "nobody-here", "whatever it is")
                .await
                .status,
            401
        );
    }

    async fn login_never_counts_a_right_password<S: Store>(app: &ShopApp<'_, S>) {
        app.register("kate", "kate@example.com", PASSWORD).await;
        // Many logins at once, all right: none is refused.
        let logins = (0..16).map(|_| async { app.login_from(HOME, "kate", PASSWORD).await.status });
        let statuses = futures::future::join_all(logins).await;
        assert_eq!(statuses, [200; 16]);
        // And they left the failure count alone: nine typos are still nine 401s.
        for _ in 0..9 {
            assert_eq!(app.login_from(HOME, "kate", "typo").await.status, 401);
        }
        assert_eq!(app.login_from(HOME, "kate", PASSWORD).await.status, 200);
    }

    async fn login_past_the_account_limit_refuses_only_addresses_that_failed<S: Store>(
        app: &ShopApp<'_, S>,
    ) {
        let app = ShopApp::new(app.store).with_limits(small_limits());
        app.register("lena", "lena@example.com", PASSWORD).await;
        // Five failures for the account, from three addresses, none over its own 3.
        for (address, failures) in [("10.0.0.1", 2), ("10.0.0.2", 2), ("10.0.0.3", 1)] {
            for _ in 0..failures {
                assert_eq!(app.login_from(address, "lena", "wrong").await.status, 401);
            }
        }
        // Past the account's limit, the addresses that failed are refused…
        for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            assert_eq!(app.login_from(address, "lena", PASSWORD).await.status, 429);
        }
        // …and one that has not failed for it logs in.
        assert_eq!(
            app.login_from("10.0.0.4", "lena", PASSWORD).await.status,
            200
        );
    }

    async fn login_attempts_are_limited_per_address<S: Store>(app: &ShopApp<'_, S>) {
        let app = ShopApp::new(app.store).with_limits(small_limits());
        app.register("mona", "mona@example.com", PASSWORD).await;
        for _ in 0..8 {
            assert_eq!(app.login_from(HOME, "mona", PASSWORD).await.status, 200);
        }
        let refused = app.login_from(HOME, "mona", PASSWORD).await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=24 * 3600).contains(&retry), "{retry}");
        assert_eq!(
            app.login_from(ELSEWHERE, "mona", PASSWORD).await.status,
            200
        );
    }
}
