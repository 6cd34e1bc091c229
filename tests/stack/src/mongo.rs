//! The MongoDB-wire server a stack runs on.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{free_port, signal, unique, wait_for_port};

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
