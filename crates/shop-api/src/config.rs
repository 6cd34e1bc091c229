//! Typed configuration from environment variables (each one is documented in the
//! README and `.env.example`), and the log set-up every function shares.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::auth::{SecretError, Tokens};
use shop_store::MongoStore;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("MONGODB_URI cannot be used: {0}")]
    Mongo(String),
}

/// A value that is still a CloudFormation dynamic reference (`{{resolve:…}}`) was
/// never resolved: used as a secret, it would be a secret anyone can read in the
/// template. The function refuses to start instead.
fn refuse_unresolved(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.contains("{{resolve:") {
        return Err(ConfigError::Invalid {
            name,
            why: "is an unresolved dynamic reference ({{resolve:…}}), not a value".into(),
        });
    }
    Ok(())
}

/// The store every function builds once per instance, from `MONGODB_URI` and
/// `MONGODB_DATABASE`.
pub async fn mongo_store_from_env() -> Result<MongoStore, ConfigError> {
    let config = MongoConfig::from_env()?;
    MongoStore::connect(config.uri.expose_secret(), &config.database)
        .await
        .map_err(|e| ConfigError::Mongo(e.to_string()))
}

/// Where the data lives.
#[derive(Debug)]
pub struct MongoConfig {
    /// May carry credentials, so it is a secret.
    pub uri: SecretString,
    pub database: String,
}

pub const DEFAULT_DATABASE: &str = "shop";
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

impl MongoConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let uri = var("MONGODB_URI")
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing("MONGODB_URI"))?;
        refuse_unresolved("MONGODB_URI", &uri)?;
        let database = var("MONGODB_DATABASE")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        Ok(Self {
            uri: uri.into(),
            database,
        })
    }
}

/// The token signer/verifier from `JWT_SECRET` and `JWT_TTL_SECONDS`.
pub fn tokens_from_env() -> Result<Tokens, ConfigError> {
    tokens_from_lookup(|name| std::env::var(name).ok())
}

pub fn tokens_from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Tokens, ConfigError> {
    let secret = var("JWT_SECRET").unwrap_or_default();
    refuse_unresolved("JWT_SECRET", &secret)?;
    let secret: SecretString = secret.into();
    let ttl = match var("JWT_TTL_SECONDS") {
        None => DEFAULT_TOKEN_TTL,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|s| (60..=7 * 24 * 3600).contains(s))
            .map(Duration::from_secs)
            .ok_or(ConfigError::Invalid {
                name: "JWT_TTL_SECONDS",
                why: "must be a whole number of seconds from 60 to 604800".into(),
            })?,
    };
    Ok(Tokens::new(&secret, ttl)?)
}

/// The key of the service tokens the order functions send to the stock routes,
/// from `SERVICE_TOKEN_SECRET` (at least 32 bytes, never a client's key).
pub fn service_tokens_from_env() -> Result<crate::stock::token::ServiceTokens, ConfigError> {
    service_tokens_from_lookup(|name| std::env::var(name).ok())
}

pub fn service_tokens_from_lookup(
    var: impl Fn(&str) -> Option<String>,
) -> Result<crate::stock::token::ServiceTokens, ConfigError> {
    const NAME: &str = "SERVICE_TOKEN_SECRET";
    let secret = var(NAME)
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(NAME))?;
    refuse_unresolved(NAME, &secret)?;
    crate::stock::token::ServiceTokens::new(&secret.into()).ok_or(ConfigError::Invalid {
        name: NAME,
        why: format!("must be at least {} bytes", crate::auth::MIN_SECRET_BYTES),
    })
}

/// `RESERVATION_TTL_SECONDS`: how old a stock reservation whose order never
/// appeared must be before it is released (default 900, 15 minutes).
pub fn reservation_ttl_from_env() -> Result<Duration, ConfigError> {
    match std::env::var("RESERVATION_TTL_SECONDS") {
        Err(_) => Ok(crate::stock::ledger::DEFAULT_RESERVATION_TTL),
        Ok(text) => text
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .map(Duration::from_secs)
            .ok_or(ConfigError::Invalid {
                name: "RESERVATION_TTL_SECONDS",
                why: "must be a whole number of seconds from 1 to 86400".into(),
            }),
    }
}

/// The rate limits, from the `LIMIT_*` variables (the documented defaults for those unset).
pub fn limits_from_env() -> Result<shop_domain::limits::Limits, ConfigError> {
    shop_domain::limits::Limits::from_lookup(|name| std::env::var(name).ok()).map_err(|why| {
        ConfigError::Invalid {
            name: "LIMIT_*",
            why,
        }
    })
}

/// `PRODUCTS_API_URL`, where the order function prices orders; `None` when
/// unset or empty (then the request says where the API is).
pub fn products_api_url_from_env() -> Option<String> {
    std::env::var("PRODUCTS_API_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Logs to stdout (CloudWatch under Lambda, the runner's console locally),
/// filtered by `RUST_LOG` (default `info`), as JSON when Lambda's log format is.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // A second initialisation (tests) is harmless, so its error is ignored.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn mongodb_uri_is_required_and_the_database_defaults_to_shop() {
        assert_eq!(
            MongoConfig::from_lookup(lookup(&[])).unwrap_err(),
            ConfigError::Missing("MONGODB_URI")
        );
        let config = MongoConfig::from_lookup(lookup(&[("MONGODB_URI", "mongodb://h")])).unwrap();
        assert_eq!(config.database, "shop");
    }

    #[test]
    fn a_missing_or_short_secret_stops_start_up_with_a_clear_message() {
        let missing = tokens_from_lookup(lookup(&[])).err().unwrap();
        assert!(
            missing.to_string().contains("JWT_SECRET is not set"),
            "{missing}"
        );
        let short = tokens_from_lookup(lookup(&[("JWT_SECRET", "short")]))
            .err()
            .unwrap();
        assert_eq!(
            short.to_string(),
            "JWT_SECRET is 5 bytes long; it must be at least 32 bytes"
        );
    }

    #[test]
    fn an_unresolved_dynamic_reference_is_refused_as_a_value() {
        let reference = "{{resolve:secretsmanager:shop/jwt-secret:SecretString}}";
        let error = tokens_from_lookup(lookup(&[("JWT_SECRET", reference)]))
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("unresolved dynamic reference"),
            "{error}"
        );
        assert!(!error.to_string().contains("shop/jwt-secret"), "{error}");
        let error =
            MongoConfig::from_lookup(lookup(&[("MONGODB_URI", "{{resolve:secretsmanager:db}}")]))
                .unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Invalid {
                name: "MONGODB_URI",
                ..
            }
        ));
    }

    #[test]
    fn token_lifetime_defaults_to_an_hour_and_is_checked() {
        let secret = ("JWT_SECRET", "0123456789abcdef0123456789abcdef");
        assert_eq!(
            tokens_from_lookup(lookup(&[secret])).unwrap().ttl(),
            DEFAULT_TOKEN_TTL
        );
        let custom = tokens_from_lookup(lookup(&[secret, ("JWT_TTL_SECONDS", "120")])).unwrap();
        assert_eq!(custom.ttl(), Duration::from_secs(120));
        for bad in ["0", "abc", "-5", "99999999"] {
            assert!(tokens_from_lookup(lookup(&[secret, ("JWT_TTL_SECONDS", bad)])).is_err());
        }
    }
}
