//! The user functions' endpoints, one file each: `POST /users/register` and
//! `POST /users/login`.

pub mod login;
pub mod register;
