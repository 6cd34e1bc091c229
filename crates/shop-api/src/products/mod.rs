//! The product function's endpoints, one file each: `POST /products`,
//! `PATCH /products/{id}` and `DELETE /products/{id}` (admin), `GET /products`,
//! `GET /products/{id}` and `GET /categories` (public).

pub mod categories;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;
