//! `shop-floor`: the database floor of `scripts/bench-shop`. For one case it
//! runs, at the same concurrency as the end-to-end run, the very MongoDB
//! operations one request of that case makes (through the functions' own
//! store, client settings and driver), with no HTTP, runner or Lambda in
//! between; the shop can come close to this, never beat it.
//!
//! ```text
//! shop-floor --case orders-create --connections 16 --duration 10 --seed seed.json
//! ```
//!
//! Reads `MONGODB_URI` and `MONGODB_DATABASE` as the functions do, and the
//! seeded users' password from `BENCH_PASSWORD`. Prints one line:
//! `RESULT <requests> <per second> <p50 µs> <p90 µs> <p99 µs> <errors> <CPU µs per request>`.

mod cases;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cases::{Case, Seed, Worker};
use shop_api::config::mongo_store_from_env;
use shop_domain::limits::Limits;

const USAGE: &str = "usage: shop-floor --case NAME --connections N --duration SECONDS --seed FILE";

struct Args {
    case: Case,
    connections: usize,
    duration: Duration,
    seed: String,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut args = std::env::args().skip(1);
        let (mut case, mut connections, mut duration, mut seed) = (None, None, None, None);
        while let Some(flag) = args.next() {
            let value = args.next().context(USAGE)?;
            match flag.as_str() {
                "--case" => case = Some(Case::parse(&value)?),
                "--connections" => connections = Some(value.parse().context(USAGE)?),
                "--duration" => {
                    duration = Some(Duration::from_secs(value.parse().context(USAGE)?));
                }
                "--seed" => seed = Some(value),
                _ => anyhow::bail!("{USAGE}"),
            }
        }
        match (case, connections, duration, seed) {
            (Some(case), Some(connections @ 1..), Some(duration), Some(seed)) => Ok(Self {
                case,
                connections,
                duration,
                seed,
            }),
            _ => anyhow::bail!("{USAGE}"),
        }
    }
}

/// The CPU this process has used, user and system, from `/proc/self/stat`
/// (in the kernel's fixed 100 ticks a second).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are the 14th and 15th fields; 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// What one worker measured: each request's latency, and its errors.
struct Tally {
    latencies: Vec<u32>,
    errors: u64,
}

async fn work(mut worker: Worker, case: Case, until: Instant) -> Tally {
    let mut tally = Tally {
        latencies: Vec::with_capacity(4096),
        errors: 0,
    };
    while Instant::now() < until {
        let started = Instant::now();
        let outcome = worker.run(case).await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        match outcome {
            Ok(()) => tally.latencies.push(micros),
            Err(e) => {
                if tally.errors == 0 {
                    eprintln!("shop-floor: {e:#}");
                }
                tally.errors += 1;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let seed_text = std::fs::read_to_string(&args.seed).context("reading the seed file")?;
    let seed_json: serde_json::Value = serde_json::from_str(&seed_text)?;
    let password = std::env::var("BENCH_PASSWORD").context("BENCH_PASSWORD is not set")?;
    let first = mongo_store_from_env().await?;
    let seed = Arc::new(Seed::load(&first, &seed_json, password).await?);
    let mut workers = Vec::with_capacity(args.connections);
    for n in 0..args.connections {
        let mut worker = Worker {
            store: mongo_store_from_env().await?,
            seed: Arc::clone(&seed),
            name: format!("floor-{}-{n}", std::process::id()),
            limits: Limits::default(),
            sent: 0,
        };
        // Connected, and its indexes checked, before the clock starts: a
        // function instance is warm by the time the end-to-end run counts.
        worker.run(args.case).await.context("the warm-up request")?;
        workers.push(worker);
    }
    let cpu_before = cpu_time();
    let started = Instant::now();
    let until = started + args.duration;
    // Each worker is a task of its own, so they run on every core, as the
    // function instances (processes) do.
    let running: Vec<_> = workers
        .into_iter()
        .map(|worker| tokio::spawn(work(worker, args.case, until)))
        .collect();
    let mut tallies = Vec::with_capacity(running.len());
    for task in running {
        tallies.push(task.await?);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let mut latencies: Vec<u32> = tallies
        .iter()
        .flat_map(|t| t.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let done = latencies.len() as u64;
    let per_second = done as f64 / elapsed.as_secs_f64();
    let cpu_per_request = (cpu.as_micros() as u64).checked_div(done).unwrap_or(0);
    println!(
        "RESULT {done} {per_second:.0} {} {} {} {errors} {cpu_per_request}",
        percentile(&latencies, 50),
        percentile(&latencies, 90),
        percentile(&latencies, 99),
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("shop-floor: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(bench(args)),
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shop-floor: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
