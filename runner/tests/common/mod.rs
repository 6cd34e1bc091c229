//! Starts the runner on port 0 with a test template and talks to it over real HTTP.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A runner process serving a test template; stopped (with its instances) on drop.
pub struct Runner {
    pub base: String,
    pub client: reqwest::Client,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target"),
    }
}

pub fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("templates")
        .join(name)
}

/// The project venv's `bin` (`SHOP_VENV`, else `<workspace>/.venv`), where
/// `scripts/test` installs awslambdaric, awscli and cargo-lambda.
pub fn venv_bin() -> PathBuf {
    std::env::var_os("SHOP_VENV")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"),
            PathBuf::from,
        )
        .join("bin")
}

/// `PATH` with the venv's `bin` first, whose `python3` must import awslambdaric.
pub fn path_with_venv() -> String {
    let bin = venv_bin();
    let importable = Command::new(bin.join("python3"))
        .args(["-c", "import awslambdaric"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        importable,
        "{} cannot import awslambdaric: run the tests with scripts/test, which installs it",
        bin.display()
    );
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The test function's binary (built by `cargo build --workspace --bins`).
pub fn test_function_binary() -> PathBuf {
    require_test_functions();
    target_dir().join("debug").join("runner-test-functions")
}

/// Fails clearly when the test functions are not built (`cargo test` cannot build
/// them itself while it holds the build directory's lock).
fn require_test_functions() {
    let debug = target_dir().join("debug").join("runner-test-functions");
    assert!(
        debug.exists(),
        "{} is missing: build the test functions first with `cargo build --workspace --bins` \
         (or `cargo build -p runner-test-functions`)",
        debug.display()
    );
}

fn drain(
    stream: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    found: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), Some(at)) = (&found, line.find("listening on http://")) {
                // The URL ends the text line, or the JSON line's message.
                let url = line[at + "listening on ".len()..]
                    .split(['"', ' '])
                    .next()
                    .unwrap_or_default();
                let _ = tx.send(url.trim().to_owned());
            }
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
}

fn command(template_name: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runner"));
    command
        .arg("--template")
        .arg(template(template_name))
        .args(["--port", "0", "--binaries", "debug"])
        .args(extra)
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

impl Runner {
    /// Starts the runner on `template_name` (a file of tests/templates) with `extra` flags.
    pub fn start(template_name: &str, extra: &[&str]) -> Runner {
        Runner::start_with_env(template_name, extra, &[])
    }

    /// Like [`Runner::start`], with these variables in the runner's environment.
    pub fn start_with_env(template_name: &str, extra: &[&str], env: &[(&str, &str)]) -> Runner {
        require_test_functions();
        let mut child = command(template_name, extra)
            .envs(env.iter().copied())
            .spawn()
            .expect("runner starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        drain(child.stdout.take().unwrap(), stdout.clone(), None);
        drain(child.stderr.take().unwrap(), stderr.clone(), Some(tx));
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the runner did not start:\n{}", stderr.lock().unwrap());
            }
        };
        // A bound on a hung regression, not a performance check.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Runner {
            base,
            client,
            child,
            stdout,
            stderr,
        }
    }

    /// The operations listener's base URL (the runner was started with
    /// `--ops-port 0`).
    pub async fn ops_url(&self) -> String {
        let line = self.log_line("operations listening on http://").await;
        let at = line.find("http://").unwrap();
        line[at..].trim().to_owned()
    }

    /// The runner's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` and returns the status and the echo function's JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (boundedly: output arrives through pipes) until the runner's stdout or
    /// stderr has a line containing `needle`, and returns that line.
    pub async fn log_line(&self, needle: &str) -> String {
        for _ in 0..200 {
            let both = format!("{}{}", self.stdout(), self.stderr());
            if let Some(line) = both.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no line contains {needle:?}:\n{}\n{}",
            self.stdout(),
            self.stderr()
        );
    }
}

impl Runner {
    /// Checks that what went wrong (`needle`) stays out of the problem `body` and is
    /// in the runner's log, on a line with the problem's request id.
    pub async fn logged_not_answered(&self, body: &serde_json::Value, needle: &str) {
        assert!(
            !body.to_string().contains(needle),
            "the answer shows what only the log should: {body}"
        );
        let id = body["requestId"].as_str().expect("a request id");
        for _ in 0..200 {
            let both = format!("{}{}", self.stdout(), self.stderr());
            if both.lines().any(|l| l.contains(id) && l.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line has {id} and {needle:?}:\n{}", self.stderr());
    }

    /// Sends the runner `signal` (`TERM`, `INT`, …) with `kill`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits (at most `limit`) for the runner to exit by itself, and says how.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the runner with `SIGKILL`, leaving it no chance to stop its instances.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Already reaped (`kill_hard`): its pid may belong to someone else by now.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SIGTERM lets the runner stop its instances; SIGKILL only if it hangs.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the runner expecting it to refuse the template; returns its stderr.
pub fn start_failure(template_name: &str) -> String {
    start_failure_with(template_name, &[], &[])
}

/// Like [`start_failure`], with these variables in the runner's environment.
pub fn start_failure_with_env(template_name: &str, env: &[(&str, &str)]) -> String {
    start_failure_with(template_name, &[], env)
}

/// Like [`start_failure`], with `extra` flags and these variables.
pub fn start_failure_with(template_name: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let output = command(template_name, extra)
        .envs(env.iter().copied())
        .output()
        .expect("runner runs");
    assert!(
        !output.status.success(),
        "the runner accepted {template_name}"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The body of a problem+json response, checked for its required members.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    for member in ["type", "title", "status", "detail", "requestId"] {
        assert!(body.get(member).is_some(), "problem lacks {member}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}

/// A problem body's `detail`.
pub fn detail(body: &serde_json::Value) -> &str {
    body["detail"].as_str().expect("a detail string")
}

/// Whether a process is still running (not gone, not a zombie).
pub fn process_alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .split_whitespace()
            .nth(2)
            .is_none_or(|state| state != "Z"),
        Err(_) => false,
    }
}

/// A client that opens a connection for every request, as probes do (a kept-alive
/// one closes when the runner begins to drain).
pub fn unpooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Fails the test instead of letting it hang when `future` takes over 30 s (a bound
/// on a regression, not a performance check).
pub async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("the step did not finish within 30 s")
}

/// Waits (boundedly) until process `pid` is gone; false if it is still there.
pub async fn gone(pid: u64) -> bool {
    for _ in 0..100 {
        if !process_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
