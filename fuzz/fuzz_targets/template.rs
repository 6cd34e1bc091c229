//! SAM template parsing: `runner::template::parse` must answer any text with a
//! template or an error, never a panic or a hang.
//!
//! A template it accepts goes on as the runner's start-up takes it: its events
//! become routes (errors allowed, as the runner then refuses the template), and
//! each route is sent one request that hyper could deliver (a path made from the
//! route's pattern), whose event `lambda_http` must read without panicking. So a
//! stage name or path that the template lets through cannot break every request
//! of its functions.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use runner::gateway::client::Caller;
use runner::gateway::event;
use runner::gateway::routes::{Lookup, Route, Routes};
use runner::gateway::MAX_EVENT_BYTES;
use runner::template::{self, Settings};
use shop_fuzz::gateway::{self, Expected};

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        stack_name: "shop".into(),
        parameter_overrides: Default::default(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // No file is read: `base` only prefixes the functions' `CodeUri`s.
    let Ok(template) = template::parse(text, Path::new("/nonexistent/fuzz"), settings()) else {
        return;
    };
    let mut routes = Routes::default();
    for (index, function) in template.functions.iter().enumerate() {
        for spec in &function.events {
            if routes.add(index, spec).is_err() {
                return;
            }
        }
    }
    for route in routes.iter() {
        request_route(&routes, route);
    }
});

/// A path that matches `route`'s pattern: `x` for each `{name}`, `a/b` for a
/// greedy `{name+}`; `/` for `$default`.
fn path_for(pattern: &str) -> String {
    if pattern == "$default" {
        return "/".into();
    }
    pattern
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(rest) if rest.ends_with("+}") => "a/b",
            Some(rest) if rest.ends_with('}') => "x",
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends one request to `route` (if hyper could deliver its path) and checks the
/// event that the route it lands on produces.
fn request_route(routes: &Routes, route: &Route) {
    let path = path_for(&route.pattern);
    let deliverable = http::Uri::try_from(path.as_str()).is_ok_and(|uri| uri.path() == path);
    if !deliverable {
        return;
    }
    let method = if route.method == "ANY" {
        "GET"
    } else {
        route.method.as_str()
    };
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return;
    }
    let Lookup::Found(found, params) = routes.lookup(method, &path) else {
        return;
    };
    let headers = HeaderMap::new();
    let caller = Caller::of([127, 0, 0, 1].into(), 3000, &headers, &[]);
    let request = event::Request {
        method,
        raw_path: &path,
        raw_query: "",
        headers: &headers,
        body: b"",
        caller: &caller,
        domain_name: "127.0.0.1:3000",
        request_id: "fuzz-request-id",
        received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        account_id: "123456789012",
    };
    let built = event::build(&request, found, &params, MAX_EVENT_BYTES)
        .expect("a request without a body is far below the event limit");
    let expected = Expected { method, body: b"" };
    if let Err(broken) = gateway::check(&built, found.payload, &expected) {
        panic!("route {}: {broken}", found.route_key);
    }
}
