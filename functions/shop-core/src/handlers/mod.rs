//! Endpoint handlers. Each takes its dependencies and a `lambda_http` request and
//! always returns a response: every HTTP outcome, errors included, is `Ok`.

pub mod orders;
pub mod products;
pub mod users;
