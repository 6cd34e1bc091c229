//! The shop's domain: what a valid user, product and order is, exact money,
//! pricing, paging and the rate-limit rules. No I/O: nothing here talks to a
//! database, the network or Lambda, so every rule is tested in plain unit tests.

mod id;
pub mod lifecycle;
pub mod limits;
pub mod money;
pub mod order;
pub mod paging;
mod product;
mod text;
mod user;
pub mod validation;

pub use id::{OrderId, ProductId, UserId};
pub use money::Money;
pub use product::{
    Category, CategoryCount, Description, MAX_STOCK, Product, ProductName, ProductPatch, Shortage,
    Stock, Text, parse_stock,
};
pub use user::{Email, Password, Role, User, UserView, Username};

use time::OffsetDateTime;

/// Timestamps are kept to the millisecond, the precision MongoDB stores.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .expect("a whole number of milliseconds is a valid nanosecond")
}
