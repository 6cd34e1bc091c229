//! The whole shop, started for a test as a user starts it: `template.yaml` served by
//! the runner with the debug binaries, over real HTTP, on a real MongoDB-wire server
//! (the shared one `scripts/test` starts, with a database of the test's own, or one
//! of the test's own that it may stop, kill and restart).
//!
//! Clients can come from any loopback address (`127.x.y.z`), so one test can play
//! several clients, an attacker among them.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The workspace's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// A binary of the workspace's debug build, which must exist.
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: build every binary first (`cargo build --workspace --bins`; \
         scripts/test does)",
        path.display()
    );
    path
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`, …) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits (at most `limit`) until something accepts connections on `port`.
fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A MongoDB-wire server of the test's own, which it may stop, kill and restart:
/// `SHOP_TEST_MONGOD` names the binary (`scripts/test` sets it), and
/// `SHOP_TEST_MONGOD_KIND` says whether it is a `mongod` (default: SecantusDB).
pub struct Mongo {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Mongo {
    pub fn start() -> Mongo {
        let dir = std::env::temp_dir().join(unique("stack-mongo"));
        std::fs::create_dir_all(&dir).expect("a data directory");
        let mut mongo = Mongo {
            port: free_port(),
            dir,
            child: None,
        };
        mongo.launch();
        mongo
    }

    fn launch(&mut self) {
        let server = std::env::var("SHOP_TEST_MONGOD").unwrap_or_else(|_| {
            panic!(
                "SHOP_TEST_MONGOD is not set: run the tests with scripts/test, which names a \
                 MongoDB-wire server the fault tests can stop and restart"
            )
        });
        let kind = std::env::var("SHOP_TEST_MONGOD_KIND").unwrap_or_default();
        let mut command = Command::new(server);
        let port = self.port.to_string();
        if kind == "mongod" {
            command.args(["--port", &port, "--bind_ip", "127.0.0.1", "--dbpath"]);
        } else {
            command.args(["--port", &port, "--storage-path"]);
        }
        let child = command
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the MongoDB-wire server starts");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(60)),
            "the MongoDB-wire server did not listen on {}",
            self.port
        );
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Freezes the server (`SIGSTOP`): connections stay open, nothing answers.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }

    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }

    /// Kills the server outright (`SIGKILL`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for Mongo {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shared server `scripts/test` started (`MONGODB_URI`).
pub fn shared_mongo_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!("MONGODB_URI is not set: run the tests with scripts/test, which starts a server")
    })
}

/// How to start a stack.
#[derive(Default, Clone)]
pub struct Options {
    /// Lines of the runner's `--env-file` (every function gets them).
    pub env: Vec<String>,
    /// More runner flags.
    pub args: Vec<String>,
}

/// `template.yaml` served by the runner on a free port; stopped (with every
/// instance) when dropped.
pub struct Stack {
    pub base: String,
    pub port: u16,
    pub uri: String,
    pub database: String,
    child: Child,
    log: Arc<Mutex<String>>,
    files: Vec<PathBuf>,
}

impl Stack {
    /// The shop on the shared server, in a database of its own.
    pub fn start(options: Options) -> Stack {
        Stack::on(&shared_mongo_uri(), options)
    }

    /// The shop on the server at `uri`, in a database of its own.
    pub fn on(uri: &str, options: Options) -> Stack {
        let database = unique("stack");
        let dir = std::env::temp_dir();
        let secrets = dir.join(unique("stack-secrets"));
        let secret = uuid::Uuid::new_v4().simple().to_string().repeat(2);
        std::fs::write(&secrets, format!("shop/jwt-secret={secret}\n")).expect("secrets file");
        let env = dir.join(unique("stack-env"));
        std::fs::write(&env, options.env.join("\n")).expect("env file");
        let mut child = Command::new(binary("runner"))
            .current_dir(root())
            .args(["--template", "template.yaml", "--port", "0"])
            .args(["--binaries", "debug", "--target-dir"])
            .arg(target_dir())
            .arg("--secrets-file")
            .arg(&secrets)
            .arg("--env-file")
            .arg(&env)
            .args(["--problem-type-base", "https://shop.invalid/problems/"])
            .args(&options.args)
            .env(
                "RUNNER_PARAMETER_OVERRIDES",
                format!("MongoDbUri={uri} MongoDbDatabase={database}"),
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the runner starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        collect(child.stdout.take().expect("stdout"), log.clone(), None);
        collect(child.stderr.take().expect("stderr"), log.clone(), Some(tx));
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the runner did not start:\n{}", log.lock().unwrap());
            }
        };
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        Stack {
            base,
            port,
            uri: uri.to_owned(),
            database,
            child,
            log,
            files: vec![secrets, env],
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the runner and its functions have written so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn runner_pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `shop-admin COMMAND USER` against this stack's database.
    pub fn admin(&self, command: &str, user: &str) {
        let out = Command::new(binary("shop-admin"))
            .args([command, user])
            .env("MONGODB_URI", &self.uri)
            .env("MONGODB_DATABASE", &self.database)
            .output()
            .expect("shop-admin runs");
        assert!(
            out.status.success(),
            "shop-admin {command} {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The stack's database, for checking what was stored.
    pub async fn db(&self) -> mongodb::Database {
        mongodb::Client::with_uri_str(&self.uri)
            .await
            .expect("a client")
            .database(&self.database)
    }

    /// The running instances of a function (by its binary's name, e.g.
    /// `products-list`): the runner's child processes running that binary.
    pub fn instances(&self, binary_name: &str) -> Vec<u32> {
        let runner = self.runner_pid();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{runner}/task")) else {
            return Vec::new();
        };
        let mut pids: Vec<u32> = tasks
            .filter_map(Result::ok)
            .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
            .flat_map(|children| {
                children
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<u32>>()
            })
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
                    exe.file_name()
                        .is_some_and(|name| name.to_string_lossy() == binary_name)
                })
            })
            .collect();
        pids.sort_unstable();
        pids
    }

    /// The environment of process `pid`.
    pub fn environment(pid: u32) -> Vec<(String, String)> {
        let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        raw.split(|b| *b == 0)
            .filter_map(|entry| {
                let entry = String::from_utf8_lossy(entry);
                let (k, v) = entry.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    found: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), Some(at)) = (&found, line.find("listening on http://")) {
                let _ = tx.send(line[at + "listening on ".len()..].trim().to_owned());
            }
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
}

/// A client whose connections come from `source` (a loopback address such as
/// `127.0.0.2`): another machine, as far as the runner can tell.
pub fn client_from(source: &str) -> reqwest::Client {
    let address: IpAddr = source.parse().expect("an address");
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address)
        // A bound on a hung regression, not a performance check.
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// One answer: status, headers and body (JSON when it is).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
    /// How long the answer took.
    pub took: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request; `token` as a bearer token, `body` as JSON.
pub async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let started = Instant::now();
    let mut request = client.request(method.parse().expect("a method"), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        text,
        body,
        took: started.elapsed(),
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// Registers `name` from `client` and returns the account's id.
pub async fn register(stack: &Stack, client: &reqwest::Client, name: &str) -> String {
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let answer = send(
        client,
        "POST",
        &stack.url("/users/register"),
        None,
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["id"].as_str().expect("an id").to_owned()
}

/// Logs `name` in from `client`.
pub async fn login(stack: &Stack, client: &reqwest::Client, name: &str, password: &str) -> Answer {
    let body = json!({"username": name, "password": password});
    send(
        client,
        "POST",
        &stack.url("/users/login"),
        None,
        Some(&body),
        &[],
    )
    .await
}

/// Registers `name` (an admin if asked) and returns a token.
pub async fn user_token(stack: &Stack, name: &str, admin: bool) -> String {
    let client = client_from("127.0.0.1");
    register(stack, &client, name).await;
    if admin {
        stack.admin("promote", name);
    }
    let answer = login(stack, &client, name, PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// Creates a product as `admin` and returns its id.
pub async fn product(stack: &Stack, admin: &str, name: &str, price: f64) -> String {
    let body = json!({"name": name, "description": "", "price": price, "category": "test"});
    let client = client_from("127.0.0.1");
    let answer = send(
        &client,
        "POST",
        &stack.url("/products"),
        Some(admin),
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["id"].as_str().expect("an id").to_owned()
}

/// Orders `quantity` of `product` as `token`, with an idempotency key if given.
pub async fn order(
    stack: &Stack,
    client: &reqwest::Client,
    token: &str,
    product: &str,
    quantity: u32,
    key: Option<&str>,
) -> Answer {
    let body = json!({"products": [{"productId": product, "quantity": quantity}]});
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    send(
        client,
        "POST",
        &stack.url("/orders"),
        Some(token),
        Some(&body),
        &headers,
    )
    .await
}

/// Words that never reach a client: Rust type names, panics, paths, driver text.
pub const LEAKS: &[&str] = &[
    "alloc::",
    "core::",
    "Box<dyn",
    "panicked",
    "/target/",
    "/home/",
    "mongodb://",
    "Kind:",
    "$argon2",
];

/// Asserts that an answer leaks none of [`LEAKS`].
pub fn assert_no_leak(answer: &Answer) {
    for leak in LEAKS {
        assert!(
            !answer.text.contains(leak),
            "the answer leaks {leak:?}: {}",
            answer.text
        );
    }
}
