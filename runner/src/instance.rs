//! One function process: started, fed invocations one at a time through its own
//! Runtime API endpoint, and killed when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::output::{self, Stream};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::runtime_api::{self, Channel, Invocation, Outcome, Phase};

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

/// Processes started and not yet reaped.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Tells every instance to stop, busy or not.
static SHUTDOWN: Notify = Notify::const_new();

/// Kills every instance and waits (at most `limit`) until each is reaped, so that
/// no process outlives the runner.
pub async fn stop_all(limit: Duration) {
    SHUTDOWN.notify_waiters();
    let deadline = Instant::now() + limit;
    while LIVE.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How to run one function.
#[derive(Debug)]
pub struct Runtime {
    /// The template's logical id, used in logs and errors.
    pub name: String,
    pub binary: PathBuf,
    /// Every variable the process gets, Lambda's own included.
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub arn: Arc<str>,
}

/// Why an invocation did not produce a result.
#[derive(Debug)]
pub enum Fault {
    /// The process exited (the reason) mid-invocation.
    Crashed(String),
    /// The process was gone before it took the invocation, which can be run elsewhere.
    NotDelivered,
    /// The deadline passed; the caller must drop the instance.
    Timeout,
}

/// A running process of a function.
pub struct Instance {
    pub pid: u32,
    jobs: mpsc::Sender<Invocation>,
    phase: watch::Receiver<Phase>,
    _kill: oneshot::Sender<()>,
    server: JoinHandle<()>,
    pub last_used: Instant,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Instance {
    /// Starts a process and waits until it polls for work; the error is the reason
    /// it did not.
    pub async fn start(runtime: &Runtime, init_timeout: Duration) -> Result<Instance, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (jobs, inbox) = mpsc::channel(1);
        let channel = Channel::new(inbox);
        let phase = channel.phase.subscribe();
        let server = tokio::spawn(runtime_api::serve(listener, channel.clone()));
        let mut command = Command::new(&runtime.binary);
        command
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
        crate::sys::tie_to_runner(&mut command);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(format!("cannot start {}: {e}", runtime.binary.display()));
            }
        };
        let pid = child.id().unwrap_or_default();
        channel.owner.send_replace(Some(pid));
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, format!("[{}] ", runtime.name), Stream::Stdout));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, format!("[{}] ", runtime.name), Stream::Stderr));
        }
        let (kill, killed) = oneshot::channel::<()>();
        LIVE.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let shutdown = SHUTDOWN.notified();
            let reason = tokio::select! {
                () = shutdown => {
                    stop(&mut child, pid).await;
                    "was stopped at shutdown".to_owned()
                }
                status = child.wait() => {
                    // What it started goes with it. The group's id cannot have been
                    // reused while any of its members lives; with none left, this
                    // finds nothing.
                    crate::sys::kill_group(pid);
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
            LIVE.fetch_sub(1, Ordering::SeqCst);
        });
        let mut instance = Instance {
            pid,
            jobs,
            phase,
            _kill: kill,
            server,
            last_used: Instant::now(),
        };
        let mut watcher = instance.phase.clone();
        let waited =
            tokio::time::timeout(init_timeout, watcher.wait_for(|p| *p != Phase::Starting))
                .await
                .map(|r| r.map(|phase| phase.clone()));
        let outcome = match waited {
            Err(_) => Err(format!(
                "it did not poll for work within {} s",
                init_timeout.as_secs_f32()
            )),
            Ok(Err(_)) => Err("it was lost during start-up".to_owned()),
            Ok(Ok(phase)) => match &phase {
                Phase::Ready => Ok(()),
                Phase::InitFailed(reason) => Err(format!("it reported an init error: {reason}")),
                Phase::Exited(reason) => Err(format!("it {reason} before polling for work")),
                Phase::Starting => Err("it never started".to_owned()),
            },
        };
        outcome.map(|()| {
            instance.last_used = Instant::now();
            instance
        })
    }

    /// Whether the process is still there to take work.
    pub fn is_alive(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Ready)
    }

    /// Runs one invocation, bounded by the function's timeout.
    pub async fn invoke(
        &mut self,
        runtime: &Runtime,
        request_id: String,
        event: Bytes,
        trace_id: String,
    ) -> Result<Outcome, Fault> {
        let deadline = Instant::now() + runtime.timeout;
        let deadline_ms = (SystemTime::now() + runtime.timeout)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let (reply, outcome) = oneshot::channel();
        let invocation = Invocation {
            request_id,
            event,
            deadline_ms,
            arn: runtime.arn.clone(),
            trace_id,
            reply,
        };
        // The one-place queue is empty between invocations, so this cannot wait.
        if self.jobs.try_send(invocation).is_err() {
            return Err(Fault::NotDelivered);
        }
        let mut phase = self.phase.clone();
        let result = tokio::select! {
            biased;
            outcome = outcome => match outcome {
                // An upload usually breaks off because the process died: say so.
                Ok(Outcome::Incomplete) => {
                    let exit = tokio::time::timeout(Duration::from_millis(100), exit_reason(&mut phase)).await;
                    match exit {
                        Ok(reason) => Err(Fault::Crashed(reason)),
                        Err(_) => Ok(Outcome::Incomplete),
                    }
                }
                Ok(outcome) => Ok(outcome),
                Err(_) => Err(Fault::Crashed("was lost".into())),
            },
            reason = exit_reason(&mut phase) => {
                // The job still fills the one-place queue: `next` never took it.
                if self.jobs.capacity() == 0 {
                    Err(Fault::NotDelivered)
                } else {
                    Err(Fault::Crashed(reason))
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => Err(Fault::Timeout),
        };
        self.last_used = Instant::now();
        result
    }
}

/// Waits until the process has exited, and says how.
async fn exit_reason(phase: &mut watch::Receiver<Phase>) -> String {
    match phase.wait_for(|p| matches!(p, Phase::Exited(_))).await {
        Ok(p) => match &*p {
            Phase::Exited(reason) => reason.clone(),
            _ => String::new(),
        },
        Err(_) => "was lost".into(),
    }
}

/// Kills an instance and whatever it started (its process group), then reaps it.
async fn stop(child: &mut tokio::process::Child, pid: u32) {
    crate::sys::kill_group(pid);
    let _ = child.kill().await;
}

/// The longest line forwarded as one; longer ones are split (CloudWatch Logs, too,
/// splits events over 256 KB).
const MAX_LINE: usize = 256 * 1024;

/// Copies a process's output line by line to ours, prefixed with the function's name.
/// Bytes that are not UTF-8 are replaced rather than ending the copy, which would
/// leave the process blocked on a full pipe.
async fn forward(stream: impl AsyncRead + Unpin, prefix: String, to: Stream) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(&mut reader, &mut line, MAX_LINE).await.is_err() || line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = format!("{prefix}{}\n", text.trim_end_matches(['\n', '\r']));
        output::line(to, text.into_bytes()).await;
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
