//! The user functions' endpoints, one file each: `POST /users/register`,
//! `POST /users/login`, `GET /users/me` and `POST /users/me/password`.

pub mod login;
pub mod me;
pub mod password;
pub mod register;

/// What the registration and login tests share: two client addresses and
/// limits small enough to reach in a test.
#[cfg(test)]
mod fixtures {
    use shop_domain::limits::Limits;

    pub(super) const HOME: &str = "198.51.100.1";
    pub(super) const ELSEWHERE: &str = "198.51.100.2";

    pub(super) fn small_limits() -> Limits {
        let mut limits = Limits::default();
        limits.login_failures_per_address.max = 3;
        limits.login_failures_per_account.max = 5;
        limits.logins_per_address.max = 8;
        limits.registrations_per_address.max = 3;
        limits
    }
}
