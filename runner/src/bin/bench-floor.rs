//! The benchmark's floor: what a function costs through the Runtime API alone, with
//! no HTTP front, no routing, no event to build and no result to translate.
//!
//! It starts `INSTANCES` processes of `BINARY`, each with a Runtime API of its own
//! reduced to the least that `lambda_runtime` accepts (a hand-written HTTP/1.1 loop
//! that answers `next` at once with the same event), and keeps every instance busy
//! for `SECONDS`. A runner can only add to these figures, so they bound what any
//! runner can reach with this function on this machine.
//!
//! Usage: `bench-floor BINARY EVENT_FILE INSTANCES SECONDS`. Prints one line:
//! `invocations/s p50_us p99_us function_cpu_us_per_invocation floor_cpu_us_per_invocation`,
//! where the latency is from the `next` answer written to the result read back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

mod shared;
use shared::{clock_ticks_per_second, cpu_ticks, read_request, start_function};

/// Why the run went wrong, if it did: its figures would mean nothing.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn fail(reason: String) {
    FAILURE.lock().expect("lock").get_or_insert(reason);
}

/// One instance's record of its invocations.
#[derive(Default)]
struct Record {
    /// When the current invocation's event was written.
    sent: Option<Instant>,
    /// Whether the measured window is open.
    measuring: bool,
    latencies_ns: Vec<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, event_file, instances, seconds] = args.as_slice() else {
        bail!("usage: bench-floor BINARY EVENT_FILE INSTANCES SECONDS");
    };
    let event: Arc<[u8]> = std::fs::read(event_file)
        .with_context(|| format!("reading {event_file}"))?
        .into();
    let instances: usize = instances.parse().context("INSTANCES")?;
    let window = Duration::from_secs_f64(seconds.parse().context("SECONDS")?);

    let mut children = Vec::new();
    let mut records = Vec::new();
    for _ in 0..instances {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let record = Arc::new(Mutex::new(Record::default()));
        tokio::spawn(serve(listener, event.clone(), record.clone()));
        let child = start_function(binary, address)?;
        children.push(child);
        records.push(record);
    }

    // A second of warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
    let function_before: u64 = pids.iter().map(|p| cpu_ticks(&p.to_string())).sum();
    let own_before = cpu_ticks("self");
    for record in &records {
        record.lock().expect("lock").measuring = true;
    }
    tokio::time::sleep(window).await;
    for record in &records {
        record.lock().expect("lock").measuring = false;
    }
    let function_ticks =
        pids.iter().map(|p| cpu_ticks(&p.to_string())).sum::<u64>() - function_before;
    let own_ticks = cpu_ticks("self") - own_before;
    // Returning drops the children, which kills them.
    if let Some(reason) = FAILURE.lock().expect("lock").take() {
        bail!("{reason}");
    }

    let mut latencies: Vec<u64> = records
        .iter()
        .flat_map(|r| r.lock().expect("lock").latencies_ns.clone())
        .collect();
    if latencies.is_empty() {
        bail!("no invocation completed; is {binary} a Runtime API client?");
    }
    latencies.sort_unstable();
    let count = latencies.len() as f64;
    let percentile = |p: f64| latencies[((count - 1.0) * p) as usize] as f64 / 1000.0;
    let tick_us = 1_000_000.0 / clock_ticks_per_second();
    println!(
        "{:.0} {:.0} {:.0} {:.0} {:.0}",
        count / window.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        function_ticks as f64 * tick_us / count,
        own_ticks as f64 * tick_us / count,
    );
    Ok(())
}

/// Accepts the instance's connections (its client may open more than one).
async fn serve(listener: TcpListener, event: Arc<[u8]>, record: Arc<Mutex<Record>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, event.clone(), record.clone()));
    }
}

/// Serves one connection's requests in turn: `next` gets the event at once, a result
/// gets 202. Anything else fails the run.
async fn connection(mut stream: TcpStream, event: Arc<[u8]>, record: Arc<Mutex<Record>>) {
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut reply = Vec::with_capacity(event.len() + 512);
    let mut invocation = 0u64;
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut buffer, fail).await else {
            return;
        };
        let line = head.lines().next().unwrap_or_default().to_owned();
        buffer.drain(..body.end);
        reply.clear();
        if line.starts_with("GET ") && line.contains("/invocation/next ") {
            invocation += 1;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let deadline = now.as_millis() + 10_000;
            let (root, parent) = runner::ids::trace_parts();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: {}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:Echo\r\n\
                 lambda-runtime-trace-id: Root=1-{:08x}-{root};Parent={parent};Sampled=0\r\n\
                 content-length: {}\r\n\r\n",
                runner::ids::request_id(),
                now.as_secs(),
                event.len()
            );
            reply.extend_from_slice(head.as_bytes());
            reply.extend_from_slice(&event);
            if stream.write_all(&reply).await.is_err() {
                return;
            }
            record.lock().expect("lock").sent = Some(Instant::now());
        } else if line.starts_with("POST ") && line.contains("/response ") {
            {
                let mut record = record.lock().expect("lock");
                if let Some(sent) = record.sent.take()
                    && record.measuring
                {
                    record.latencies_ns.push(sent.elapsed().as_nanos() as u64);
                }
            }
            let ok = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"OK\"}";
            if stream.write_all(ok).await.is_err() {
                return;
            }
        } else {
            fail(format!(
                "the function sent {line:?} (invocation {invocation})"
            ));
            return;
        }
    }
}
