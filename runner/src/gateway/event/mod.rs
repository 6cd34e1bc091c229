//! HTTP request → API Gateway proxy event, payload format 1.0 (REST) or 2.0 (HTTP API).

mod request;
#[cfg(test)]
mod tests;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::io::Write;

pub use request::{Request, is_text};

use crate::gateway::routes::Route;
use crate::template::PayloadVersion;

/// The event would be larger than the limit it was built under.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

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
    let mut out = Bounded {
        bytes: Vec::with_capacity((req.body.len() + 2048).min(limit)),
        limit,
    };
    let written = match route.payload {
        PayloadVersion::V2 => serde_json::to_writer(&mut out, &v2::v2(req, route, params)),
        PayloadVersion::V1 => serde_json::to_writer(&mut out, &v1::v1(req, route, params)),
    };
    // Every key is a string and every value plain data: only the limit can stop it.
    written.map(|()| out.bytes).map_err(|_| TooLarge)
}

/// A buffer that refuses to grow past its limit.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    #[inline]
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let needed = self.bytes.len() + data.len();
        if needed > self.limit {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        // Growing by doubling, but never past the limit: memory held stays within
        // what the body budget granted.
        if needed > self.bytes.capacity() {
            let target = (self.bytes.capacity() * 2).clamp(needed, self.limit);
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    /// One step, not std's loop: `write` takes all of `data` or fails. The
    /// serializer writes every key, quote and comma through here.
    #[inline]
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.write(data).map(|_| ())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
