//! Products: free-text fields with length rules, and the product as stored.

use serde::Serialize;
use time::OffsetDateTime;

use crate::id::ProductId;
use crate::money::Money;
use crate::text::length_between;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
