//! A function's operating-system process: started as Lambda starts one, watched
//! until it ends, stopped with everything it started, and its output forwarded
//! line by line to the runner's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::invocation::Phase;
use super::runtime_api::Channel;
use super::supervisor::Supervisor;
use crate::output::{self, Stream};

/// How to run one function.
#[derive(Debug)]
pub struct Runtime {
    /// The template's logical id, used in logs and errors.
    pub name: String,
    /// The program started, with its arguments, in `dir`: `origin`, or under
    /// `--watch` a snapshot of it that a rebuild cannot touch.
    pub program: PathBuf,
    /// Where the program was found, and when it was last changed there.
    pub origin: PathBuf,
    pub origin_modified: Option<std::time::SystemTime>,
    pub args: Vec<String>,
    pub dir: PathBuf,
    /// Every variable the process gets, Lambda's own included.
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    /// `MemorySize`, in MB, as `REPORT` lines state it.
    pub memory_mb: u32,
    pub arn: Arc<str>,
}

impl Runtime {
    /// Whether `other` runs the same code the same way: the same program
    /// (found at the same place, unchanged since), arguments, folder,
    /// environment, timeout, memory size and ARN.
    pub fn runs_like(&self, other: &Runtime) -> bool {
        self.name == other.name
            && self.origin == other.origin
            && self.origin_modified == other.origin_modified
            && self.args == other.args
            && self.dir == other.dir
            && self.environment == other.environment
            && self.timeout == other.timeout
            && self.memory_mb == other.memory_mb
            && self.arn == other.arn
    }
}

/// Variables a developer's machine passes through to functions, as Lambda's own
/// environment would provide them (credentials, logging, locale).
const PASS_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The function's process, as Lambda starts one: only the runtime's variables
/// (and a few the host needs), the Runtime API's address, piped output, and tied
/// to the runner so that it cannot outlive it.
pub(super) fn command(runtime: &Runtime, address: SocketAddr) -> Command {
    let mut command = Command::new(&runtime.program);
    command
        .args(&runtime.args)
        .current_dir(&runtime.dir)
        .env_clear()
        .envs(
            PASS_THROUGH
                .iter()
                .filter_map(|k| Some((*k, std::env::var_os(k)?))),
        )
        .envs(runtime.environment.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    crate::lambda::sys::tie_to_runner(&mut command);
    command
}

/// Waits for the process to end (or to be told to end, by its instance or at
/// shutdown), then records why it ended and that it is reaped.
pub(super) async fn watch_process(
    mut child: Child,
    pid: u32,
    channel: Arc<Channel>,
    supervisor: Arc<Supervisor>,
    killed: oneshot::Receiver<()>,
) {
    // Registered before the flag is read, so that a stop between the two is
    // not missed.
    let mut shutdown = std::pin::pin!(supervisor.shutdown.notified());
    shutdown.as_mut().enable();
    let stopping = async {
        if !supervisor.is_stopping() {
            shutdown.await;
        }
    };
    let reason = tokio::select! {
        () = stopping => {
            // As Lambda ends an instance, a runtime gets SIGTERM and a moment to
            // flush what it holds before SIGKILL.
            crate::lambda::sys::terminate_group(pid);
            if tokio::time::timeout(SHUTDOWN_GRACE, child.wait()).await.is_err() {
                stop(&mut child, pid).await;
            } else {
                crate::lambda::sys::kill_group(pid);
            }
            "was stopped at shutdown".to_owned()
        }
        status = child.wait() => {
            // What it started goes with it. The group's id cannot have been
            // reused while any of its members lives; with none left, this
            // finds nothing.
            crate::lambda::sys::kill_group(pid);
            match status {
                Ok(s) => match s.code() {
                    Some(code) => format!("exited with status {code}"),
                    None => format!("was ended by a signal ({s})"),
                },
                Err(e) => format!("was lost: {e}"),
            }
        }
        _ = killed => {
            stop(&mut child, pid).await;
            "was stopped".to_owned()
        }
    };
    channel.phase.send_replace(Phase::Exited(reason));
    supervisor.live.fetch_sub(1, Ordering::SeqCst);
}

/// How long an instance has between SIGTERM and SIGKILL when the runner stops.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Kills an instance and whatever it started (its process group), then reaps it.
async fn stop(child: &mut tokio::process::Child, pid: u32) {
    crate::lambda::sys::kill_group(pid);
    let _ = child.kill().await;
}

/// How much of an invocation's output its log tail keeps (the Invoke API's
/// `X-Amz-Log-Type: Tail` returns the last 4 KB, as Lambda does).
const TAIL_BYTES: usize = 4 * 1024;

/// What an instance prints while an invocation that asked for it runs.
#[derive(Debug, Default)]
pub struct Tap {
    kept: std::sync::Mutex<Option<Vec<u8>>>,
    /// The instance's output pipes, while their readers hold them open.
    pipes: std::sync::Mutex<Vec<std::os::fd::RawFd>>,
}

impl Tap {
    /// Starts keeping what the instance prints.
    pub fn start(&self) {
        *self.kept.lock().expect("lock") = Some(Vec::new());
    }

    /// Stops keeping, and hands back the last 4 KB kept.
    pub fn take(&self) -> Vec<u8> {
        let mut kept = self.kept.lock().expect("lock").take().unwrap_or_default();
        let cut = kept.len().saturating_sub(TAIL_BYTES);
        kept.drain(..cut);
        kept
    }

    /// Waits (at most 200 ms) until what the instance has written so far is
    /// read from its pipes and recorded: called before an invocation starts
    /// keeping (so the one before it is not kept) and after it answered (so
    /// all it printed is).
    pub async fn settle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_millis(200);
        loop {
            let unread: usize = {
                let pipes = self.pipes.lock().expect("lock");
                pipes.iter().map(|fd| crate::lambda::sys::unread(*fd)).sum()
            };
            // Even with nothing unread, a reader may hold a line it has not
            // recorded yet: a moment lets it.
            tokio::time::sleep(Duration::from_millis(1)).await;
            if unread == 0 || std::time::Instant::now() > deadline {
                return;
            }
        }
    }

    pub(super) fn open(&self, fd: std::os::fd::RawFd) {
        self.pipes.lock().expect("lock").push(fd);
    }

    fn closed(&self, fd: std::os::fd::RawFd) {
        self.pipes.lock().expect("lock").retain(|open| *open != fd);
    }

    fn record(&self, line: &[u8]) {
        if let Some(kept) = self.kept.lock().expect("lock").as_mut() {
            kept.extend_from_slice(line);
            // Bounded while it runs, too: only the end is ever returned.
            if kept.len() > 4 * TAIL_BYTES {
                let cut = kept.len() - TAIL_BYTES;
                kept.drain(..cut);
            }
        }
    }
}

/// The longest line forwarded as one; longer ones are split (CloudWatch Logs, too,
/// splits events over 256 KB).
const MAX_LINE: usize = 256 * 1024;

/// Copies a process's output line by line to ours, prefixed with the function's name.
/// Bytes that are not UTF-8 are replaced rather than ending the copy, which would
/// leave the process blocked on a full pipe.
pub(super) async fn forward(
    stream: impl AsyncRead + Unpin + std::os::fd::AsRawFd,
    prefix: String,
    to: Stream,
    tap: Arc<Tap>,
) {
    let fd = stream.as_raw_fd();
    tap.open(fd);
    let mut reader = BufReader::new(stream);
    // Declared after the reader, so dropped before it: the descriptor is
    // forgotten before the pipe closes, never asked about once another file
    // may have its number.
    let _forget = Forget(&tap, fd);
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(&mut reader, &mut line, MAX_LINE).await.is_err() || line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        tap.record(format!("{text}\n").as_bytes());
        let text = format!("{prefix}{text}\n");
        output::line(to, text.into_bytes()).await;
    }
}

struct Forget<'a>(&'a Tap, std::os::fd::RawFd);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.closed(self.1);
    }
}

/// Reads up to and including the next newline, or `limit` bytes, whichever is first;
/// an empty `line` means the end of the stream.
async fn read_line(
    reader: &mut (impl AsyncBufReadExt + Unpin),
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<()> {
    while line.len() < limit {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let room = limit - line.len();
        let (taken, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) if at < room => (at + 1, true),
            _ => (available.len().min(room), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], limit: usize) -> Vec<String> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            read_line(&mut reader, &mut line, limit).await.unwrap();
            if line.is_empty() {
                return out;
            }
            out.push(String::from_utf8(line).unwrap());
        }
    }

    #[tokio::test]
    async fn lines_end_at_newlines_and_long_ones_are_split_at_the_limit() {
        assert_eq!(lines(b"ab\ncd\n", 100).await, ["ab\n", "cd\n"]);
        assert_eq!(
            lines(b"abcdefgh\nij", 3).await,
            ["abc", "def", "gh\n", "ij"]
        );
        assert_eq!(lines(b"abc\n", 3).await, ["abc", "\n"]);
        assert!(lines(b"", 3).await.is_empty());
    }
}
