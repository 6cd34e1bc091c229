//! `POST /users/register` and `POST /users/login`.

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::auth::{Tokens, hash_password, verify_password};
use crate::domain::{Email, Password, Role, User, UserId, Username, now};
use crate::error::ApiError;
use crate::http::{json, json_body, serve};
use crate::store::{LoginThrottle, UserStore};
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

pub async fn register(store: &impl UserStore, request: Request) -> Response<Body> {
    serve(request, |request| async move {
        let input = Registration::parse(json_body(&request)?)?;
        let user = User {
            id: UserId::new(),
            password_hash: hash_password(input.password.expose()).await?,
            username: input.username,
            email: input.email,
            role: Role::Customer,
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

/// Unknown user and wrong password take the same path, the same time (a decoy
/// hash is verified) and give the same 401 body. Attempts are counted per
/// account (or per login name when there is no account), shared by all
/// instances, and forgotten on success.
pub async fn login(
    store: &(impl UserStore + LoginThrottle),
    tokens: &Tokens,
    request: Request,
) -> Response<Body> {
    serve(request, |request| async move {
        let input = Login::parse(json_body(&request)?)?;
        let user = store.find_user(&input.login).await?;
        let throttle_key = match &user {
            Some(user) => format!("user:{}", user.id),
            None => format!("name:{}", input.login.to_lowercase()),
        };
        // The attempt is counted before the password is checked, so parallel
        // guesses cannot all slip in before the count catches up.
        let at = now();
        let counted = store.count_attempt(&throttle_key, at).await?;
        if let Some(wait) = counted.lockout(at) {
            return Err(ApiError::TooManyAttempts(wait));
        }
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        let (Some(user), true) = (&user, verify_password(&input.password, hash).await) else {
            tracing::info!("login refused");
            return Err(ApiError::InvalidCredentials);
        };
        store.clear_attempts(&throttle_key).await?;
        tracing::info!(user_id = %user.id, "login succeeded");
        json(
            200,
            &TokenResponse {
                access_token: tokens.issue(user)?,
                token_type: "Bearer",
                expires_in: tokens.ttl().as_secs(),
            },
        )
    })
    .await
}
