//! What a fuzzed body's answer must be: which bodies a handler accepts, and
//! how a created product or order must be priced.

use serde::Deserialize;
use serde_json::value::RawValue;
use shop_domain::money::Money;
use shop_domain::validation::{Errors, Object, string};
use shop_domain::{Email, Password, Username};

/// The products every input's store holds, as (id, price): fixed ids, so that
/// seeds can order products that exist; prices at the edges of the money range,
/// so that totals can reach its end.
pub const PRODUCTS: [(&str, &str); 3] = [
    ("64b7f0c2a1b2c3d4e5f60701", "19.99"),
    ("64b7f0c2a1b2c3d4e5f60702", "0.01"),
    ("64b7f0c2a1b2c3d4e5f60703", "1000000000"),
];

/// Whether `POST /users/register` would accept `body` and go on to hash.
pub(super) fn registration_is_valid(body: &str) -> bool {
    let Ok(object) = Object::parse_body(body) else {
        return false;
    };
    let mut errors = Errors::default();
    object.deny_unknown(&["username", "email", "password"], &mut errors);
    object.required("username", &mut errors, string(Username::parse));
    object.required("email", &mut errors, string(Email::parse));
    object.required("password", &mut errors, string(Password::parse));
    errors.finish().is_ok()
}

/// Whether `POST /users/login` would accept `body` and go on to verify a
/// password: both fields strings of 1–1024 characters, nothing else.
pub(super) fn login_is_valid(body: &str) -> bool {
    let Ok(object) = Object::parse_body(body) else {
        return false;
    };
    let within = |value: String| match value.chars().count() {
        1..=1024 => Ok(()),
        _ => Err(String::new()),
    };
    let mut errors = Errors::default();
    object.deny_unknown(&["username", "password"], &mut errors);
    object.required("username", &mut errors, string(within));
    object.required("password", &mut errors, string(within));
    errors.finish().is_ok()
}

pub(super) fn json_object(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    serde_json::from_str(text).map_err(|e| format!("the answer is not a JSON object ({e}): {text}"))
}

/// Reads a JSON number written by the API: exactly two decimals, a valid amount.
fn written_money(raw: &RawValue) -> Result<Money, String> {
    let text = raw.get();
    let two_decimals = text
        .split_once('.')
        .is_some_and(|(whole, cents)| cents.len() == 2 && !whole.is_empty());
    if !two_decimals {
        return Err(format!("{text} is not written with exactly two decimals"));
    }
    Money::from_json(raw).map_err(|e| format!("{text}: {e}"))
}

#[derive(Deserialize)]
struct PriceField<'a> {
    #[serde(borrow)]
    price: &'a RawValue,
}

/// A created product has the price that was sent, written with two decimals.
/// The price sent is read as the handler reads the body (with `Object`, where a
/// repeated field's last value counts), since a fuzzed body may repeat it.
pub(super) fn check_created_product(sent: &str, answer: &str) -> Result<(), String> {
    let object = Object::parse_body(sent).map_err(|e| format!("a 201 for {e:?}"))?;
    let mut errors = Errors::default();
    let asked = object
        .required("price", &mut errors, Money::from_json)
        .ok_or("a 201 for a body without a valid price")?;
    let created: PriceField<'_> =
        serde_json::from_str(answer).map_err(|e| format!("a 201 without a price: {e}"))?;
    let stored = written_money(created.price)?;
    if asked == stored {
        Ok(())
    } else {
        Err(format!("sent {asked} but created {}", created.price))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedOrder<'a> {
    #[serde(borrow)]
    products: Vec<CreatedLine<'a>>,
    #[serde(borrow)]
    total_price: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedLine<'a> {
    product_id: String,
    quantity: u32,
    #[serde(borrow)]
    unit_price: &'a RawValue,
    #[serde(borrow)]
    line_total: &'a RawValue,
}

/// A created order is priced from the catalogue, in whole cents:
/// `lineTotal = unitPrice × quantity` and `totalPrice = Σ lineTotal`.
pub(super) fn check_created_order(answer: &str) -> Result<(), String> {
    let order: CreatedOrder<'_> =
        serde_json::from_str(answer).map_err(|e| format!("a 201 that is not an order: {e}"))?;
    let mut total: i128 = 0;
    for line in &order.products {
        let unit = written_money(line.unit_price)?;
        let listed = PRODUCTS
            .iter()
            .find(|(id, _)| *id == line.product_id)
            .and_then(|(_, price)| Money::parse(price).ok());
        if listed != Some(unit) {
            return Err(format!("{} priced at {unit}", line.product_id));
        }
        let line_total = written_money(line.line_total)?;
        let expected = i128::from(unit.cents()) * i128::from(line.quantity);
        if i128::from(line_total.cents()) != expected {
            return Err(format!("{unit} × {} is not {line_total}", line.quantity));
        }
        total += expected;
    }
    let written = written_money(order.total_price)?;
    if i128::from(written.cents()) == total {
        Ok(())
    } else {
        Err(format!("the lines add up to {total} cents, not {written}"))
    }
}
