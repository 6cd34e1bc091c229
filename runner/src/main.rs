//! The `runner` command: serve a SAM template's functions over HTTP on one machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use runner::binary::BuildKind;
use runner::instance::Runtime;
use runner::pool::{Limits, Pool};
use runner::routes::Routes;
use runner::server::{self, App};
use runner::template::{self, Settings};
use runner::{binary, envfile};

/// Serve the functions of an AWS SAM template over HTTP, as API Gateway + Lambda would.
///
/// Each function's binary (from `cargo build` or `cargo lambda build`) is started on
/// demand and driven through the Lambda Runtime API; HttpApi events get payload 2.0,
/// Api events payload 1.0.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// The SAM template to serve.
    #[arg(short, long, default_value = "template.yaml")]
    template: PathBuf,
    /// Address to listen on (loopback by default; use 0.0.0.0 to expose it).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (the log line "listening on" tells which).
    #[arg(short, long, default_value_t = 3000)]
    port: u16,
    /// Template parameters as KEY=VALUE (also ParameterKey=K,ParameterValue=V).
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
    parameter_overrides: Vec<String>,
    /// A dotenv file (KEY=VALUE lines) whose variables every function gets, over the
    /// template's own.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Instances per function when the template sets no ReservedConcurrentExecutions.
    #[arg(long, default_value_t = 10)]
    max_concurrency: usize,
    /// Requests per function that may wait for a busy instance; beyond it, 429.
    #[arg(long, default_value_t = 100)]
    queue_size: usize,
    /// Stop an instance after it has been idle this long (e.g. 300s, 5m, 500ms).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// How long a new instance may take to poll for its first invocation.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    init_timeout: Duration,
    /// Cargo's target directory [default: $CARGO_TARGET_DIR, else <workspace>/target].
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Which build output supplies the binaries (newest: whichever was built last).
    #[arg(long, value_enum, default_value_t = BuildKind::Newest)]
    binaries: BuildKind,
    /// AWS_REGION for functions and AWS::Region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// AWS::AccountId, used in ARNs.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// AWS::StackName.
    #[arg(long, default_value = "local")]
    stack_name: String,
    /// Prefix of the `type` URI in the runner's problem+json errors.
    #[arg(long, default_value = "https://lambda-runner.invalid/problems/")]
    problem_type_base: String,
    /// Worker threads for the runner itself; 1 (everything on one thread) costs the
    /// least CPU per request.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Log line format (filter with RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: unit must be ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_overrides(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items.iter().flat_map(|i| i.split_whitespace()) {
        let pair = match item.strip_prefix("ParameterKey=") {
            Some(rest) => rest.split_once(",ParameterValue="),
            None => item.split_once('='),
        };
        let Some((k, v)) = pair else {
            bail!("--parameter-overrides {item}: expected KEY=VALUE")
        };
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

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
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match args.log_format {
        LogFormat::Text => logs.with_target(false).init(),
        LogFormat::Json => logs.json().init(),
    }
    let settings = Settings {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        stack_name: args.stack_name.clone(),
        parameter_overrides: parse_overrides(&args.parameter_overrides)?,
    };
    let template = template::load(&args.template, &settings)
        .with_context(|| format!("template {}", args.template.display()))?;
    let shared_env = match &args.env_file {
        Some(path) => envfile::read(path)?,
        None => Vec::new(),
    };
    for (id, kind) in &template.other_resources {
        tracing::info!(resource = %id, r#type = %kind, "not a function: the runner does not provide it");
    }
    let limits = |reserved: Option<u32>| Limits {
        concurrency: reserved.map_or(args.max_concurrency, |n| n as usize),
        queue_size: args.queue_size,
        idle_timeout: args.idle_timeout,
        init_timeout: args.init_timeout,
    };
    let mut routes = Routes::default();
    let mut pools = Vec::new();
    let mut missing = Vec::new();
    for (index, spec) in template.functions.iter().enumerate() {
        for event in &spec.events {
            routes.add(index, event).map_err(|e| {
                anyhow::anyhow!("resource {}, event {}: {e}", spec.logical_id, event.name)
            })?;
        }
        let binary = match binary::locate(spec, args.target_dir.as_deref(), args.binaries) {
            Ok(path) => path,
            Err(e) => {
                missing.push(e.to_string());
                continue;
            }
        };
        let mut environment = vec![
            (
                "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
                spec.function_name.clone(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
                spec.memory_mb.to_string(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
                "$LATEST".to_owned(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
                format!("/aws/lambda/{}", spec.function_name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME".to_owned(), "local".to_owned()),
            (
                "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
                "on-demand".to_owned(),
            ),
            ("AWS_REGION".to_owned(), args.region.clone()),
            ("AWS_DEFAULT_REGION".to_owned(), args.region.clone()),
            ("TZ".to_owned(), ":UTC".to_owned()),
        ];
        environment.extend(spec.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        environment.extend(shared_env.iter().cloned());
        tracing::info!(function = %spec.logical_id, binary = %binary.display(), "function ready to start on demand");
        let runtime = Runtime {
            name: spec.logical_id.clone(),
            binary,
            environment,
            timeout: spec.timeout,
            arn: spec.arn.as_str().into(),
        };
        pools.push(Pool::new(runtime, limits(spec.reserved_concurrency)));
    }
    if !missing.is_empty() {
        bail!("{}", missing.join("\n"));
    }
    for route in routes.iter() {
        tracing::info!(route = %route.route_key, function = %template.functions[route.function].logical_id, "route");
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let address = listener.local_addr()?;
    tracing::info!("runner listening on http://{address}");
    let app = Arc::new(App {
        routes,
        pools,
        problem_type_base: args.problem_type_base,
        account_id: args.account_id,
    });
    server::serve(listener, app, shutdown_signal()).await;
    tracing::info!("shutting down; stopping every instance");
    runner::instance::stop_all(Duration::from_secs(3)).await;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
