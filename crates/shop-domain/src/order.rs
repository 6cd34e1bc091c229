//! Orders: the request a buyer sends, and pricing it exactly from the catalogue.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use crate::lifecycle::{OrderStatus, StatusChange};
use crate::money::{MAX_MONEY, Money};
use crate::validation::{Errors, FieldError, Invalid, Object, array, integer, string};
use crate::{OrderId, ProductId, UserId};

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: u32 = 1000;

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// A validated `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub lines: Vec<LineRequest>,
}

/// Fields the server sets: a body carrying them is refused, naming them.
const SERVER_FIELDS: [&str; 8] = [
    "userId",
    "totalPrice",
    "id",
    "status",
    "createdAt",
    "name",
    "unitPrice",
    "lineTotal",
];

/// Reports unknown fields, in plainer words where the server sets the field.
fn refuse_unknown(object: &Object<'_>, allowed: &[&str], errors: &mut Errors) {
    for field in object.unknown_fields(allowed) {
        let message = if SERVER_FIELDS.contains(&field) {
            "is set by the server and must not be sent"
        } else {
            "is not a known field"
        };
        errors.push(object.field_name(field), message);
    }
}

impl OrderRequest {
    pub fn parse(body: &str) -> Result<Self, Invalid> {
        let object = Object::parse_body(body)?;
        let mut errors = Errors::default();
        refuse_unknown(&object, &["products"], &mut errors);
        let raw_lines = object.required("products", &mut errors, |raw| {
            let lines = array(raw)?;
            match lines.len() {
                0 => Err("must list at least one product".into()),
                n if n > MAX_LINES => Err(format!("must list at most {MAX_LINES} products")),
                _ => Ok(lines),
            }
        });
        let mut lines: Vec<LineRequest> = Vec::new();
        for (i, raw) in raw_lines.unwrap_or_default().into_iter().enumerate() {
            let path = format!("products[{i}]");
            let line = match Object::from_raw(path.clone(), raw) {
                Ok(line) => line,
                Err(message) => {
                    errors.push(path, message);
                    continue;
                }
            };
            refuse_unknown(&line, &["productId", "quantity"], &mut errors);
            let product_id =
                line.required("productId", &mut errors, string(|s| ProductId::parse(&s)));
            let quantity = line.required("quantity", &mut errors, integer(1, MAX_QUANTITY));
            if let Some(id) = product_id {
                if lines.iter().any(|l| l.product_id == id) {
                    errors.push(
                        line.field_name("productId"),
                        "appears more than once in this order",
                    );
                }
                if let Some(quantity) = quantity {
                    lines.push(LineRequest {
                        product_id: id,
                        quantity,
                    });
                }
            }
        }
        errors.finish()?;
        Ok(Self { lines })
    }

    pub fn product_ids(&self) -> Vec<ProductId> {
        self.lines.iter().map(|l| l.product_id).collect()
    }

    /// A digest of what was asked for, to tell a retry from a different request
    /// sent with the same idempotency key.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for line in &self.lines {
            hasher.update(line.product_id.to_string());
            hasher.update(b":");
            hasher.update(line.quantity.to_string());
            hasher.update(b";");
        }
        format!("{:x}", hasher.finalize())
    }
}

/// A product's name and current price, as the product function reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    pub id: ProductId,
    pub name: String,
    pub price: Money,
}

impl CatalogEntry {
    /// Reads one item of a `GET /products` answer, its price from the digits.
    pub fn from_json(raw: &RawValue) -> Result<Self, String> {
        let object = Object::from_raw(String::new(), raw)?;
        let mut errors = Errors::default();
        let id = object.required("id", &mut errors, string(|s| ProductId::parse(&s)));
        let name = object.required("name", &mut errors, string(Ok));
        let price = object.required("price", &mut errors, Money::from_json);
        match (id, name, price) {
            (Some(id), Some(name), Some(price)) => Ok(Self { id, name, price }),
            _ => Err("a product in the answer is malformed".into()),
        }
    }
}

/// A bought line: the product's name and price at the time of purchase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: ProductId,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub products: Vec<OrderLine>,
    pub total_price: Money,
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Oldest first, starting with `created`.
    pub status_history: Vec<StatusChange>,
}

impl Order {
    /// What a pending order holds until its stock is reserved and its lines
    /// priced: the requested lines, unpriced.
    pub fn pending(
        id: OrderId,
        user_id: UserId,
        request: &OrderRequest,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            user_id,
            products: request
                .lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    name: String::new(),
                    unit_price: Money::ZERO,
                    quantity: l.quantity,
                    line_total: Money::ZERO,
                })
                .collect(),
            total_price: Money::ZERO,
            status: OrderStatus::Pending,
            created_at: at,
            updated_at: at,
            status_history: Vec::new(),
        }
    }

    /// The pending order, priced and placed by `by` at `at`: `created`, with
    /// its history starting there.
    pub fn created(
        self,
        products: Vec<OrderLine>,
        total_price: Money,
        by: UserId,
        at: OffsetDateTime,
    ) -> Self {
        let status = OrderStatus::Created;
        Self {
            products,
            total_price,
            status,
            updated_at: at,
            status_history: vec![StatusChange { status, at, by }],
            ..self
        }
    }
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PricingError {
    /// These products (by id, in the order's own order) do not exist.
    UnknownProducts(Vec<String>),
    /// The total is beyond the money range; the field error names `products`.
    TooLarge(FieldError),
}

/// Prices every line from the catalogue: `lineTotal = unitPrice × quantity`,
/// `totalPrice = Σ lineTotal`, exactly.
pub fn price_lines(
    request: &OrderRequest,
    catalog: &[CatalogEntry],
) -> Result<(Vec<OrderLine>, Money), PricingError> {
    let by_id: HashMap<ProductId, &CatalogEntry> = catalog.iter().map(|e| (e.id, e)).collect();
    let missing: Vec<String> = request
        .lines
        .iter()
        .filter(|l| !by_id.contains_key(&l.product_id))
        .map(|l| l.product_id.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(PricingError::UnknownProducts(missing));
    }
    let too_large = || {
        let message = format!("the order total must be at most {MAX_MONEY}");
        PricingError::TooLarge(FieldError::new("products", message))
    };
    let mut total = Money::ZERO;
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        let entry = by_id[&line.product_id];
        let line_total = entry
            .price
            .checked_mul(line.quantity)
            .ok_or_else(too_large)?;
        total = total.checked_add(line_total).ok_or_else(too_large)?;
        lines.push(OrderLine {
            product_id: line.product_id,
            name: entry.name.clone(),
            unit_price: entry.price,
            quantity: line.quantity,
            line_total,
        });
    }
    Ok((lines, total))
}
