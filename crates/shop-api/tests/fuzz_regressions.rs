//! Inputs that the fuzz targets in fuzz/ found to break a promise, kept here so
//! the normal suite holds the line once they are fixed. Each crashing input is
//! also a seed of its target (fuzz/seeds/TARGET/crash-*). Pure: no database.

use serde_json::value::RawValue;
use shop_api::testing::ShopApp;
use shop_domain::Money;
use shop_store::MemoryStore;

/// Amounts in exponent notation whose mantissa has digits past the 28th decimal
/// place. Their values are not money (they have more than two decimals, or are
/// negative), yet each was accepted: found by the `money` target,
/// fuzz/seeds/money/crash-e8bd8a5f5d9ebeb6cd52355cdfa4967c07802b5f is the first.
const ROUNDED_IN_EXPONENT_FORM: [&str; 5] = [
    // Read as 0.00: -1.4198e-27 is negative and has 31 decimals.
    "-0.0000000000000000000000000000014198E3",
    // Read as 0.00: 1e-28 is not zero.
    "0.00000000000000000000000000001e1",
    // Read as 19.99.
    "19.9900000000000000000000000000001e0",
    // Read as 100.00.
    "1.0000000000000000000000000000000001e2",
    // Read as 999999999.99.
    "999999999.99000000000000000002E0",
];

#[test]
fn exponent_notation_never_rounds_digits_away() {
    for text in ROUNDED_IN_EXPONENT_FORM {
        let parsed = Money::parse(text);
        assert!(parsed.is_err(), "{text} was read as {parsed:?}");
        let raw: Box<RawValue> = serde_json::from_str(text).expect("a JSON number");
        let read = Money::from_json(&raw);
        assert!(read.is_err(), "{text} (JSON) was read as {read:?}");
    }
}

#[tokio::test]
async fn a_price_with_digits_past_the_cents_is_refused_in_exponent_notation_too() {
    let store = MemoryStore::new();
    let app = ShopApp::new(&store);
    let admin = app.user_token("fuzz-admin", true).await;
    for price in ROUNDED_IN_EXPONENT_FORM {
        let created = app.create_product(&admin, "Pen", price, "office").await;
        assert_eq!(created.status, 400, "price {price}: {}", created.text);
        assert_eq!(created.error_fields(), ["price"], "{}", created.text);
    }
}

/// The same prices in plain notation are refused today: the fix must keep it so.
#[tokio::test]
async fn a_price_with_digits_past_the_cents_is_refused_in_plain_notation() {
    let store = MemoryStore::new();
    let app = ShopApp::new(&store);
    let admin = app.user_token("fuzz-admin", true).await;
    for price in [
        "19.9900000000000000000000000000001",
        "0.0000000000000000000000000001",
    ] {
        let created = app.create_product(&admin, "Pen", price, "office").await;
        assert_eq!(created.status, 400, "price {price}: {}", created.text);
        assert_eq!(created.error_fields(), ["price"], "{}", created.text);
    }
}

/// Found by the `bodies` target (fuzz/seeds/bodies/crash-bee64dbf…): a body that
/// repeats a field. The handler reads the last value; whatever it does, the
/// product it creates must carry the price it read, and a refusal is a 400.
#[tokio::test]
async fn a_product_body_that_repeats_a_field_is_priced_from_the_value_read() {
    let store = MemoryStore::new();
    let app = ShopApp::new(&store);
    let admin = app.user_token("fuzz-admin", true).await;
    let body = r#"{"name":"Pen","description":"","price":1e400,"price":19.99,"category":"office","category":"office"}"#;
    let headers = [
        ("content-type", "application/json"),
        ("authorization", &format!("Bearer {admin}")),
    ];
    let created = app.call("POST", "/products", &headers, Some(body)).await;
    match created.status {
        // Read from the answer's text: a JSON float would not show the digits.
        201 => assert!(
            created.text.contains(r#""price":19.99,"#),
            "{}",
            created.text
        ),
        400 => assert_eq!(
            created.header("content-type"),
            Some("application/problem+json")
        ),
        other => panic!("{other}: {}", created.text),
    }
}
