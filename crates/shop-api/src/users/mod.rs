//! The user functions' endpoints, one file each: `POST /users/register`,
//! `POST /users/login` and `GET /users/me`.

pub mod login;
pub mod me;
pub mod register;
