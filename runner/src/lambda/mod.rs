//! The Lambda half: each function's pool of processes ([`pool`]), one process
//! and its invocations ([`instance`]), the [`Supervisor`] that owns every
//! process's lifecycle, and the Runtime API each process polls. It hands results
//! back; it never calls into the gateway.

pub mod instance;
pub mod invocation;
pub mod metrics;
mod peer;
pub mod pool;
mod process;
pub mod report;
pub(crate) mod runtime_api;
pub mod stream;
mod supervisor;
mod sys;
mod wire;

pub use supervisor::Supervisor;
