//! Request-body validation, end to end: arbitrary bodies sent as JSON through the
//! real handlers of `POST /users/register`, `POST /users/login`, `POST /products`
//! (as an admin) and `POST /orders` (as a customer), over the in-memory store.
//!
//! The input's first byte picks the endpoint (`r`, `l`, `p`, `o`, or any byte by
//! its value, see `Endpoint::from_byte`); the rest, read as UTF-8 (invalid
//! sequences replaced, as a JSON body can only be text), is the body.
//!
//! Checked: no 5xx, every 4xx is an application/problem+json object carrying its
//! status, every 2xx is JSON, and a created product or order is priced exactly.
//!
//! Register and login bodies that pass validation are skipped: past validation
//! those endpoints spend ~20 ms on Argon2, which would slow the fuzzer a
//! thousandfold to exercise code that reads nothing more from the body. What is
//! fuzzed there is the validation, where hostile input is read (see
//! `BodyFuzzer::send`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shop_api::fuzzing::{BodyFuzzer, Endpoint};

/// Built once per process: a runtime, and a fixture whose password is hashed once.
fn fuzzer() -> &'static BodyFuzzer {
    static FUZZER: OnceLock<BodyFuzzer> = OnceLock::new();
    FUZZER.get_or_init(|| BodyFuzzer::new().expect("the fixture builds"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let endpoint = Endpoint::from_byte(first);
    let body = String::from_utf8_lossy(rest);
    let Some(answer) = fuzzer().send(endpoint, &body) else {
        return;
    };
    if let Err(broken) = answer.check(endpoint, &body) {
        panic!("{endpoint:?} {body:?}: {broken}");
    }
});
