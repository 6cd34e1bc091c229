//! The whole shop, started for a test as a user starts it: `template.yaml` served by
//! the runner with the debug binaries, over real HTTP, on a real MongoDB-wire server
//! (the shared one `scripts/test` starts, with a database of the test's own, or one
//! of the test's own that it may stop, kill and restart).
//!
//! Clients can come from any loopback address (`127.x.y.z`), so one test can play
//! several clients, an attacker among them.

mod client;
mod mongo;
mod process;
mod proxy;
mod stack;

pub use client::*;
pub use mongo::*;
pub use process::*;
pub use proxy::*;
pub use stack::*;
