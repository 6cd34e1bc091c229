//! Service tokens: how the stock routes know their caller is an order function.
//!
//! The order functions sign a token that lives one minute, for their own
//! audience and role, with `SERVICE_TOKEN_SECRET`, a key that only they and the
//! stock functions hold. A client's token (signed with `JWT_SECRET`, for the
//! API's audience), an admin's included, fails every one of those checks.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::Request;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::auth::MIN_SECRET_BYTES;
use crate::error::ApiError;

pub const SERVICE_ISSUER: &str = "shop-orders";
pub const SERVICE_AUDIENCE: &str = "shop-stock";
pub const SERVICE_ROLE: &str = "stock-client";
/// A service token is made for one call; this covers its retry.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct ServiceClaims {
    /// The calling function.
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
}

/// Signs and checks service tokens.
#[derive(Clone)]
pub struct ServiceTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl ServiceTokens {
    /// `None` when the key is shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &SecretString) -> Option<Self> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return None;
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[SERVICE_ISSUER]);
        validation.set_audience(&[SERVICE_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Some(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        })
    }

    /// A fresh token naming the calling function.
    pub fn issue(&self, caller: &str) -> Result<String, ApiError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = ServiceClaims {
            sub: caller.into(),
            role: SERVICE_ROLE.into(),
            iat,
            exp: iat + SERVICE_TOKEN_TTL.as_secs(),
            iss: SERVICE_ISSUER.into(),
            aud: SERVICE_AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing a service token failed");
            ApiError::Internal
        })
    }

    /// No bearer token → 401; any token but a valid service token → 403.
    pub fn check(&self, request: &Request) -> Result<(), ApiError> {
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .map(|(_, token)| token.trim())
            .ok_or(ApiError::Unauthenticated)?;
        let claims = jsonwebtoken::decode::<ServiceClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::Forbidden)?
            .claims;
        if claims.role != SERVICE_ROLE {
            return Err(ApiError::Forbidden);
        }
        tracing::debug!(caller = %claims.sub, "service call");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::gateway_request;

    const KEY: &str = "a-service-key-that-is-32-bytes-long";

    fn with_token(token: &str) -> Request {
        let bearer = format!("Bearer {token}");
        gateway_request(
            "POST",
            "/stock/reservations",
            &[("authorization", &bearer)],
            None,
        )
    }

    #[test]
    fn only_a_service_token_signed_with_the_service_key_passes() {
        let service = ServiceTokens::new(&KEY.into()).unwrap();
        assert!(
            service
                .check(&with_token(&service.issue("orders-create").unwrap()))
                .is_ok()
        );
        let other_key = ServiceTokens::new(&"another-service-key-of-32-bytes!!".into()).unwrap();
        let forged = other_key.issue("orders-create").unwrap();
        assert!(matches!(
            service.check(&with_token(&forged)),
            Err(ApiError::Forbidden)
        ));
        assert!(matches!(
            service.check(&with_token("x.y.z")),
            Err(ApiError::Forbidden)
        ));
        let anonymous = gateway_request("POST", "/stock/reservations", &[], None);
        assert!(matches!(
            service.check(&anonymous),
            Err(ApiError::Unauthenticated)
        ));
        assert!(ServiceTokens::new(&"short".into()).is_none());
    }

    #[test]
    fn a_client_token_signed_with_the_same_key_is_still_refused() {
        // Even were the keys the same, a client's token has another issuer,
        // audience and role.
        let client = crate::auth::Tokens::new(&KEY.into(), Duration::from_secs(60)).unwrap();
        let claims = crate::auth::Claims {
            sub: shop_domain::UserId::new().to_string(),
            username: "root".into(),
            role: shop_domain::Role::Admin,
            iat: jsonwebtoken::get_current_timestamp(),
            exp: jsonwebtoken::get_current_timestamp() + 60,
            iss: crate::auth::ISSUER.into(),
            aud: crate::auth::AUDIENCE.into(),
            generation: 0,
        };
        let admin = client.sign(&claims).unwrap();
        let service = ServiceTokens::new(&KEY.into()).unwrap();
        assert!(matches!(
            service.check(&with_token(&admin)),
            Err(ApiError::Forbidden)
        ));
    }
}
