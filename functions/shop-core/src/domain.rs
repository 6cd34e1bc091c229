//! Domain newtypes: a value of one of these types has passed its rule.

use std::fmt;

use mongodb::bson::oid::ObjectId;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::money::Money;

/// Counts characters (Unicode scalar values), the unit every length rule uses.
fn length_between(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    match (min, max) {
        (0, _) if len > max => Err(format!("must be at most {max} characters")),
        _ if len < min || len > max => Err(format!("must be {min}–{max} characters")),
        _ => Ok(()),
    }
}

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

/// A free-text field with a length rule (product name, description, category).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    pub fn parse(value: String) -> Result<Self, String> {
        length_between(&value, MIN, MAX)?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub type ProductName = Text<1, 200>;
pub type Description = Text<0, 5000>;
pub type Category = Text<1, 100>;

macro_rules! object_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(ObjectId);

        impl $name {
            pub fn new() -> Self {
                Self(ObjectId::new())
            }

            /// Only the canonical form: 24 lowercase hexadecimal characters.
            pub fn parse(value: &str) -> Result<Self, String> {
                let canonical = value.len() == 24
                    && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                match canonical.then(|| ObjectId::parse_str(value)) {
                    Some(Ok(id)) => Ok(Self(id)),
                    _ => Err("must be 24 lowercase hexadecimal characters".into()),
                }
            }

            pub fn object_id(self) -> ObjectId {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<ObjectId> for $name {
            fn from(id: ObjectId) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

object_id!(
    /// A user's id, also the `sub` of their tokens.
    UserId
);
object_id!(
    /// A product's id.
    ProductId
);
object_id!(
    /// An order's id.
    OrderId
);

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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: ProductId,
    pub name: ProductName,
    pub description: Description,
    pub price: Money,
    pub category: Category,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Timestamps are kept to the millisecond, the precision MongoDB stores.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .expect("a whole number of milliseconds is a valid nanosecond")
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

    #[test]
    fn text_limits_count_characters_not_bytes() {
        assert!(ProductName::parse("é".repeat(200)).is_ok());
        assert!(ProductName::parse("é".repeat(201)).is_err());
        assert!(ProductName::parse(String::new()).is_err());
        assert!(Description::parse(String::new()).is_ok());
        assert_eq!(
            Description::parse("d".repeat(5001)).unwrap_err(),
            "must be at most 5000 characters"
        );
        assert!(Category::parse("c".repeat(100)).is_ok());
        assert!(Category::parse("c".repeat(101)).is_err());
    }

    #[test]
    fn ids_accept_only_24_lowercase_hex_characters() {
        let id = ProductId::new();
        assert_eq!(ProductId::parse(&id.to_string()).unwrap(), id);
        for bad in [
            "",
            "123",
            "0123456789abcdef0123456",
            "0123456789ABCDEF01234567",
            "0123456789abcdef012345678",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert!(ProductId::parse(bad).is_err(), "{bad}");
        }
    }
}
