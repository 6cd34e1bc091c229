//! What the benchmark's helper binaries share: starting the function, reading
//! a Runtime API request by hand, and a process's CPU time from `/proc`.

use std::net::SocketAddr;
use std::ops::Range;
use std::process::Stdio;

use anyhow::Context as _;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Starts the function `binary` as the echo function, polling the Runtime API
/// at `address`; it is killed when the handle is dropped.
///
/// With `FUNCTION_ENV_FILE` naming a JSON object of variables (the `env` the echo
/// function reported under the runner), the function gets those too, so that it
/// writes the same answer as under the runner: the echo answer lists them.
pub(crate) fn start_function(
    binary: &str,
    address: SocketAddr,
) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_FUNCTION_NAME", "Echo")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1");
    if let Some(file) = std::env::var_os("FUNCTION_ENV_FILE") {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.to_string_lossy()))?;
        let vars: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&text).context("FUNCTION_ENV_FILE: a JSON object of strings")?;
        command.envs(vars);
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {binary}"))
}

/// Reads one whole request (head and `Content-Length` body) into `buffer`; returns its
/// head and where its body lies in `buffer` (the request ends where the body does),
/// or `None` at the end of the connection (or at a chunked upload, which `fail` is
/// told of: these helpers do not read them).
pub(crate) async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    fail: fn(String),
) -> Option<(String, Range<usize>)> {
    // `read_buf` reads into the buffer's spare room as it is: a zeroed chunk on
    // the stack would cost a 16 KiB memset per read (and, under callgrind, 16 k
    // counted instructions: `rep stosb` counts once per byte).
    if buffer.capacity() - buffer.len() < 16 * 1024 {
        buffer.reserve(16 * 1024);
    }
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let lower = head.to_ascii_lowercase();
            if lower.contains("transfer-encoding:") {
                fail("the function sent a chunked upload, which the floor does not read".into());
                return None;
            }
            let body = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let Some(total) = (end + 4).checked_add(body) else {
                fail(format!("the function sent a Content-Length of {body}"));
                return None;
            };
            while buffer.len() < total {
                // What is declared is not reserved whole: it may never come.
                buffer.reserve((total - buffer.len()).min(64 * 1024));
                stream.read_buf(buffer).await.ok().filter(|n| *n > 0)?;
            }
            return Some((head, end + 4..total));
        }
        stream.read_buf(buffer).await.ok().filter(|n| *n > 0)?;
    }
}

/// CPU time (user + system) used so far by `/proc/<pid>`, in clock ticks.
pub(crate) fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

pub(crate) fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
