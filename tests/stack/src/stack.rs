//! The runner serving `template.yaml`, started and stopped for one test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::mongo::shared_mongo_uri;
use crate::process::{binary, root, target_dir, unique};

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
        let service = uuid::Uuid::new_v4().simple().to_string().repeat(2);
        std::fs::write(
            &secrets,
            format!("shop/jwt-secret={secret}\nshop/service-token-secret={service}\n"),
        )
        .expect("secrets file");
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
        self.shop_admin(&[command, user], &[]);
    }

    /// Runs `shop-admin reconcile` against this stack's database, releasing
    /// reservations older than `ttl_seconds`.
    pub fn reconcile(&self, ttl_seconds: u64) {
        self.shop_admin(
            &["reconcile"],
            &[("RESERVATION_TTL_SECONDS", &ttl_seconds.to_string())],
        );
    }

    fn shop_admin(&self, args: &[&str], env: &[(&str, &str)]) {
        let out = Command::new(binary("shop-admin"))
            .args(args)
            .envs(env.iter().copied())
            .env("MONGODB_URI", &self.uri)
            .env("MONGODB_DATABASE", &self.database)
            .output()
            .expect("shop-admin runs");
        assert!(
            out.status.success(),
            "shop-admin {}: {}",
            args.join(" "),
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
