//! Users: the rules on what a user registers with, and the user as stored.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::id::UserId;
use crate::text::length_between;

/// 3–32 characters of `A-Z a-z 0-9 _ . -`; unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: String) -> Result<Self, String> {
        length_between(&value, 3, 32)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("may contain only letters, digits, '_', '.' and '-'".into());
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A valid address of at most 254 characters, kept lower-cased: a dot-separated
/// local part of the usual characters, an `@`, and a domain of two or more labels.
/// (RFC 5321's 64-character bound on the local part is not checked: such an address
/// is harmless to store, and openapi.yaml's pattern, which the API is fuzzed from,
/// could not state it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: String) -> Result<Self, String> {
        const INVALID: &str = "must be a valid email address";
        if value.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let (local, domain) = value.rsplit_once('@').ok_or(INVALID)?;
        let local_ok = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !(local_ok && domain_ok) {
            return Err(INVALID.into());
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8–128 characters. Never logged, never serialised: only its hash is stored.
pub struct Password(SecretString);

impl Password {
    pub fn parse(value: String) -> Result<Self, String> {
        length_between(&value, 8, 128)?;
        Ok(Self(SecretString::from(value)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
}

/// A registered user as stored. The hash never leaves the storage and auth
/// layers, and `Debug` leaves it out.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub role: Role,
    /// Switched off by an operator: its tokens and logins are refused.
    pub disabled: bool,
    /// Moves on with every password change; a token names the generation it was
    /// issued in, and only the current one is accepted.
    pub token_generation: u32,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("token_generation", &self.token_generation)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What the API shows of a user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    pub id: UserId,
    pub username: &'a str,
    pub email: &'a str,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn view(&self) -> UserView<'_> {
        UserView {
            id: self.id,
            username: self.username.as_str(),
            email: self.email.as_str(),
            role: self.role,
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_length_is_3_to_32_characters() {
        assert!(Username::parse("ab".into()).is_err());
        assert!(Username::parse("abc".into()).is_ok());
        assert!(Username::parse("a".repeat(32)).is_ok());
        assert_eq!(
            Username::parse("a".repeat(33)).unwrap_err(),
            "must be 3–32 characters"
        );
    }

    #[test]
    fn username_allows_only_its_alphabet() {
        assert!(Username::parse("Al_i.c-e9".into()).is_ok());
        for bad in ["ali ce", "alice!", "ålice", "al@ce", "al$ce"] {
            assert!(Username::parse(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn username_key_ignores_letter_case() {
        let a = Username::parse("Alice".into()).unwrap();
        let b = Username::parse("aLICE".into()).unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "Alice");
    }

    #[test]
    fn email_is_lower_cased_and_bounded_at_254() {
        assert_eq!(
            Email::parse("Alice@Example.COM".into()).unwrap().as_str(),
            "alice@example.com"
        );
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let at_limit = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(at_limit.clone()).is_ok());
        assert_eq!(
            Email::parse(format!("x{at_limit}")).unwrap_err(),
            "must be at most 254 characters"
        );
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            ".a@b.com",
            "a.@b.com",
        ] {
            assert!(Email::parse(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_is_8_to_128_characters_and_never_debug_printed() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("p".repeat(128)).is_ok());
        assert!(Password::parse("p".repeat(129)).is_err());
        let p = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
