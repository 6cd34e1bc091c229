//! The shop's shared core: domain types and validation, exact money, auth,
//! storage, the API error type and the handlers every function crate serves.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handlers;
pub mod http;
pub mod limits;
pub mod money;
pub mod order;
pub mod paging;
pub mod store;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod validation;

pub use error::ApiError;
