//! One function process: started, fed invocations one at a time through its own
//! Runtime API endpoint, and killed when dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::invocation::{Invocation, Outcome, Phase};
pub use super::process::Runtime;
use super::process::{Tap, command, forward, watch_process};
use super::report::Status;
use super::runtime_api::{self, Channel};
use super::stream::StreamEnd;
use super::supervisor::Supervisor;
use crate::output::Stream;

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

impl Fault {
    /// How an invocation's result reads in `REPORT`.
    pub fn report_status(result: &Result<Outcome, Fault>) -> Status {
        match result {
            Ok(Outcome::Response(_)) => Status::Success,
            Ok(_) => Status::Error,
            Err(Fault::Timeout) => Status::Timeout,
            Err(Fault::Crashed(_) | Fault::NotDelivered) => Status::Crashed,
        }
    }

    /// How a streamed invocation reads in `REPORT`, by how its stream ended.
    pub fn stream_status(ended: &Result<StreamEnd, Fault>) -> Status {
        match ended {
            Ok(StreamEnd::Complete) => Status::Success,
            Ok(_) => Status::Error,
            Err(Fault::Timeout) => Status::Timeout,
            Err(Fault::Crashed(_) | Fault::NotDelivered) => Status::Crashed,
        }
    }
}

/// A running process of a function.
pub struct Instance {
    pub pid: u32,
    jobs: mpsc::Sender<Invocation>,
    phase: watch::Receiver<Phase>,
    _kill: oneshot::Sender<()>,
    server: JoinHandle<()>,
    pub last_used: Instant,
    /// What it prints, for an invocation that asks for its log tail.
    pub tap: Arc<Tap>,
    memory: Memory,
    /// A response being streamed: how it will end, and the invocation's
    /// deadline, which bounds the stream too.
    streaming: Option<(oneshot::Receiver<StreamEnd>, Instant)>,
}

/// The instance's resident memory, read from `/proc/<pid>/statm` (kept open: one
/// `pread` of a short line) at the end of an invocation, and the most seen so
/// far. A busy instance is read at most every [`Memory::EVERY`]: its later
/// invocations report the peak as last read. `/proc/<pid>/status` has the true
/// peak (`VmHWM`), but costs several times as much to read.
struct Memory {
    statm: Option<std::fs::File>,
    peak_bytes: u64,
    read_at: Option<Instant>,
}

impl Memory {
    const EVERY: Duration = Duration::from_millis(20);

    fn of(pid: u32) -> Memory {
        Memory {
            statm: std::fs::File::open(format!("/proc/{pid}/statm")).ok(),
            peak_bytes: 0,
            read_at: None,
        }
    }

    /// The largest resident set seen, in MB rounded up, reading it now unless
    /// it was read less than [`Memory::EVERY`] ago; `None` where there is no
    /// `/proc`.
    fn peak_mb(&mut self, now: Instant) -> Option<u64> {
        use std::os::unix::fs::FileExt as _;
        let statm = self.statm.as_ref()?;
        if self
            .read_at
            .is_none_or(|at| now.duration_since(at) >= Self::EVERY)
        {
            let mut buf = [0u8; 128];
            let read = statm.read_at(&mut buf, 0).ok()?;
            // `size resident shared text lib data dt`, in pages.
            let resident: u64 = std::str::from_utf8(&buf[..read])
                .ok()?
                .split_ascii_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            self.peak_bytes = self.peak_bytes.max(resident * super::sys::page_size());
            self.read_at = Some(now);
        }
        Some(self.peak_bytes.div_ceil(1024 * 1024))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Instance {
    /// Starts a process and waits until it polls for work; the error is the reason
    /// it did not.
    pub async fn start(
        runtime: &Runtime,
        init_timeout: Duration,
        supervisor: &Arc<Supervisor>,
    ) -> Result<Instance, String> {
        if supervisor.is_stopping() {
            return Err("the runner is stopping".to_owned());
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (jobs, inbox) = mpsc::channel(1);
        let channel = Channel::new(inbox);
        let phase = channel.phase.subscribe();
        let server = tokio::spawn(runtime_api::serve(listener, channel.clone()));
        let mut child = match command(runtime, address).spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(format!("cannot start {}: {e}", runtime.program.display()));
            }
        };
        let pid = child.id().unwrap_or_default();
        channel.owner.send_replace(Some(pid));
        let tap = Arc::new(Tap::default());
        if let Some(out) = child.stdout.take() {
            let prefix = format!("[{}] ", runtime.name);
            tokio::spawn(forward(out, prefix, Stream::Stdout, Arc::clone(&tap)));
        }
        if let Some(err) = child.stderr.take() {
            let prefix = format!("[{}] ", runtime.name);
            tokio::spawn(forward(err, prefix, Stream::Stderr, Arc::clone(&tap)));
        }
        let (kill, killed) = oneshot::channel::<()>();
        supervisor.live.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(watch_process(
            child,
            pid,
            channel,
            Arc::clone(supervisor),
            killed,
        ));
        let mut instance = Instance {
            pid,
            jobs,
            phase,
            _kill: kill,
            server,
            last_used: Instant::now(),
            tap,
            memory: Memory::of(pid),
            streaming: None,
        };
        instance.wait_until_ready(init_timeout).await?;
        instance.last_used = Instant::now();
        Ok(instance)
    }

    /// Waits (at most `init_timeout`) for the process's first poll for work.
    async fn wait_until_ready(&self, init_timeout: Duration) -> Result<(), String> {
        let mut watcher = self.phase.clone();
        let waited =
            tokio::time::timeout(init_timeout, watcher.wait_for(|p| *p != Phase::Starting))
                .await
                .map(|r| r.map(|phase| phase.clone()));
        match waited {
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
        }
    }

    /// The instance's largest resident set so far, in MB, as of its last
    /// invocation's end (see [`Memory`]); `None` where it cannot be read.
    pub fn max_memory_mb(&mut self) -> Option<u64> {
        self.memory.peak_mb(self.last_used)
    }

    /// With `tail`, starts keeping what the instance prints.
    pub async fn begin_tail(&self, tail: bool) {
        if tail {
            self.tap.settle().await;
            self.tap.start();
        }
    }

    /// With `tail`, what the instance printed since [`Instance::begin_tail`].
    pub async fn take_tail(&self, tail: bool) -> Option<Vec<u8>> {
        if !tail {
            return None;
        }
        // The instance wrote its output before it answered, so it is in the
        // pipes by now.
        self.tap.settle().await;
        Some(self.tap.take())
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
                // The instance stays busy until the stream ends.
                Ok(Outcome::Streamed(mut streamed)) => {
                    self.streaming = streamed.ended.take().map(|ended| (ended, deadline));
                    streamed.deadline = Some(deadline);
                    Ok(Outcome::Streamed(streamed))
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

impl Instance {
    /// Waits, within the invocation's deadline, for the response being
    /// streamed to end, and says how it did.
    pub async fn stream_ended(&mut self) -> Result<StreamEnd, Fault> {
        let Some((ended, deadline)) = self.streaming.take() else {
            return Ok(StreamEnd::Complete);
        };
        let mut phase = self.phase.clone();
        let result = tokio::select! {
            biased;
            end = ended => match end.unwrap_or(StreamEnd::Broken) {
                // An upload usually breaks off because the process died: say so.
                StreamEnd::Broken => {
                    let exit = tokio::time::timeout(Duration::from_millis(100), exit_reason(&mut phase)).await;
                    exit.map_or(Ok(StreamEnd::Broken), |reason| Err(Fault::Crashed(reason)))
                }
                end => Ok(end),
            },
            reason = exit_reason(&mut phase) => Err(Fault::Crashed(reason)),
            () = tokio::time::sleep_until(deadline.into()) => Err(Fault::Timeout),
        };
        self.last_used = Instant::now();
        result
    }

    /// The deadline of the response being streamed, if one is.
    pub fn stream_deadline(&self) -> Option<Instant> {
        self.streaming.as_ref().map(|(_, deadline)| *deadline)
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
