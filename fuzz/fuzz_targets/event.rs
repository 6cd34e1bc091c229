//! The runner's HTTP → API Gateway event translation.
//!
//! The input is a raw HTTP/1 request (head, blank line, body). Only requests that
//! reach the runner's `handle` are used: what hyper's server would parse (see
//! `shop_fuzz::wire`) whose target is a path, with at most one `Host`, which
//! `valid_host` accepts, as `server::handle` demands. Each is routed and translated under three route
//! tables (an HTTP API with payload 2.0, a REST API on stage `Prod`, an HTTP API
//! set to payload 1.0) and three callers (direct over IPv4, through a trusted
//! proxy, direct over IPv6, each with its own domain name), as a runner could be
//! configured.
//!
//! Every event must be its payload format's AWS type, be read by `lambda_http`
//! without error or panic as that kind of request, and carry the method and the
//! body bytes intact. The size limit must refuse exactly the events longer than it.
#![no_main]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use runner::gateway::client::{Caller, Cidr, valid_host};
use runner::gateway::event::{self, TooLarge};
use runner::gateway::routes::{Lookup, Route, Routes};
use runner::gateway::MAX_EVENT_BYTES;
use runner::template::{EventSpec, PayloadVersion};
use shop_fuzz::gateway::{self, Expected};
use shop_fuzz::wire;

/// A route table as a template could declare it.
struct Table {
    payload: PayloadVersion,
    routes: Routes,
}

/// How the runner is reached: the peer, the proxies it trusts, its domain name.
struct Setup {
    peer: &'static str,
    trusted: &'static [&'static str],
    domain_name: &'static str,
}

const SETUPS: [Setup; 3] = [
    Setup {
        peer: "192.0.2.7",
        trusted: &[],
        domain_name: "127.0.0.1:3000",
    },
    Setup {
        peer: "10.0.0.2",
        trusted: &["10.0.0.0/8"],
        domain_name: "shop.example.com",
    },
    Setup {
        peer: "::1",
        trusted: &[],
        domain_name: "[::1]:3000",
    },
];

const PORT: u16 = 3000;

fn table(payload: PayloadVersion, stage: &str, routes: &[(&str, &str)]) -> Table {
    let mut table = Routes::default();
    for (index, (method, path)) in routes.iter().enumerate() {
        let spec = EventSpec {
            name: format!("E{index}"),
            method: (*method).into(),
            path: (*path).into(),
            payload,
            stage: stage.into(),
            cors: None,
            auth: None,
        };
        table
            .add(index, &spec)
            .expect("the fuzzer's routes are valid");
    }
    Table {
        payload,
        routes: table,
    }
}

fn tables() -> &'static [Table] {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let specific = [
            ("GET", "/items/{id}"),
            ("POST", "/echo"),
            ("ANY", "/files/{proxy+}"),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut routes = specific.to_vec();
            routes.push(extra);
            routes
        };
        vec![
            table(PayloadVersion::V2, "$default", &with(("ANY", "$default"))),
            table(PayloadVersion::V1, "Prod", &with(("ANY", "/{proxy+}"))),
            table(PayloadVersion::V1, "$default", &with(("ANY", "$default"))),
        ]
    })
}

/// What `server::handle` lets through: no `Host`, or exactly one that it accepts.
fn host_accepted(headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => true,
        (Some(host), None) => host.to_str().is_ok_and(valid_host),
        (Some(_), Some(_)) => false,
    }
}

fn caller(setup: &Setup, headers: &HeaderMap) -> Caller {
    let peer: IpAddr = setup.peer.parse().expect("a peer address");
    let trusted: Vec<Cidr> = setup
        .trusted
        .iter()
        .map(|block| block.parse().expect("a trusted block"))
        .collect();
    Caller::of(peer, PORT, headers, &trusted)
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = wire::parse(data) else {
        return;
    };
    // What server::handle refuses before routing: a target that is not a path
    // (`OPTIONS *`, `CONNECT host:port`; the first reached functions until the
    // fuzzer found it), or a Host it cannot serve.
    if !request.uri.path().starts_with('/') || !host_accepted(&request.headers) {
        return;
    }
    for (index, table) in tables().iter().enumerate() {
        for (nth, setup) in SETUPS.iter().enumerate() {
            // The size limit is checked once per input, under the first table,
            // whose `$default` route takes every request.
            translate(&request, table, setup, index == 0 && nth == 0);
        }
    }
});

/// Routes and translates `request` under `table` and `setup`, and checks the event.
fn translate(request: &wire::Request<'_>, table: &Table, setup: &Setup, check_limits: bool) {
    let method = request.method.as_str();
    let path = request.uri.path();
    let Lookup::Found(route, params) = table.routes.lookup(method, path) else {
        return;
    };
    let caller = caller(setup, &request.headers);
    let translated = event::Request {
        method,
        raw_path: path,
        raw_query: request.uri.query().unwrap_or_default(),
        headers: &request.headers,
        body: request.body,
        caller: &caller,
        domain_name: setup.domain_name,
        request_id: "fuzz-request-id",
        received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        account_id: "123456789012",
        authorizer: None,
    };
    let built = event::build(&translated, route, &params, MAX_EVENT_BYTES)
        .expect("a fuzz input is far below the event limit");
    let expected = Expected {
        method,
        body: request.body,
    };
    if let Err(broken) = gateway::check(&built, table.payload, &expected) {
        panic!("{method} {path}: {broken}");
    }
    if check_limits {
        check_limit(&translated, route, &params, &built);
    }
}

/// The limit refuses exactly the events longer than it.
fn check_limit(
    request: &event::Request<'_>,
    route: &Route,
    params: &BTreeMap<String, String>,
    full: &[u8],
) {
    let at = event::build(request, route, params, full.len());
    assert_eq!(at.as_deref(), Ok(full), "an event of exactly the limit");
    let below = event::build(request, route, params, full.len() - 1);
    assert_eq!(below, Err(TooLarge), "an event one byte over the limit");
}
