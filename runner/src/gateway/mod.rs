//! The public HTTP side: routes each request to its function's pool, as API Gateway
//! would, and writes one log line per invocation.

mod authorize;
mod call;
pub mod client;
mod cors;
pub mod event;
mod iam;
mod json_string;
mod jwt;
mod lambda_auth;
mod log;
mod problem;
mod proxy;
pub(crate) mod query;
mod response;
pub mod routes;
pub(crate) mod stall;
mod streaming;
mod target;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use client::Cidr;
use routes::Routes;
use stall::WriteStall;

use crate::body;
use crate::drain::Drain;
use crate::lambda::pool::Pool;
use crate::net::accept;

/// Lambda's limit on a synchronous invocation's payload: the event, so a body is
/// refused once it alone is over it, and otherwise once its event is.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// What is served now: the routes, and a pool per function they name. `--watch`
/// replaces it whole; requests already running keep the one they started with,
/// so they finish on the instances they were given.
pub struct Served {
    pub routes: Routes,
    pub pools: Vec<Arc<Pool>>,
    /// The functions' schedules, by index into `pools`.
    pub schedules: Vec<(usize, crate::template::ScheduleSpec)>,
}

impl Served {
    /// The longest timeout of any function served: no invocation runs longer.
    pub fn longest_timeout(&self) -> std::time::Duration {
        self.pools
            .iter()
            .map(|pool| pool.runtime.timeout)
            .max()
            .unwrap_or_default()
    }
}

/// How the gateway treats clients: fixed while the runner runs.
pub struct Settings {
    pub problem_type_base: String,
    /// The runner's own errors as API Gateway writes them, not problem+json.
    pub aws_error_bodies: bool,
    pub account_id: String,
    /// The gateway's name for itself, as `requestContext.domainName` tells functions:
    /// the public URL's host, or the address the runner listens on, with its port.
    pub domain_name: String,
    /// The port clients reach the runner on (`X-Forwarded-Port`).
    pub port: u16,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Client connections served at once.
    pub max_connections: usize,
    /// Client connections served at once from one address; further ones are closed.
    pub max_connections_per_client: usize,
    /// Memory for large request bodies, shared by every request.
    pub body_budget: body::Budget,
    /// How long a client may take to send a request's headers (and, on a kept-alive
    /// connection, to start its next request).
    pub header_timeout: std::time::Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: std::time::Duration,
    /// How long a caller waits for a function (API Gateway's integration timeout).
    pub integration_timeout: std::time::Duration,
    /// How long a response write may wait for a client that takes nothing.
    pub write_timeout: std::time::Duration,
}

/// Settings for unit tests.
#[cfg(test)]
pub(crate) fn tests_settings() -> Settings {
    let seconds = std::time::Duration::from_secs;
    Settings {
        problem_type_base: "urn:x:".into(),
        aws_error_bodies: false,
        account_id: "123456789012".into(),
        domain_name: "127.0.0.1:3000".into(),
        port: 3000,
        trusted_proxies: Vec::new(),
        max_connections: 16,
        max_connections_per_client: 16,
        body_budget: body::Budget::new(1024 * 1024),
        header_timeout: seconds(10),
        body_timeout: seconds(10),
        integration_timeout: seconds(30),
        write_timeout: seconds(10),
    }
}

/// Everything a request needs.
pub struct App {
    served: RwLock<Arc<Served>>,
    pub settings: Settings,
    /// Whether the runner is stopping, and the connections it waits for.
    pub drain: Drain,
    /// The authorizers' keys and kept answers.
    authorizers: authorize::Authorizers,
}

impl App {
    /// An app serving `served`, with the gateway's settings.
    pub fn new(served: Served, settings: Settings) -> App {
        App {
            served: RwLock::new(Arc::new(served)),
            settings,
            drain: Drain::default(),
            authorizers: authorize::Authorizers::default(),
        }
    }

    /// What is served now.
    pub fn served(&self) -> Arc<Served> {
        Arc::clone(&self.served.read().expect("lock"))
    }

    /// Serves `served` from the next request on, and hands back what was served.
    pub fn replace(&self, served: Served) -> Arc<Served> {
        let old = std::mem::replace(&mut *self.served.write().expect("lock"), Arc::new(served));
        // A reload may change what an authorizer answers.
        self.authorizers.forget();
        old
    }
}

/// Accepts connections until the app's drain begins; then the listener closes and
/// each open connection finishes its request (see [`Drain`]).
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    let shutdown = app.drain.begun();
    tokio::pin!(shutdown);
    let connections = Arc::new(tokio::sync::Semaphore::new(
        app.settings.max_connections.max(1),
    ));
    let per_client = Arc::new(PerClient::default());
    loop {
        // At the cap, stop accepting: new clients wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            () = &mut shutdown => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => return,
        };
        // One address may not hold every slot: past its share, its connections are
        // closed at once, and everyone else is still served.
        // A trusted proxy carries everyone's connections: it is not one client.
        let cap = if app
            .settings
            .trusted_proxies
            .iter()
            .any(|p| p.contains(peer.ip()))
        {
            usize::MAX
        } else {
            app.settings.max_connections_per_client
        };
        let Some(share) = per_client.enter(client_block(peer.ip()), cap) else {
            tracing::debug!(client = %peer.ip(), "connection closed: too many from this address");
            drop(stream);
            continue;
        };
        let app = app.clone();
        let open = app.drain.open();
        tokio::spawn(async move {
            let _slot = slot;
            let _share = share;
            let header_timeout = app.settings.header_timeout;
            let stream = WriteStall::new(stream, app.settings.write_timeout);
            let drain = app.drain.clone();
            let service = service_fn(move |req| call::handle(app.clone(), peer, req));
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            drain
                .serve(open, &mut builder, TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The block one client is counted by: an IPv4 address, or an IPv6 address's /64
/// (one subscriber's block, in which it could take a fresh address for every
/// connection).
fn client_block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in its address's share; given back when dropped.
struct Share {
    clients: Arc<PerClient>,
    address: IpAddr,
}

impl PerClient {
    /// A place for one more connection from `address`, unless it holds `cap` already.
    fn enter(self: &Arc<Self>, address: IpAddr, cap: usize) -> Option<Share> {
        let mut open = self.0.lock().expect("lock");
        let count = open.entry(address).or_default();
        if *count >= cap.max(1) {
            return None;
        }
        *count += 1;
        Some(Share {
            clients: self.clone(),
            address,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().expect("lock");
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}
