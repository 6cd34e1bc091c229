//! Properties of exact money, checked on generated amounts (proptest): the text
//! forms round-trip, parsing refuses what is not money, and arithmetic is integer
//! arithmetic on cents. Pure: no database.

use proptest::prelude::*;
use shop_domain::money::{MAX_MONEY, Money};

/// The largest amount, in cents.
const MAX_CENTS: i64 = MAX_MONEY * 100;

/// Enough cases to cover the range's shape while the suite stays fast.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Any amount, in cents: spread over the whole range, with the edges and small
/// amounts (where decimal mistakes show) drawn more often.
fn cents() -> impl Strategy<Value = i64> {
    prop_oneof![
        0..=MAX_CENTS,
        0..=10_000i64,
        Just(0),
        Just(1),
        Just(MAX_CENTS),
        Just(MAX_CENTS - 1),
    ]
}

fn money(cents: i64) -> Money {
    Money::from_cents(cents).expect("cents in range")
}

/// `cents` written the way a person would: `19.99`, `20.00`.
fn two_decimals(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_amount_round_trips_through_its_two_decimal_text(cents in cents()) {
        let text = two_decimals(cents);
        let parsed = Money::parse(&text).expect("two decimals in range parse");
        prop_assert_eq!(parsed, money(cents));
        prop_assert_eq!(parsed.cents(), cents);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn serialising_and_parsing_again_is_the_identity(cents in cents()) {
        let amount = money(cents);
        let json = serde_json::to_string(&amount).expect("money serialises");
        let (_, decimals) = json.split_once('.').expect("a decimal point");
        prop_assert_eq!(decimals.len(), 2, "{} has two decimals", json);
        let raw: Box<serde_json::value::RawValue> =
            serde_json::from_str(&json).expect("the output is JSON");
        prop_assert_eq!(Money::from_json(&raw), Ok(amount));
    }

    #[test]
    fn equal_amounts_in_other_notations_read_the_same(cents in cents(), zeros in 0usize..6) {
        // 1999 cents: 19.99, 19.9900, 1999e-2, 0.1999e2
        let amount = money(cents);
        let padded = format!("{}{}", two_decimals(cents), "0".repeat(zeros));
        prop_assert_eq!(Money::parse(&padded), Ok(amount));
        prop_assert_eq!(Money::parse(&format!("{cents}e-2")), Ok(amount));
        prop_assert_eq!(Money::parse(&format!("{cents}E-2")), Ok(amount));
    }

    #[test]
    fn parsing_never_panics(text in any::<String>()) {
        if let Ok(amount) = Money::parse(&text) {
            prop_assert!((0..=MAX_CENTS).contains(&amount.cents()));
        }
    }

    #[test]
    fn parsing_number_like_text_never_panics(text in "[-+]?[0-9_]{0,40}(\\.[0-9_]{0,40})?([eE][-+]?[0-9]{0,5})?") {
        if let Ok(amount) = Money::parse(&text) {
            prop_assert!((0..=MAX_CENTS).contains(&amount.cents()));
            prop_assert_eq!(Money::parse(&amount.to_string()), Ok(amount));
        }
    }

    #[test]
    fn more_than_two_decimals_are_refused(cents in cents(), extra in 1u32..10, digits in 1u32..10) {
        // A non-zero digit past the second decimal place.
        let text = format!("{}{}{}", two_decimals(cents), "0".repeat(extra as usize - 1), digits);
        prop_assert!(Money::parse(&text).is_err(), "{} was accepted", text);
    }

    #[test]
    fn negative_amounts_are_refused(cents in 1..=MAX_CENTS) {
        let text = format!("-{}", two_decimals(cents));
        prop_assert_eq!(Money::parse(&text), Err("must not be negative".to_string()));
        prop_assert!(Money::from_cents(-cents).is_err());
    }

    #[test]
    fn amounts_past_the_range_are_refused(over in 1..=i64::MAX / 1000) {
        let cents = MAX_CENTS.saturating_add(over);
        prop_assert!(Money::parse(&two_decimals(cents)).is_err());
        prop_assert!(Money::from_cents(cents).is_err());
    }

    #[test]
    fn multiplying_is_exact_integer_arithmetic_on_cents(cents in cents(), quantity in any::<u32>()) {
        let exact = i128::from(cents) * i128::from(quantity);
        let expected = (exact <= i128::from(MAX_CENTS)).then_some(exact);
        let product = money(cents).checked_mul(quantity).map(|m| i128::from(m.cents()));
        prop_assert_eq!(product, expected);
    }

    #[test]
    fn small_quantities_multiply_exactly(cents in 0..=100_000i64, quantity in 0u32..=1000) {
        let product = money(cents).checked_mul(quantity).expect("within range");
        prop_assert_eq!(product.cents(), cents * i64::from(quantity));
    }

    #[test]
    fn adding_is_exact_integer_arithmetic_on_cents(a in cents(), b in cents()) {
        let exact = a + b;
        let expected = (exact <= MAX_CENTS).then_some(exact);
        let sum = money(a).checked_add(money(b)).map(Money::cents);
        prop_assert_eq!(sum, expected);
        // Addition commutes.
        prop_assert_eq!(money(a).checked_add(money(b)), money(b).checked_add(money(a)));
    }

    #[test]
    fn a_sum_equals_the_parsed_decimal_sum(a in 0..=1_000_000i64, b in 0..=1_000_000i64) {
        // 0.10 + 0.20 == 0.30, in general: adding the parsed amounts gives the
        // amount whose text is the decimal sum.
        let sum = Money::parse(&two_decimals(a))
            .and_then(|x| Ok(x.checked_add(Money::parse(&two_decimals(b))?)))
            .expect("both parse");
        prop_assert_eq!(sum, Some(Money::parse(&two_decimals(a + b)).expect("the sum parses")));
    }

    #[test]
    fn order_follows_the_cents(a in cents(), b in cents()) {
        prop_assert_eq!(money(a).cmp(&money(b)), a.cmp(&b));
    }
}

#[test]
fn ten_cents_and_twenty_cents_are_thirty_cents_as_binary_floats_are_not() {
    let sum = Money::parse("0.10")
        .ok()
        .and_then(|a| a.checked_add(Money::parse("0.20").ok()?));
    assert_eq!(sum, Money::parse("0.30").ok());
    assert_ne!(0.1_f64 + 0.2_f64, 0.3_f64, "the float result this avoids");
}
