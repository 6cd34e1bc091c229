//! A self-hosted AWS Lambda + API Gateway for one machine: serves the functions of a
//! SAM template over HTTP, running their binaries through the Lambda Runtime API.
//!
//! Two halves, and the dependencies point one way: [`gateway`] (the public
//! listener, routes, the event and response translation, problem bodies) hands
//! invocations to [`lambda`] (the pools of function processes and the Runtime API
//! each one polls), which knows nothing of HTTP clients. [`template`] says what
//! to serve.

pub mod binary;
pub mod body;
mod clock;
mod decimal;
pub mod drain;
pub mod elf;
pub mod envfile;
pub mod gateway;
pub mod ids;
pub mod lambda;
pub mod launch;
mod net;
pub mod ops;
pub mod output;
pub mod secrets;
pub mod setup;
pub mod template;
pub mod watch;
