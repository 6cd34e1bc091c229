//! Where a request goes: its route (checked against its target and `Host`) and
//! its function's pool, and who the caller is.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Request};
use hyper::body::Incoming;

use super::client::Caller;
use super::problem::Problem;
use super::routes::{Lookup, Route};
use super::{App, Served};
use crate::lambda::pool::Pool;

/// A request's route, its path parameters and its function's pool.
pub(super) type Routed = (Arc<Route>, BTreeMap<String, String>, Arc<Pool>);

/// The request's route, its path parameters and its function's pool. The
/// request keeps these, not all that is served: after a --watch reload, the old
/// generation's other instances need not wait for this request to stop.
pub(super) fn routed(
    app: &App,
    req: &Request<Incoming>,
    method: &str,
    raw_path: &str,
) -> Result<Routed, Problem> {
    let served = app.served();
    let (route, params) = route(&served, req, method, raw_path, &app.settings.domain_name)?;
    Ok((
        Arc::clone(route),
        params,
        Arc::clone(&served.pools[route.function]),
    ))
}

/// The route a request takes, or why it has none: an asterisk-form target, an
/// unknown path or method, or a `Host` no API Gateway endpoint could serve.
fn route<'a>(
    served: &'a Served,
    req: &Request<Incoming>,
    method: &str,
    raw_path: &str,
    own_name: &str,
) -> Result<(&'a Arc<Route>, BTreeMap<String, String>), Problem> {
    // An asterisk-form target (`OPTIONS * HTTP/1.1`) names no resource: API
    // Gateway never hands one to a function, and a function could not build a
    // URL from it.
    if !raw_path.starts_with('/') {
        return Err(Problem::BadTarget);
    }
    let found = match served.routes.lookup(method, raw_path) {
        Lookup::Found(route, params) => (route, params),
        Lookup::MethodNotAllowed(allowed) => return Err(Problem::MethodNotAllowed(allowed)),
        Lookup::NotFound => return Err(Problem::NotFound),
    };
    // A function would choke on an unusable Host building the request's URL.
    let mut hosts = req.headers().get_all(http::header::HOST).iter();
    if let Some(host) = hosts.next()
        && (hosts.next().is_some()
            // The runner's own name, which most requests carry, is valid.
            || (host.as_bytes() != own_name.as_bytes()
                && !host.to_str().is_ok_and(super::client::valid_host)))
    {
        return Err(Problem::BadHost);
    }
    Ok(found)
}

/// Who is calling, as the gateway tells the function.
pub(super) fn caller(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Caller {
    Caller::of(
        peer.ip(),
        app.settings.port,
        headers,
        &app.settings.trusted_proxies,
    )
}
