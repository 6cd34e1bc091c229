//! One function process: started, fed invocations one at a time through its own
//! Runtime API endpoint, and killed when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
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
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(format!("cannot start {}: {e}", runtime.binary.display()));
            }
        };
        let pid = child.id().unwrap_or_default();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, format!("[{}] ", runtime.name), false));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, format!("[{}] ", runtime.name), true));
        }
        let (kill, killed) = oneshot::channel::<()>();
        LIVE.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let shutdown = SHUTDOWN.notified();
            let reason = tokio::select! {
                () = shutdown => {
                    let _ = child.kill().await;
                    "was stopped at shutdown".to_owned()
                }
                status = child.wait() => match status {
                    Ok(s) => match s.code() {
                        Some(code) => format!("exited with status {code}"),
                        None => format!("was ended by a signal ({s})"),
                    },
                    Err(e) => format!("was lost: {e}"),
                },
                _ = killed => {
                    let _ = child.kill().await;
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
        if self.jobs.send(invocation).await.is_err() {
            return Err(Fault::Crashed("was gone".into()));
        }
        let mut phase = self.phase.clone();
        let result = tokio::select! {
            biased;
            outcome = outcome => outcome.map_err(|_| Fault::Crashed("was lost".into())),
            exited = phase.wait_for(|p| matches!(p, Phase::Exited(_))) => Err(Fault::Crashed(match exited {
                Ok(p) => match &*p { Phase::Exited(reason) => reason.clone(), _ => String::new() },
                Err(_) => "was lost".into(),
            })),
            () = tokio::time::sleep_until(deadline.into()) => Err(Fault::Timeout),
        };
        self.last_used = Instant::now();
        result
    }
}

/// Copies a process's output line by line to ours, prefixed with the function's name.
/// Bytes that are not UTF-8 are replaced rather than ending the copy, which would
/// leave the process blocked on a full pipe.
async fn forward(stream: impl AsyncRead + Unpin, prefix: String, to_stderr: bool) {
    use std::io::Write as _;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = format!("{prefix}{}\n", text.trim_end_matches(['\n', '\r']));
        let _ = if to_stderr {
            std::io::stderr().lock().write_all(text.as_bytes())
        } else {
            std::io::stdout().lock().write_all(text.as_bytes())
        };
    }
}
