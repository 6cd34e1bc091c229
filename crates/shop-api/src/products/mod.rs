//! The product function's endpoints, one file each: `POST /products` (admin),
//! `GET /products` and `GET /products/{id}` (public).

pub mod create;
pub mod get;
pub mod list;
