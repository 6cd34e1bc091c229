//! Tokens (HS256 JWTs with a pinned algorithm) and Argon2id password hashing.

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::Request;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::password::MappedArgon2;
use shop_domain::{Role, User, UserId};
use shop_store::UserStore;

/// The issuer and audience every token carries and every check demands.
pub const ISSUER: &str = "shop-users";
pub const AUDIENCE: &str = "shop-api";
/// HS256 keys shorter than this are refused at start-up.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub username: String,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    /// The user's token generation when it was issued; a password change moves
    /// it on and so refuses every earlier token. Absent (0) in tokens issued
    /// before any change.
    #[serde(default, rename = "gen")]
    pub generation: u32,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// The token generation the token was issued in (see [`Claims::generation`]).
    pub generation: u32,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "JWT_SECRET is not set; set it to a random string of at least {MIN_SECRET_BYTES} bytes"
    )]
    Missing,
    #[error("JWT_SECRET is {0} bytes long; it must be at least {MIN_SECRET_BYTES} bytes")]
    TooShort(usize),
}

/// Signs and verifies the API's tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &SecretString, ttl: Duration) -> Result<Self, SecretError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.is_empty() {
            return Err(SecretError::Missing);
        }
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(bytes.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user`, valid for the configured lifetime.
    pub fn issue(&self, user: &User) -> Result<String, ApiError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            username: user.username.as_str().to_string(),
            role: user.role,
            iat,
            exp: iat + self.ttl.as_secs(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            generation: user.token_generation,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims; `issue` is the normal way in.
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            ApiError::Internal
        })
    }

    /// Checks signature, algorithm, `exp`, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::Unauthenticated)?;
        let user_id = UserId::parse(&data.claims.sub).map_err(|_| ApiError::Unauthenticated)?;
        Ok(Principal {
            user_id,
            username: data.claims.username,
            role: data.claims.role,
            generation: data.claims.generation,
        })
    }

    /// The principal behind the request's `Authorization: Bearer` header.
    pub fn authenticate(&self, request: &Request) -> Result<Principal, ApiError> {
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthenticated)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        self.verify(token.trim())
    }
}

/// The user behind the request's bearer token, as the database knows them now.
///
/// A valid token is not enough: its user must still exist, not be disabled, and
/// not have changed their password since it was issued (else 401).
pub async fn signed_in_user(
    tokens: &Tokens,
    users: &impl UserStore,
    request: &Request,
) -> Result<User, ApiError> {
    let claimed = tokens.authenticate(request)?;
    users
        .find_user_by_id(claimed.user_id)
        .await?
        .filter(|user| !user.disabled && user.token_generation == claimed.generation)
        .ok_or(ApiError::Unauthenticated)
}

/// The caller behind the request's bearer token (see [`signed_in_user`]), with
/// the stored role, not the token's, so that a demotion takes effect on the next
/// request whatever tokens the user still holds.
pub async fn caller(
    tokens: &Tokens,
    users: &impl UserStore,
    request: &Request,
) -> Result<Principal, ApiError> {
    let user = signed_in_user(tokens, users, request).await?;
    Ok(Principal {
        user_id: user.id,
        username: user.username.as_str().to_string(),
        role: user.role,
        generation: user.token_generation,
    })
}

/// The caller (see [`caller`]) if their stored role is admin; 403 otherwise.
pub async fn admin(
    tokens: &Tokens,
    users: &impl UserStore,
    request: &Request,
) -> Result<Principal, ApiError> {
    let principal = caller(tokens, users, request).await?;
    if principal.is_admin() {
        Ok(principal)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes),
/// in memory mapped for the hash and given back after it ([`MappedArgon2`]).
pub async fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = SecretString::from(password);
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        MappedArgon2
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or(ApiError::Internal)
}

/// The hash of a random password that was thrown away, verified against when
/// the user is unknown, so that an unknown user costs the same one hash as a
/// wrong password. A constant: nothing to compute on the first unknown login
/// (which would cost it a second hash, and could fail), and it matches
/// nothing anyone can type (an unknown user is refused whatever it matches).
/// Its parameters are the ones every password is hashed with (tested).
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bUdBNJHzX9BFiRWm8Br5wA$K7T5hS6OeEWn4g93YXMzM8PO43dgqJFDaEAg7uEtN8o";

/// Checks `password` against `hash`, or against the decoy when there is none.
pub async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = SecretString::from(password);
    let known = hash.is_some();
    let hash = hash.map(str::to_string);
    let matched = tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or(DECOY_HASH);
        PasswordHash::new(hash).is_ok_and(|parsed| {
            MappedArgon2
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    known && matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use shop_domain::{Email, Username};

    const SECRET: &str = "an-example-secret-of-32-bytes-!!";

    fn tokens() -> Tokens {
        Tokens::new(&SECRET.into(), Duration::from_secs(3600)).unwrap()
    }

    fn user(role: Role) -> User {
        User {
            id: UserId::new(),
            username: Username::parse("alice".into()).unwrap(),
            email: Email::parse("alice@example.com".into()).unwrap(),
            password_hash: String::new(),
            role,
            disabled: false,
            token_generation: 0,
            created_at: shop_domain::now(),
        }
    }

    fn claims_for(user: &User, exp_offset: i64) -> Claims {
        let now = jsonwebtoken::get_current_timestamp();
        Claims {
            sub: user.id.to_string(),
            username: "alice".into(),
            role: user.role,
            iat: now,
            exp: now.saturating_add_signed(exp_offset),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            generation: 0,
        }
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        let short: SecretString = "x".repeat(31).into();
        assert_eq!(
            Tokens::new(&short, Duration::from_secs(1)).err(),
            Some(SecretError::TooShort(31))
        );
        assert_eq!(
            Tokens::new(&"".into(), Duration::from_secs(1)).err(),
            Some(SecretError::Missing)
        );
        assert!(Tokens::new(&"x".repeat(32).into(), Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn issued_tokens_carry_the_documented_claims() {
        let admin = user(Role::Admin);
        let token = tokens().issue(&admin).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(decode_part(parts[0])["alg"], "HS256");
        let claims = decode_part(parts[1]);
        assert_eq!(claims["sub"], admin.id.to_string());
        assert_eq!(claims["username"], "alice");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], AUDIENCE);
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 3600);
        let principal = tokens().verify(&token).unwrap();
        assert_eq!(principal.user_id, admin.id);
        assert!(principal.is_admin());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let u = user(Role::Customer);
        let expired = tokens().sign(&claims_for(&u, -5)).unwrap();
        assert!(matches!(
            tokens().verify(&expired),
            Err(ApiError::Unauthenticated)
        ));
        let fresh = tokens().sign(&claims_for(&u, 60)).unwrap();
        assert!(tokens().verify(&fresh).is_ok());
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let token = tokens().issue(&user(Role::Customer)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = decode_part(parts[1]);
        claims["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert!(matches!(
            tokens().verify(&forged),
            Err(ApiError::Unauthenticated)
        ));
    }

    #[test]
    fn an_unsigned_alg_none_token_is_refused() {
        let u = user(Role::Admin);
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims_for(&u, 60)).unwrap());
        for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
            assert!(matches!(
                tokens().verify(&token),
                Err(ApiError::Unauthenticated)
            ));
        }
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = Tokens::new(
            &"another-secret-that-is-32-bytes!".into(),
            Duration::from_secs(60),
        )
        .unwrap();
        let token = other.issue(&user(Role::Customer)).unwrap();
        assert!(matches!(
            tokens().verify(&token),
            Err(ApiError::Unauthenticated)
        ));
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused() {
        let u = user(Role::Customer);
        let mut wrong_iss = claims_for(&u, 60);
        wrong_iss.iss = "someone-else".into();
        let mut wrong_aud = claims_for(&u, 60);
        wrong_aud.aud = "another-api".into();
        for claims in [wrong_iss, wrong_aud] {
            let token = tokens().sign(&claims).unwrap();
            assert!(matches!(
                tokens().verify(&token),
                Err(ApiError::Unauthenticated)
            ));
        }
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", Some(&hash)).await);
        assert!(!verify_password("wrong horse", Some(&hash)).await);
        assert!(!verify_password("correct horse", None).await);
    }

    /// The decoy costs what a real verification costs: the same parameters
    /// every password is hashed with.
    #[test]
    fn the_decoy_is_hashed_like_every_password() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let real = argon2::Argon2::default()
            .hash_password(b"any", &salt)
            .unwrap();
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(decoy.params, real.params);
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }
}
