//! HTTP request → API Gateway proxy event, payload format 1.0 (REST) or 2.0 (HTTP API).

mod json;
mod request;
#[cfg(test)]
mod tests;
mod v1;
mod v2;

use std::collections::BTreeMap;

use json::Json;
pub use json::TooLarge;
pub use request::{Request, is_text};

use crate::gateway::routes::Route;
use crate::template::PayloadVersion;

/// Builds the event for `route` as the function's payload format expects it, as JSON
/// of at most `limit` bytes.
///
/// The event is written straight from the request's parts, borrowing them where it
/// can: it is built on every request, so it avoids a JSON tree of its own. Writing
/// stops as soon as it passes the limit, so a body that grows when escaped (control
/// characters take six bytes each) never grows past it in memory.
pub fn build(
    req: &Request<'_>,
    route: &Route,
    params: &BTreeMap<String, String>,
    limit: usize,
) -> Result<Vec<u8>, TooLarge> {
    let mut out = Json::new(req.body.len() + 2048, limit);
    match route.payload {
        PayloadVersion::V2 => v2::v2(req, route, params).write(&mut out)?,
        // Every key is a string and every value plain data: only the limit can stop it.
        PayloadVersion::V1 => {
            serde_json::to_writer(&mut out, &v1::v1(req, route, params)).map_err(|_| TooLarge)?;
        }
    }
    Ok(out.bytes)
}
