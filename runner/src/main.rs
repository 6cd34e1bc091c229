//! The `runner` command: serve a SAM template's functions over HTTP on one machine.

mod cli;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use cli::{Args, LogFormat, listening_domain};
use runner::gateway::{self, App};
use runner::lambda::Supervisor;
use runner::{ops, setup};

// Every request allocates a few dozen small buffers and frees them soon after.
// mimalloc serves that pattern with less CPU than glibc's malloc: under perf on
// `scripts/bench-runner`'s echo, the time spent in libc fell from 9.4 to 4.5 µs a
// request. Its `no_thp` build keeps huge pages out of the heap; with them the
// runner's RSS went from 7 MB to 22 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let result = runtime.block_on(run(args));
    // Log lines still queued for the output thread go out before the process ends.
    runner::output::flush(Duration::from_secs(2));
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let config = args.config()?;
    let template = config.read_template()?;
    if args.watch && !runner::watch::build_all(&config, &template).await {
        tracing::error!("watch: the first build failed; serving the binaries there are");
    }
    for (id, kind) in &template.other_resources {
        tracing::info!(resource = %id, r#type = %kind, "not a function: the runner does not provide it");
    }
    let supervisor = Supervisor::new();
    let snapshots = args.watch.then(|| runner::watch::snapshots(1));
    let served = setup::serve(
        &template,
        &config,
        &supervisor,
        &[],
        &[],
        snapshots.as_deref(),
    )?;
    for route in served.routes.iter() {
        tracing::info!(route = %route.route_key, function = %template.functions[route.function].logical_id, "route");
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let address = listener.local_addr()?;
    tracing::info!("runner listening on http://{address}");
    let domain_name = args
        .public_url
        .clone()
        .unwrap_or_else(|| listening_domain(address));
    tracing::info!(%domain_name, "functions see this as the API's domain name");
    let settings = args.gateway_settings(domain_name, address.port());
    let app = Arc::new(App::new(served, settings));
    let retries = ops::AsyncRetries {
        attempts: 2,
        delay: args.async_retry_delay,
    };
    start_schedules(&app, retries, args.schedule_speed, args.watch);
    if let Some(port) = args.ops_port {
        start_ops(&args.ops_host, port, &app, &supervisor, retries).await?;
    }
    if args.watch {
        tokio::spawn(runner::watch::run(
            Arc::clone(&app),
            Arc::new(config),
            Arc::clone(&supervisor),
            template,
        ));
    }
    let mut signals = Signals::listen();
    let serving = tokio::spawn(gateway::serve(listener, Arc::clone(&app)));
    signals.next().await;
    let drained = drain(&app, &mut signals).await;
    let _ = serving.await;
    tracing::info!("stopping every instance");
    supervisor.stop_all(Duration::from_secs(3)).await;
    if args.watch {
        runner::watch::forget_snapshots();
    }
    anyhow::ensure!(drained, "stopped by a second signal before the drain ended");
    Ok(())
}

/// Time a drain allows beyond the longest a request may take, for the answer
/// to reach its client.
const DRAIN_SLACK: Duration = Duration::from_secs(2);

/// Stops accepting and waits until every open connection has had its request
/// answered: at most as long as a request may take (its head, its body, its
/// wait in a queue, its function's timeout or the integration timeout, and a
/// little), and a second signal ends the wait at once. False when a second
/// signal cut it short.
async fn drain(app: &App, signals: &mut Signals) -> bool {
    let limit = {
        let served = app.served();
        let settings = &app.settings;
        let queued = served
            .pools
            .iter()
            .map(|pool| pool.limits().queue_timeout)
            .max()
            .unwrap_or_default();
        // A function URL has no integration timeout: its function's own bounds it.
        let call = if served.routes.iter().any(|route| route.url.is_some()) {
            served.longest_timeout()
        } else {
            served.longest_timeout().min(settings.integration_timeout)
        };
        settings.header_timeout + settings.body_timeout + queued + call + DRAIN_SLACK
    };
    app.drain.begin();
    tracing::info!(
        open = app.drain.open_connections(),
        limit_s = limit.as_secs(),
        "draining: no new connections; the requests in progress finish (a second signal stops at once)"
    );
    tokio::select! {
        () = app.drain.finished() => {
            tracing::info!("drained");
            true
        }
        () = tokio::time::sleep(limit) => {
            tracing::warn!(open = app.drain.open_connections(), "drain time is up: closing the connections still open");
            true
        }
        () = signals.next() => {
            tracing::warn!(open = app.drain.open_connections(), "a second signal: stopping now");
            false
        }
    }
}

/// Fires the template's schedules, when it has any (or may have, after a
/// `--watch` reload).
fn start_schedules(app: &Arc<App>, retries: ops::AsyncRetries, speed: u32, watch: bool) {
    // Read and let go: whatever a request or a reload holds of what is
    // served decides when old instances stop.
    let scheduled = {
        let served = app.served();
        for (index, spec) in &served.schedules {
            let function = &served.pools[*index].runtime.name;
            tracing::info!(%function, schedule = %spec.name, expression = %spec.text, enabled = spec.enabled, "schedule");
        }
        !served.schedules.is_empty()
    };
    if scheduled || watch {
        tokio::spawn(ops::schedule::run(Arc::clone(app), retries, speed));
    }
}

/// Opens the operations listener (the Invoke API, probes and metrics).
async fn start_ops(
    host: &str,
    port: u16,
    app: &Arc<App>,
    supervisor: &Arc<Supervisor>,
    retries: ops::AsyncRetries,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    tracing::info!("operations listening on http://{}", listener.local_addr()?);
    let settings = ops::Settings { retries };
    tokio::spawn(ops::serve(
        listener,
        Arc::clone(app),
        Arc::clone(supervisor),
        settings,
    ));
    Ok(())
}

/// The runner's own log lines go through the output thread, as text or JSON.
fn init_logs(format: LogFormat) {
    runner::output::start(matches!(format, LogFormat::Json));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(runner::output::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => logs.with_target(false).init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, the signals that stop the runner.
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves at the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        async fn one(signal: Option<&mut tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = one(self.interrupt.as_mut()) => {}
            () = one(self.terminate.as_mut()) => {}
        }
    }
}
