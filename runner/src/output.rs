//! The runner's stdout and stderr, written by a thread of their own, so that a slow
//! reader (a paused terminal, a full pipe) never blocks the thread serving requests.
//!
//! What waits to be written is bounded in bytes. Functions' output lines wait for
//! room, which passes the back-pressure on to the function that writes too much, as a
//! full pipe would. The runner's own log lines never wait: without room they are
//! counted and dropped, and the count is reported once there is room again.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

/// Bytes that may wait for the writer thread.
const BUDGET: usize = 8 * 1024 * 1024;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

enum Message {
    /// A line, and the budget it holds until written.
    Line(Stream, Vec<u8>, u32),
    Flush(std::sync::mpsc::Sender<()>),
}

type Writer = mpsc::UnboundedSender<Message>;

static WRITER: OnceLock<Writer> = OnceLock::new();
static ROOM: Semaphore = Semaphore::const_new(BUDGET);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static JSON: AtomicBool = AtomicBool::new(false);

/// Starts the writer thread; `json` says the runner's log lines are JSON, so that
/// the dropped-lines note is too. Until it runs (in unit tests, say), lines are
/// written directly.
pub fn start(json: bool) {
    JSON.store(json, Ordering::Relaxed);
    WRITER.get_or_init(|| {
        let (queue, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("output".into())
            .spawn(move || write_batches(rx))
            .expect("the output thread starts");
        queue
    });
}

/// The pause after each batch. Lines sent meanwhile wait in the queue without
/// waking this thread, so under load it wakes a few hundred times a second rather
/// than once per line, and the threads serving requests rarely pay for a wake-up.
const BATCH_PAUSE: Duration = Duration::from_millis(2);

/// Writes lines in batches: each stream's lines in the order they came, and
/// stdout's and stderr's in order to within one batch (a few milliseconds), so
/// that a busy runner makes a few hundred writes a second rather than one or
/// two per request.
fn write_batches(mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut pending = Pending::default();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(message) = next.take().or_else(|| rx.try_recv().ok()) {
            match message {
                Message::Line(stream, bytes, held) => pending.add(stream, &bytes, held),
                Message::Flush(done) => {
                    pending.write();
                    let _ = std::io::stdout().flush();
                    let _ = done.send(());
                }
            }
        }
        pending.write();
        std::thread::sleep(BATCH_PAUSE);
    }
}

/// Lines gathered for each stream, and the budget they hold.
#[derive(Default)]
struct Pending {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    held: usize,
}

impl Pending {
    /// The most gathered for one stream before writing.
    const MOST: usize = 64 * 1024;

    fn add(&mut self, stream: Stream, line: &[u8], held: u32) {
        let gathered = match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        };
        if gathered.len() + line.len() > Self::MOST {
            self.write();
        }
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(line),
            Stream::Stderr => self.stderr.extend_from_slice(line),
        }
        self.held += held as usize;
    }

    fn write(&mut self) {
        for (stream, bytes) in [
            (Stream::Stdout, &mut self.stdout),
            (Stream::Stderr, &mut self.stderr),
        ] {
            if !bytes.is_empty() {
                write(stream, bytes);
            }
            bytes.clear();
            // A rare huge line's room is not kept for good.
            if bytes.capacity() > 4 * Self::MOST {
                *bytes = Vec::new();
            }
        }
        ROOM.add_permits(std::mem::take(&mut self.held));
    }
}

fn write(stream: Stream, bytes: &[u8]) {
    let _ = match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(bytes),
        Stream::Stderr => std::io::stderr().lock().write_all(bytes),
    };
}

/// What a line holds of the budget (a line longer than the whole budget holds all of
/// it, and so waits until nothing else is queued).
fn cost(bytes: &[u8]) -> u32 {
    bytes.len().clamp(1, BUDGET) as u32
}

/// Queues one line, waiting for room.
pub async fn line(stream: Stream, bytes: Vec<u8>) {
    let Some(writer) = WRITER.get() else {
        return write(stream, &bytes);
    };
    let held = cost(&bytes);
    let Ok(permit) = ROOM.acquire_many(held).await else {
        return;
    };
    permit.forget();
    let _ = writer.send(Message::Line(stream, bytes, held));
}

/// Whether the runner's log lines are JSON (`--log-format json`).
pub fn json_logs() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Queues one of the runner's own log lines, written elsewhere than through
/// `tracing`; like those, it is dropped (and counted) when there is no room.
pub fn log_line(bytes: Vec<u8>) {
    try_line(Stream::Stderr, bytes);
}

/// Queues Lambda's own lines around an invocation (`START`, `END`, `REPORT`)
/// for stdout, beside the functions' output; like the runner's log lines, they
/// never wait for room.
pub fn platform_lines(bytes: Vec<u8>) {
    try_line(Stream::Stdout, bytes);
}

/// Queues one line if there is room; otherwise counts it as dropped.
fn try_line(stream: Stream, bytes: Vec<u8>) {
    let Some(writer) = WRITER.get() else {
        return write(stream, &bytes);
    };
    let dropped = DROPPED.swap(0, Ordering::AcqRel);
    if dropped > 0 && !queue_now(writer, Stream::Stderr, dropped_note(dropped)) {
        DROPPED.fetch_add(dropped, Ordering::AcqRel);
    }
    if !queue_now(writer, stream, bytes) {
        DROPPED.fetch_add(1, Ordering::AcqRel);
    }
}

fn queue_now(writer: &Writer, stream: Stream, bytes: Vec<u8>) -> bool {
    let held = cost(&bytes);
    let Ok(permit) = ROOM.try_acquire_many(held) else {
        return false;
    };
    permit.forget();
    writer.send(Message::Line(stream, bytes, held)).is_ok()
}

fn dropped_note(dropped: u64) -> Vec<u8> {
    let message =
        format!("{dropped} log line(s) dropped: the runner's output was not read fast enough");
    let line = if JSON.load(Ordering::Relaxed) {
        serde_json::json!({"level": "WARN", "fields": {"message": message}}).to_string()
    } else {
        format!("WARN {message}")
    };
    format!("{line}\n").into_bytes()
}

/// Waits (at most `limit`) until everything queued so far is written.
pub fn flush(limit: Duration) {
    let Some(writer) = WRITER.get() else { return };
    let (done, wait) = std::sync::mpsc::channel();
    if writer.send(Message::Flush(done)).is_ok() {
        let _ = wait.recv_timeout(limit);
    }
}

/// A `tracing_subscriber` writer that hands each log line to the writer thread.
#[derive(Debug, Clone, Copy)]
pub struct LogWriter;

/// One log line being formatted.
#[derive(Debug)]
pub struct LogLine(Vec<u8>);

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            try_line(Stream::Stderr, std::mem::take(&mut self.0));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::with_capacity(256))
    }
}
