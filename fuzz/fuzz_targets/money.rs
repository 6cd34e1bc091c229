//! Money parsing: `Money::parse` and `Money::from_json` never panic on any text,
//! and whatever they accept is a valid amount that round-trips through its
//! two-decimal form.
//!
//! For text that is a JSON number (what a request body carries), the answer is
//! also checked against a reference reading of the number's digits done here with
//! plain integers: an accepted number must have exactly the reference's value, and
//! a number the reference refuses (negative, more than two decimals, past the
//! range) must be refused. Where the number fits `rust_decimal` (at most 28
//! written digits and an exponent of at most 28), a number the reference accepts
//! must be accepted too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use shop_domain::money::{MAX_MONEY, Money};

/// The largest amount in cents.
const MAX_CENTS: i128 = MAX_MONEY as i128 * 100;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_parse(text);
    check_from_json(text);
});

/// `Money::parse` on any text: an accepted amount is in range, written with two
/// decimals, and exact under arithmetic; a JSON number matches the reference.
fn check_parse(text: &str) {
    let parsed = Money::parse(text);
    if let Ok(money) = parsed {
        check_amount(money);
        assert!(
            !text.starts_with('-') || money.cents() == 0,
            "{text:?} is negative but was read as {money}"
        );
    }
    if let Some(number) = JsonNumber::read(text) {
        check_against_reference(text, &number, parsed.ok());
    }
}

/// `Money::from_json` on any JSON value: only a number is money.
fn check_from_json(text: &str) {
    let Ok(raw) = serde_json::from_str::<&RawValue>(text) else {
        return;
    };
    let read = Money::from_json(raw);
    match JsonNumber::read(raw.get().trim()) {
        Some(number) => check_against_reference(raw.get(), &number, read.ok()),
        None => assert_eq!(
            read,
            Err("must be a number".to_string()),
            "{text:?} is not a JSON number"
        ),
    }
}

/// What every accepted amount must satisfy.
fn check_amount(money: Money) {
    let cents = i128::from(money.cents());
    assert!((0..=MAX_CENTS).contains(&cents), "{money} is out of range");
    let written = money.to_string();
    let (whole, decimals) = written.split_once('.').expect("two decimals");
    assert!(
        decimals.len() == 2 && !whole.is_empty(),
        "{written} is not written with two decimals"
    );
    assert_eq!(
        Money::parse(&written),
        Ok(money),
        "{written} does not re-parse"
    );
    assert_eq!(Money::from_cents(money.cents()), Ok(money));
    assert_eq!(serde_json::to_string(&money).expect("serialises"), written);
    for quantity in [0, 1, 2, 3, 999, 1000, u32::MAX] {
        let expected = cents * i128::from(quantity);
        let product = money.checked_mul(quantity).map(|m| i128::from(m.cents()));
        assert_eq!(
            product,
            (expected <= MAX_CENTS).then_some(expected),
            "{money} × {quantity}"
        );
    }
    let doubled = money.checked_add(money).map(|m| i128::from(m.cents()));
    assert_eq!(
        doubled,
        (2 * cents <= MAX_CENTS).then_some(2 * cents),
        "{money} + {money}"
    );
}

fn check_against_reference(text: &str, number: &JsonNumber, read: Option<Money>) {
    let expected = number.cents();
    match (read, expected) {
        (Some(money), Some(cents)) => assert_eq!(
            i128::from(money.cents()),
            cents,
            "{text:?} was read as {money}"
        ),
        (Some(money), None) => panic!("{text:?} was accepted as {money} but is not money"),
        (None, Some(cents)) => assert!(
            !number.fits_rust_decimal(),
            "{text:?} ({cents} cents) was refused"
        ),
        (None, None) => {}
    }
}

/// A JSON number as written: `-? int (. frac)? (e exp)?`.
struct JsonNumber<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
    /// The exponent, clamped to ±10^6 (far past anything that could be money).
    exponent: i64,
    exponent_digits: usize,
}

impl<'a> JsonNumber<'a> {
    /// Reads the JSON number grammar strictly (RFC 8259 section 6), or `None`.
    fn read(text: &'a str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, rest) = rest.split_at(int_len);
        if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
            return None;
        }
        let (frac, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let len = after.bytes().take_while(u8::is_ascii_digit).count();
                if len == 0 {
                    return None;
                }
                after.split_at(len)
            }
            None => ("", rest),
        };
        let (exponent, exponent_digits) = match rest.strip_prefix(['e', 'E']) {
            Some(after) => read_exponent(after)?,
            None if rest.is_empty() => (0, 0),
            None => return None,
        };
        Some(Self {
            negative,
            int,
            frac,
            exponent,
            exponent_digits,
        })
    }

    /// Within what `rust_decimal` represents exactly as written: at most 28
    /// digits, an exponent of at most 28 either way, and at most 28 decimal
    /// places once the exponent is applied (`0.5e-28` has 29).
    fn fits_rust_decimal(&self) -> bool {
        self.int.len() + self.frac.len() <= 28
            && self.exponent.abs() <= 28
            && self.exponent_digits <= 2
            && self.frac.len() as i64 - self.exponent <= 28
    }

    /// The amount in cents, if it is money: not negative (but `-0` is zero), at
    /// most two decimals once trailing zeros are dropped, at most `MAX_MONEY`.
    fn cents(&self) -> Option<i128> {
        let digits = format!("{}{}", self.int, self.frac);
        let significant = digits.trim_start_matches('0');
        let trimmed = significant.trim_end_matches('0');
        if trimmed.is_empty() {
            return Some(0);
        }
        if self.negative {
            return None;
        }
        // value = trimmed × 10^power
        let dropped = (significant.len() - trimmed.len()) as i64;
        let power = self.exponent - self.frac.len() as i64 + dropped;
        let shift = power + 2;
        if shift < 0 {
            return None;
        }
        // More than 12 digits of cents is past the range whatever they are.
        if trimmed.len() as i64 + shift > 12 {
            return None;
        }
        let mut cents: i128 = trimmed.parse().ok()?;
        for _ in 0..shift {
            cents *= 10;
        }
        (cents <= MAX_CENTS).then_some(cents)
    }
}

/// `[+-]digits` after the `e`: the value (clamped) and how many digits it has
/// after leading zeros.
fn read_exponent(text: &str) -> Option<(i64, usize)> {
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    let value = if significant.len() > 7 {
        1_000_000
    } else {
        significant.parse::<i64>().unwrap_or(0).min(1_000_000)
    };
    Some((sign * value, significant.len()))
}
