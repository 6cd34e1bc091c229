//! The `runner` command's flags, and what they make: the setup's config and
//! the gateway's settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use runner::binary::BuildKind;
use runner::gateway::{self, client::Cidr};
use runner::lambda::pool::Limits;
use runner::secrets::Secrets;
use runner::template::Settings;
use runner::{envfile, setup};

/// Serve the functions of an AWS SAM template over HTTP, as API Gateway + Lambda would.
///
/// Each function (its cargo binary, a `bootstrap`, or a Python handler run by
/// awslambdaric) is started on demand and driven through the Lambda Runtime API;
/// HttpApi events get payload 2.0, Api events payload 1.0.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub(crate) struct Args {
    /// The SAM template to serve.
    #[arg(short, long, default_value = "template.yaml")]
    pub(crate) template: PathBuf,
    /// Address to listen on (loopback by default; use 0.0.0.0 to expose it).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port to listen on; 0 picks a free one (the log line "listening on" tells which).
    #[arg(short, long, default_value_t = 3000)]
    pub(crate) port: u16,
    /// The URL clients use to reach the runner, when it is not the address it listens
    /// on (behind a proxy, say). Its host and port become the events'
    /// `requestContext.domainName`, which is never taken from a client's Host header.
    #[arg(long, value_name = "URL", value_parser = parse_public_url)]
    pub(crate) public_url: Option<String>,
    /// A proxy (address or CIDR block, repeatable) whose X-Forwarded-For,
    /// X-Forwarded-Proto and X-Forwarded-Port are believed. Nobody's are by default:
    /// the source address is the connection's peer.
    #[arg(long, value_name = "CIDR")]
    pub(crate) trusted_proxy: Vec<Cidr>,
    /// Template parameters as KEY=VALUE (also ParameterKey=K,ParameterValue=V). Taken
    /// from RUNNER_PARAMETER_OVERRIDES (space-separated) when the flag is absent, which
    /// keeps secrets out of the process list.
    #[arg(
        long,
        num_args = 1..,
        value_name = "KEY=VALUE",
        env = "RUNNER_PARAMETER_OVERRIDES",
        hide_env_values = true
    )]
    pub(crate) parameter_overrides: Vec<String>,
    /// A dotenv file (KEY=VALUE lines) whose variables every function gets, over the
    /// template's own.
    #[arg(long, value_name = "FILE")]
    pub(crate) env_file: Option<PathBuf>,
    /// A dotenv file of secret values by name (`shop/jwt-secret=…`), standing in for
    /// Secrets Manager and Parameter Store: the template's dynamic references
    /// (`{{resolve:secretsmanager:NAME…}}`, `{{resolve:ssm:NAME}}`) resolve from it,
    /// for the functions that name them only. A reference it cannot resolve stops
    /// the runner.
    #[arg(long, value_name = "FILE")]
    pub(crate) secrets_file: Option<PathBuf>,
    /// Instances per function when the template sets no ReservedConcurrentExecutions.
    #[arg(long, default_value_t = 10)]
    pub(crate) max_concurrency: usize,
    /// Requests per function that may wait for a busy instance; beyond it, 429.
    #[arg(long, default_value_t = 100)]
    pub(crate) queue_size: usize,
    /// The longest a request waits in that queue before it gets 429.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) queue_timeout: Duration,
    /// Client connections served at once; further ones wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// Client connections served at once from one address; further ones from it are
    /// closed at once, so that one client cannot hold every connection.
    #[arg(long, default_value_t = 64)]
    pub(crate) max_connections_per_client: usize,
    /// How long a client may take to send a request's headers (or, on an idle
    /// kept-alive connection, to start the next request) before it is disconnected.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub(crate) header_timeout: Duration,
    /// Memory (MiB) that request bodies over 64 KiB may hold at once, all requests
    /// together; a large upload beyond it waits for room.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(crate) body_memory_mib: u32,
    /// How long a caller waits for a function before 504, as API Gateway's integration
    /// timeout (30 s for HTTP APIs, 29 s for REST APIs); the invocation runs on.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub(crate) integration_timeout: Duration,
    /// How long a client may take to send a request's body; then 408.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub(crate) body_timeout: Duration,
    /// How long a response write may wait for the client to take data (room in the
    /// connection's send buffer); then the connection is closed. A client that keeps
    /// reading starts the wait again with every write it lets through.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub(crate) write_timeout: Duration,
    /// Stop an instance after it has been idle this long (e.g. 300s, 5m, 500ms).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// How long a new instance may take to poll for its first invocation.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) init_timeout: Duration,
    /// Cargo's target directory [default: $CARGO_TARGET_DIR, else <workspace>/target].
    #[arg(long, value_name = "DIR")]
    pub(crate) target_dir: Option<PathBuf>,
    /// Which build output supplies the binaries (newest: whichever was built last).
    #[arg(long, value_enum, default_value_t = BuildKind::Newest)]
    pub(crate) binaries: BuildKind,
    /// Keep N instances of the function with logical id NAME started and ready
    /// before the first request, and replace them when they exit (as
    /// `ProvisionedConcurrencyConfig` does, which this overrides); repeatable.
    #[arg(long, value_name = "NAME=N", value_parser = parse_min_instances)]
    pub(crate) min_instances: Vec<(String, u32)>,
    /// Port of the operations listener, which serves Lambda's Invoke API
    /// (`POST /2015-03-31/functions/{name}/invocations`); off unless given; 0 picks one.
    #[arg(long, value_name = "N")]
    pub(crate) ops_port: Option<u16>,
    /// Address of the operations listener. It reaches any function directly,
    /// bypassing the routes: keep it on loopback.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub(crate) ops_host: String,
    /// The wait before the first retry of a failed asynchronous (`Event`)
    /// invocation; the second waits twice as long (Lambda: 1 and 2 minutes).
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub(crate) async_retry_delay: Duration,
    /// Fire `rate()` schedules this many times as often (60 makes
    /// `rate(1 minute)` fire every second); `cron()` schedules keep the clock.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) schedule_speed: u32,
    /// Watch the functions' sources and the template: rebuild what changed (with
    /// cargo, in the profile served: debug unless --binaries release) and serve it,
    /// letting requests in flight finish on the old instances.
    #[arg(long)]
    pub(crate) watch: bool,
    /// A `sam build` output (e.g. .aws-sam/build): a function's `<LogicalId>/`
    /// folder there is its code, and its `bootstrap` runs in place of the cargo binary.
    #[arg(long, value_name = "DIR")]
    pub(crate) build_dir: Option<PathBuf>,
    /// AWS_REGION for functions and AWS::Region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub(crate) region: String,
    /// AWS::AccountId, used in ARNs.
    #[arg(long, default_value = "123456789012")]
    pub(crate) account_id: String,
    /// AWS::StackName.
    #[arg(long, default_value = "local")]
    pub(crate) stack_name: String,
    /// Prefix of the `type` URI in the runner's problem+json errors.
    #[arg(long, default_value = "https://lambda-runner.invalid/problems/")]
    pub(crate) problem_type_base: String,
    /// Write the runner's own errors as API Gateway does (`{"message": "Not
    /// Found"}`, `{"message": "Unauthorized"}` …) instead of problem+json.
    #[arg(long)]
    pub(crate) aws_error_bodies: bool,
    /// Worker threads for the runner itself; 1 (everything on one thread) costs the
    /// least CPU per request.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Log line format (filter with RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
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
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is out of range"))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be more than 0".into()),
        duration => Ok(duration),
    }
}

/// An `http(s)://host[:port]` URL; the domain name it gives the events.
fn parse_public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("{text:?} must start with http:// or https://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if !runner::gateway::client::valid_host(authority) {
        return Err(format!("{text:?} does not name a host (and port)"));
    }
    Ok(authority.to_owned())
}

/// The domain name of a runner listening on `address`: an address that listens
/// everywhere is reached here through loopback.
pub(crate) fn listening_domain(address: std::net::SocketAddr) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match address.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, address.port()).to_string()
}

fn parse_min_instances(item: &str) -> Result<(String, u32), String> {
    let (name, count) = item
        .split_once('=')
        .ok_or_else(|| format!("{item}: expected NAME=N"))?;
    let count = count
        .parse()
        .map_err(|_| format!("{item}: N must be a whole number"))?;
    Ok((name.to_owned(), count))
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

impl Args {
    /// What the runner serves, and how it runs the functions.
    pub(crate) fn config(&self) -> anyhow::Result<setup::Config> {
        let args = self;
        Ok(setup::Config {
            template: args.template.clone(),
            settings: Settings {
                region: args.region.clone(),
                account_id: args.account_id.clone(),
                stack_name: args.stack_name.clone(),
                parameter_overrides: parse_overrides(&args.parameter_overrides)?,
            },
            target_dir: args.target_dir.clone(),
            binaries: match (args.watch, args.binaries) {
                (true, BuildKind::Lambda) => {
                    bail!(
                        "--watch builds with cargo: use --binaries debug (the default) or release"
                    )
                }
                // What the watch loop builds is what runs.
                (true, BuildKind::Newest) => BuildKind::Debug,
                (_, kind) => kind,
            },
            build_dir: args.build_dir.clone(),
            shared_env: match &args.env_file {
                Some(path) => envfile::read(path)?,
                None => Vec::new(),
            },
            secrets: Secrets::new(match &args.secrets_file {
                Some(path) => envfile::read_secrets(path)?,
                None => Vec::new(),
            }),
            limits: Limits {
                concurrency: args.max_concurrency,
                queue_size: args.queue_size,
                queue_timeout: args.queue_timeout,
                idle_timeout: args.idle_timeout,
                init_timeout: args.init_timeout,
                min_instances: 0,
            },
            min_instances: args.min_instances.iter().cloned().collect(),
        })
    }

    /// How the gateway treats clients.
    pub(crate) fn gateway_settings(&self, domain_name: String, port: u16) -> gateway::Settings {
        let args = self;
        gateway::Settings {
            problem_type_base: args.problem_type_base.clone(),
            aws_error_bodies: args.aws_error_bodies,
            account_id: args.account_id.clone(),
            domain_name,
            port,
            trusted_proxies: args.trusted_proxy.clone(),
            max_connections: args.max_connections,
            max_connections_per_client: args.max_connections_per_client,
            body_budget: runner::body::Budget::new(args.body_memory_mib as usize * 1024 * 1024),
            header_timeout: args.header_timeout,
            body_timeout: args.body_timeout,
            integration_timeout: args.integration_timeout,
            write_timeout: args.write_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_refuse_what_they_cannot_hold() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("1e400").is_err());
        assert!(parse_duration("999999999999999999999h").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn the_domain_name_is_the_public_url_or_the_listening_address() {
        assert_eq!(
            parse_public_url("https://shop.example.com/x").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            parse_public_url("http://127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080"
        );
        for bad in ["shop.example.com", "ftp://x", "http://a b/", "http://"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            listening_domain("0.0.0.0:3000".parse().unwrap()),
            "127.0.0.1:3000"
        );
        assert_eq!(listening_domain("[::]:3000".parse().unwrap()), "[::1]:3000");
        assert_eq!(
            listening_domain("192.0.2.1:80".parse().unwrap()),
            "192.0.2.1:80"
        );
    }

    #[test]
    fn parameter_overrides_take_both_spellings() {
        let parsed =
            parse_overrides(&["A=1 B=x=y".into(), "ParameterKey=C,ParameterValue=3".into()])
                .unwrap();
        assert_eq!(parsed["A"], "1");
        assert_eq!(parsed["B"], "x=y");
        assert_eq!(parsed["C"], "3");
        assert!(parse_overrides(&["novalue".into()]).is_err());
    }
}
