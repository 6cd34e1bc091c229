//! Products: free-text fields with length rules, and the product as stored.

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::id::ProductId;
use crate::money::Money;
use crate::text::length_between;
use crate::validation::{Errors, Invalid, Object, integer, string};

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

/// Units in stock: an integer from 0 to [`MAX_STOCK`], or `None` when the stock is
/// not tracked and the product never runs out.
pub type Stock = Option<u32>;

/// The largest stock a product may be given.
pub const MAX_STOCK: u32 = 1_000_000;

/// Reads a stock value: `null`, or an integer from 0 to [`MAX_STOCK`].
pub fn parse_stock(raw: &RawValue) -> Result<Stock, String> {
    if raw.get().trim() == "null" {
        return Ok(None);
    }
    integer(0, MAX_STOCK)(raw)
        .map(Some)
        .map_err(|_| format!("must be null or an integer from 0 to {MAX_STOCK}"))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: ProductId,
    pub name: ProductName,
    pub description: Description,
    pub price: Money,
    pub category: Category,
    pub stock: Stock,
    /// The version of the catalog fields (name, description, price, category),
    /// starting at 1: what the product's `ETag` names. Stock moves without it.
    #[serde(skip)]
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Product {
    /// The strong entity tag of this version: `"3"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// A line an order cannot have: not enough stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shortage {
    pub product_id: ProductId,
    pub requested: u32,
    pub available: u32,
}

/// A category and how many listed (not archived) products it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryCount {
    pub name: String,
    pub count: u64,
}

/// A JSON merge patch of a product: each field present replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductPatch {
    pub name: Option<ProductName>,
    pub description: Option<Description>,
    pub price: Option<Money>,
    pub category: Option<Category>,
    /// `Some(None)` stops tracking the stock.
    pub stock: Option<Stock>,
}

/// The fields a patch may name.
const PATCHABLE: [&str; 5] = ["name", "description", "price", "category", "stock"];

impl ProductPatch {
    /// Reads a merge patch body; every failing or unknown field is reported at once.
    /// `null` is only meaningful for `stock` (stop tracking): the other fields
    /// cannot be removed, so `null` for them fails their rule.
    pub fn parse(body: &str) -> Result<Self, Invalid> {
        let object = Object::parse_body(body)?;
        let mut errors = Errors::default();
        object.deny_unknown(&PATCHABLE, &mut errors);
        let patch = Self {
            name: object.present("name", &mut errors, string(ProductName::parse)),
            description: object.present("description", &mut errors, string(Description::parse)),
            price: object.present("price", &mut errors, Money::from_json),
            category: object.present("category", &mut errors, string(Category::parse)),
            stock: object.present("stock", &mut errors, parse_stock),
        };
        errors.finish()?;
        Ok(patch)
    }

    /// Whether the patch changes a catalog field, and so the product's version.
    pub fn changes_catalog(&self) -> bool {
        self.name.is_some()
            || self.description.is_some()
            || self.price.is_some()
            || self.category.is_some()
    }

    /// The product with this patch applied at `now` (the version moves on when a
    /// catalog field is named).
    pub fn apply(&self, product: &Product, now: OffsetDateTime) -> Product {
        let mut patched = product.clone();
        if let Some(name) = &self.name {
            patched.name = name.clone();
        }
        if let Some(description) = &self.description {
            patched.description = description.clone();
        }
        if let Some(price) = self.price {
            patched.price = price;
        }
        if let Some(category) = &self.category {
            patched.category = category.clone();
        }
        if let Some(stock) = self.stock {
            patched.stock = stock;
        }
        if self.changes_catalog() {
            patched.version += 1;
        }
        patched.updated_at = now;
        patched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(invalid: Invalid) -> Vec<String> {
        match invalid {
            Invalid::Fields(list) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    fn product() -> Product {
        let at = crate::now();
        Product {
            id: ProductId::new(),
            name: ProductName::parse("Pen".into()).unwrap(),
            description: Description::parse(String::new()).unwrap(),
            price: Money::parse("1.00").unwrap(),
            category: Category::parse("office".into()).unwrap(),
            stock: Some(3),
            version: 4,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_patch_reads_only_the_fields_present_and_null_stock_stops_tracking() {
        let patch = ProductPatch::parse(r#"{"price": 2.5, "stock": null}"#).unwrap();
        assert_eq!(patch.price, Some(Money::parse("2.50").unwrap()));
        assert_eq!(patch.stock, Some(None));
        assert_eq!(patch.name, None);
        assert!(patch.changes_catalog());
        let stock_only = ProductPatch::parse(r#"{"stock": 9}"#).unwrap();
        assert_eq!(stock_only.stock, Some(Some(9)));
        assert!(!stock_only.changes_catalog());
        assert_eq!(ProductPatch::parse("{}").unwrap(), ProductPatch::default());
    }

    #[test]
    fn a_patch_lists_every_failing_or_unknown_field() {
        let invalid =
            ProductPatch::parse(r#"{"id": "x", "name": null, "stock": -1, "price": "1"}"#)
                .unwrap_err();
        assert_eq!(fields(invalid), ["id", "name", "price", "stock"]);
        assert!(matches!(
            ProductPatch::parse("[]"),
            Err(Invalid::Malformed(_))
        ));
    }

    #[test]
    fn applying_a_patch_moves_the_version_only_for_catalog_fields() {
        let before = product();
        let later = before.updated_at + time::Duration::seconds(1);
        let restocked = ProductPatch::parse(r#"{"stock": 0}"#)
            .unwrap()
            .apply(&before, later);
        assert_eq!((restocked.stock, restocked.version), (Some(0), 4));
        assert_eq!(restocked.updated_at, later);
        let renamed = ProductPatch::parse(r#"{"name": "Ink pen", "category": "ink"}"#)
            .unwrap()
            .apply(&before, later);
        assert_eq!(renamed.version, 5);
        assert_eq!(renamed.name.as_str(), "Ink pen");
        assert_eq!(renamed.category.as_str(), "ink");
        assert_eq!(renamed.stock, Some(3), "fields not named are kept");
        assert_eq!(renamed.created_at, before.created_at);
        assert_eq!(renamed.etag(), "\"5\"");
    }

    #[test]
    fn stock_is_null_or_an_integer_up_to_a_million() {
        let read = |text: &str| parse_stock(&serde_json::from_str::<Box<RawValue>>(text).unwrap());
        assert_eq!(read("null"), Ok(None));
        assert_eq!(read("0"), Ok(Some(0)));
        assert_eq!(read("1000000"), Ok(Some(MAX_STOCK)));
        for bad in ["1000001", "-1", "1.5", "\"3\"", "true", "{}"] {
            assert_eq!(
                read(bad),
                Err("must be null or an integer from 0 to 1000000".into()),
                "{bad}"
            );
        }
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
}
