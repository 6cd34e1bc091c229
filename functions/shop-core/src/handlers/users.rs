//! `POST /users/register` and `POST /users/login`.

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::{Tokens, hash_password, verify_password};
use crate::domain::{Email, Password, Role, User, UserId, Username, now};
use crate::error::ApiError;
use crate::http::{json, json_body, serve, source_ip};
use crate::limits::{Count, Limits};
use crate::store::{Counters, UserStore};
use crate::validation::{Errors, Object, string};

/// Login names and passwords beyond this are refused before any hashing work.
const MAX_LOGIN_FIELD: usize = 1024;

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
pub async fn register(
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
            created_at: now(),
        };
        store.insert_user(&user).await?;
        tracing::info!(user_id = %user.id, "user registered");
        json(201, &user.view())
    })
    .await
}

struct Login {
    login: String,
    password: String,
}

fn non_empty(value: String) -> Result<String, String> {
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
struct LoginCounters {
    pair: String,
    account: String,
}

impl LoginCounters {
    /// An account is counted by its id, whichever name it logs in with; a name with
    /// no account by a hash of the name (so that what people type as a name, a
    /// password perhaps, is not stored), and otherwise exactly alike.
    fn new(user: Option<&User>, login: &str, address: &str) -> Self {
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
    async fn refused(
        &self,
        store: &impl Counters,
        limits: &Limits,
    ) -> Result<Option<std::time::Duration>, ApiError> {
        let (per_address, per_account) = (
            limits.login_failures_per_address,
            limits.login_failures_per_account,
        );
        let at = now();
        let pair = store.peek(&self.pair, per_address.window, at).await?;
        let account = store.peek(&self.account, per_account.window, at).await?;
        Ok(limits.login_refused(pair, account))
    }

    /// Counts a failure; how long the login is refused if this one took the pair
    /// (or, with it, the account) past its limit. Each count is one atomic step, so
    /// parallel guesses each get a number of their own, and past the limit every
    /// answer is the same 429, right password or not: a burst learns nothing from
    /// the guesses beyond the limit.
    async fn count_failure(
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

fn too_many_failures(wait: std::time::Duration) -> ApiError {
    ApiError::RateLimited {
        what: "too many failed logins for this account from this address",
        wait,
    }
}

/// Unknown user and wrong password take the same path, the same time (a decoy
/// hash is verified) and give the same 401 body; a disabled account's login is
/// refused the same way.
///
/// The limits of API.md: every attempt counts against the address (per minute);
/// only failures count against the account, per address and in all. They are
/// checked before the password (a refused pair costs no hashing), counted after
/// it, and checked again before a success, so that a burst of parallel guesses
/// cannot slip past the count. A right password never adds to a failure count.
pub async fn login(
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
