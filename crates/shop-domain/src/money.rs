//! Exact money: parsed from the JSON number's own text, kept as a decimal, never `f64`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// The largest amount the API accepts or produces, in whole currency units.
pub const MAX_MONEY: i64 = 1_000_000_000;

/// An amount of money from 0 to [`MAX_MONEY`] with at most two decimal places.
///
/// Every value of this type is valid; arithmetic is checked and exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a JSON value's raw text. Only a JSON number is money: a string,
    /// `null` or an object is refused, and the digits are read exactly as written.
    pub fn from_json(raw: &RawValue) -> Result<Self, String> {
        let text = raw.get().trim();
        let looks_numeric = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
        if !looks_numeric {
            return Err("must be a number".into());
        }
        Self::parse(text)
    }

    /// Parses decimal text (`19.99`, `20`, `1e3`) exactly.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = match text.split_once(['e', 'E']) {
            Some((digits, exponent)) => exact_scientific(digits, exponent),
            None => Decimal::from_str_exact(text).ok(),
        };
        let value = parsed.ok_or_else(|| {
            format!("must be a number from 0 to {MAX_MONEY} with at most 2 decimal places")
        })?;
        if text.starts_with('-') && !value.is_zero() {
            return Err("must not be negative".into());
        }
        Self::from_decimal(value.abs())
    }

    /// Checks the range and the number of decimal places of an exact value.
    pub fn from_decimal(value: Decimal) -> Result<Self, String> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err("must not be negative".into());
        }
        if value > Decimal::from(MAX_MONEY) {
            return Err(format!("must be at most {MAX_MONEY}"));
        }
        let normalized = value.normalize();
        if normalized.scale() > 2 {
            return Err("must have at most 2 decimal places".into());
        }
        let mut value = normalized.abs();
        value.rescale(2);
        Ok(Money(value))
    }

    /// The amount in hundredths (cents), the form it is stored in.
    pub fn cents(self) -> i64 {
        // Scale is always 2 and the value at most 10^9, so the mantissa fits.
        i64::try_from(self.0.mantissa()).expect("money is bounded")
    }

    /// Rebuilds an amount from stored cents.
    pub fn from_cents(cents: i64) -> Result<Self, String> {
        Self::from_decimal(Decimal::new(cents, 2))
    }

    /// `self × quantity`, or `None` when the result leaves the money range.
    pub fn checked_mul(self, quantity: u32) -> Option<Money> {
        let product = self.0.checked_mul(Decimal::from(quantity))?;
        Money::from_decimal(product).ok()
    }

    /// `self + other`, or `None` when the result leaves the money range.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::from_decimal(self.0.checked_add(other.0)?).ok()
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

/// `digits` × 10^`exponent`, exactly, or `None` when that is not a decimal of at
/// most 28 places (a value with more digits than that is refused, never rounded:
/// `19.9900000000000000000000000000001e0` is not 19.99).
fn exact_scientific(digits: &str, exponent: &str) -> Option<Decimal> {
    let digits = Decimal::from_str_exact(digits).ok()?;
    if digits.is_zero() {
        return Some(Decimal::ZERO);
    }
    let exponent: i64 = exponent.parse().ok()?;
    let mut mantissa = digits.mantissa();
    let mut scale = i64::from(digits.scale()).checked_sub(exponent)?;
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    // Any other value this far from 1 is not money; the bound keeps the loop short.
    if !(-40..=28).contains(&scale) {
        return None;
    }
    while scale < 0 {
        mantissa = mantissa.checked_mul(10)?;
        scale += 1;
    }
    Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale).ok()?).ok()
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Money {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

/// Written as a JSON number with exactly two decimals (`59.97`, `20.00`), straight
/// from the decimal's digits: no float ever sits between the value and the wire.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    fn json_money(json: &str) -> Result<Money, String> {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        Money::from_json(&raw)
    }

    #[test]
    fn ten_cents_plus_twenty_cents_is_exactly_thirty_cents() {
        let sum = money("0.10").checked_add(money("0.20")).unwrap();
        assert_eq!(sum, money("0.30"));
        assert_eq!(serde_json::to_string(&sum).unwrap(), "0.30");
    }

    #[test]
    fn three_times_19_99_is_exactly_59_97() {
        let total = money("19.99").checked_mul(3).unwrap();
        assert_eq!(total.to_string(), "59.97");
        assert_eq!(total.cents(), 5997);
    }

    #[test]
    fn accepts_the_edges_of_the_range() {
        assert_eq!(money("0").to_string(), "0.00");
        assert_eq!(money("1000000000").to_string(), "1000000000.00");
        assert_eq!(money("999999999.99").cents(), 99_999_999_999);
        assert_eq!(money("0.01").cents(), 1);
    }

    #[test]
    fn refuses_one_past_the_edges() {
        assert_eq!(
            Money::parse("1000000000.01").unwrap_err(),
            "must be at most 1000000000"
        );
        assert_eq!(Money::parse("-0.01").unwrap_err(), "must not be negative");
        assert_eq!(
            Money::parse("0.001").unwrap_err(),
            "must have at most 2 decimal places"
        );
        assert_eq!(
            Money::parse("19.999").unwrap_err(),
            "must have at most 2 decimal places"
        );
    }

    #[test]
    fn trailing_zeros_do_not_count_as_decimal_places() {
        assert_eq!(money("19.9900").to_string(), "19.99");
    }

    #[test]
    fn exponent_notation_is_read_exactly() {
        assert_eq!(money("1e3").to_string(), "1000.00");
        assert!(
            Money::parse("1e400")
                .unwrap_err()
                .starts_with("must be a number from 0")
        );
        assert_eq!(money("1999E-2").to_string(), "19.99");
        assert!(Money::parse("1e-3").is_err());
        assert_eq!(money("1.5e+2").to_string(), "150.00");
        assert_eq!(money("0e999").to_string(), "0.00");
        assert_eq!(money("-0.0e5").to_string(), "0.00");
        // 10^27 × 10^-29: a long mantissa that still makes a cent.
        assert_eq!(
            money("1000000000000000000000000000e-29").to_string(),
            "0.01"
        );
        // Digits past what a decimal holds are refused, never rounded away.
        for text in [
            "19.9900000000000000000000000000001e0",
            "1e99999999999999999999",
        ] {
            assert!(Money::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn digits_beyond_float_precision_are_not_rounded_away() {
        // As an f64 this would read as 0.1 and slip through.
        assert_eq!(
            json_money("0.1000000000000000000001").unwrap_err(),
            "must have at most 2 decimal places"
        );
    }

    #[test]
    fn only_a_json_number_is_money() {
        for json in [r#""19.99""#, "null", "true", r#"{"$gt": 0}"#, "[1]"] {
            assert_eq!(json_money(json).unwrap_err(), "must be a number", "{json}");
        }
        assert_eq!(json_money("19.99").unwrap(), money("19.99"));
    }

    #[test]
    fn products_beyond_the_range_are_refused() {
        assert!(money("1000000000").checked_mul(2).is_none());
        assert!(money("999999999.99").checked_add(money("0.02")).is_none());
    }

    #[test]
    fn cents_round_trip() {
        assert_eq!(Money::from_cents(5997).unwrap(), money("59.97"));
        assert!(Money::from_cents(-1).is_err());
    }
}
