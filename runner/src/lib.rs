//! A self-hosted AWS Lambda + API Gateway for one machine: serves the functions of a
//! SAM template over HTTP, running their binaries through the Lambda Runtime API.

pub mod binary;
pub mod body;
pub mod client;
pub mod envfile;
pub mod event;
pub mod ids;
pub mod instance;
pub mod output;
mod peer;
pub mod pool;
pub mod problem;
pub mod query;
pub mod response;
pub mod routes;
pub mod runtime_api;
pub mod secrets;
pub mod server;
pub mod stall;
mod sys;
pub mod template;
