//! `runner --watch` end to end: a throwaway workspace (a function built from two
//! crates, std only so that it builds in a moment) served with `--watch`, its
//! sources and template edited while a load loop runs. Real cargo builds, real
//! processes, real HTTP.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Runner;

/// The longest a rebuild may take before the test gives up: a bound on a
/// hung regression on a loaded machine, not a performance check.
const REBUILD: Duration = Duration::from_secs(180);

struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = std::env::temp_dir().join(format!("watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |path: &str, text: &str| {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"hello\", \"greeting\"]\nresolver = \"2\"\n",
        );
        write(
            "hello/Cargo.toml",
            "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ngreeting = { path = \"../greeting\" }\n",
        );
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/watch/hello.rs");
        write(
            "hello/src/main.rs",
            &std::fs::read_to_string(source).unwrap(),
        );
        write(
            "greeting/Cargo.toml",
            "[package]\nname = \"greeting\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        );
        let workspace = Workspace { dir };
        workspace.greet("\"v1\"");
        workspace.template("", "");
        workspace
    }

    /// The greeting crate's source, saved as an editor saves it.
    fn greet(&self, text: &str) {
        let lib = format!("pub fn text() -> &'static str {{\n    {text}\n}}\n");
        self.save("greeting/src/lib.rs", &lib);
    }

    fn template(&self, suffix: &str, extra_event: &str) {
        let template = format!(
            "AWSTemplateFormatVersion: \"2010-09-09\"\n\
             Transform: AWS::Serverless-2016-10-31\n\
             Resources:\n  \
               HelloFunction:\n    \
                 Type: AWS::Serverless::Function\n    \
                 Properties:\n      \
                   CodeUri: hello\n      \
                   Runtime: provided.al2023\n      \
                   Handler: bootstrap\n      \
                   Timeout: 5\n      \
                   Environment:\n        \
                     Variables:\n          \
                       SUFFIX: \"{suffix}\"\n      \
                   Events:\n        \
                     Get:\n          \
                       Type: HttpApi\n          \
                       Properties:\n            \
                         Path: /hello\n            \
                         Method: GET\n{extra_event}"
        );
        self.save("template.yaml", &template);
    }

    /// Writes a file the way editors do: a new file renamed over the old.
    fn save(&self, path: &str, text: &str) {
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let fresh = path.with_extension("saving");
        std::fs::write(&fresh, text).unwrap();
        std::fs::rename(fresh, path).unwrap();
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const HI_EVENT: &str = "        Hi:\n          Type: HttpApi\n          Properties:\n            \
                        Path: /hi\n            Method: GET\n";

async fn text(runner: &Runner, path: &str) -> (u16, String) {
    let response = runner.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Asks `path` until the answer starts with `prefix`.
async fn until_answer(runner: &Runner, path: &str, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let (status, body) = text(runner, path).await;
        if status == 200 && body.starts_with(prefix) {
            return body;
        }
        assert!(
            started.elapsed() < REBUILD,
            "never answered {prefix:?} (last: {status} {body}):\n{}",
            runner.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn until_logged(runner: &Runner, needle: &str, after: usize) {
    let started = Instant::now();
    while !runner.stderr()[after..].contains(needle) {
        assert!(
            started.elapsed() < REBUILD,
            "never logged {needle:?}:\n{}",
            runner.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pid_of(body: &str) -> u32 {
    body.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A compile error, then a build that compiles but does not start: each is
/// said so, and the last good build (answering `v2`) serves on.
async fn a_broken_build_changes_nothing(runner: &Arc<Runner>, workspace: &Workspace) {
    // A compile error: said so, and the last good build serves on.
    let before = runner.stderr().len();
    workspace.greet("not_a_string");
    until_logged(
        runner,
        "the build failed; still serving the last good build",
        before,
    )
    .await;
    let (status, body) = text(runner, "/hello").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("v2 "), "{body}");

    // A build that compiles but does not start: said so, and the last good
    // build serves on, also from instances started after it (each generation
    // runs its own copy of the binary, which the build did not touch).
    let before = runner.stderr().len();
    workspace.greet("\"crash\"");
    until_logged(
        runner,
        "the new build does not start; still serving the last good build",
        before,
    )
    .await;
    let scale_out: Vec<_> = (0..3)
        .map(|_| {
            let runner = Arc::clone(runner);
            tokio::spawn(async move { text(&runner, "/hello?slow=1").await })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for answer in scale_out {
        let (status, body) = answer.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("v2 "), "{body}");
        pids.insert(pid_of(&body));
    }
    assert!(
        pids.len() > 1,
        "the slow requests did not start new instances"
    );
}

#[tokio::test]
async fn edits_are_served_without_a_failed_request_and_a_broken_build_changes_nothing() {
    let workspace = Workspace::new();
    let target = workspace.dir.join("target").display().to_string();
    let template = workspace.dir.join("template.yaml").display().to_string();
    // The runner builds the workspace itself before it listens.
    let runner = Arc::new(Runner::start(
        &template,
        &["--watch", "--target-dir", &target],
    ));
    let first = until_answer(&runner, "/hello", "v1").await;

    // A load loop across every swap.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (runner, stop) = (runner.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                seen.push(text(&runner, "/hello").await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    // A slow request in flight on the first generation when it is replaced.
    let slow = {
        let runner = runner.clone();
        tokio::spawn(async move { text(&runner, "/hello?slow=1").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A change to a crate the function builds on: rebuilt and served.
    workspace.greet("\"v2\"");
    let second = until_answer(&runner, "/hello", "v2").await;
    assert_ne!(pid_of(&second), pid_of(&first));
    // The request in flight finished on the first generation; then every
    // instance of that generation stopped.
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("v1"), "{body}");
    let started = Instant::now();
    for pid in [pid_of(&first), pid_of(&body)] {
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "an old instance still runs"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    a_broken_build_changes_nothing(&runner, &workspace).await;

    // Fixed: served.
    workspace.greet("\"v3\"");
    until_answer(&runner, "/hello", "v3 ").await;

    // A template that does not load changes nothing; a good edit reloads the
    // environment and the routes.
    let before = runner.stderr().len();
    workspace.save("template.yaml", "Resources: [");
    until_logged(&runner, "the template does not load", before).await;
    assert_eq!(text(&runner, "/hello").await.0, 200);
    workspace.template("!", HI_EVENT);
    until_answer(&runner, "/hello", "v3! ").await;
    assert_eq!(text(&runner, "/hi").await.0, 200);

    stop.store(true, Ordering::SeqCst);
    let seen = load.await.unwrap();
    println!("load loop: {} requests across the swaps", seen.len());
    let failed: Vec<_> = seen.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "requests failed during the swaps: {failed:?}"
    );
    for version in ["v1 ", "v2 ", "v3 ", "v3! "] {
        assert!(
            seen.iter().any(|(_, body)| body.starts_with(version)),
            "the load loop never saw {version:?}"
        );
    }
}

#[tokio::test]
async fn an_edited_python_handler_is_served_by_fresh_instances() {
    let dir = std::env::temp_dir().join(format!("watch-py-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("code")).unwrap();
    let workspace = Workspace { dir };
    let handler = |text: &str| {
        format!(
            "import os\n\ndef handler(event, context):\n    \
             return {{'statusCode': 200, 'body': '{text} ' + str(os.getpid())}}\n"
        )
    };
    workspace.save("code/app.py", &handler("first"));
    workspace.save(
        "template.yaml",
        "Resources:\n  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
         CodeUri: code\n      Runtime: python3.12\n      Handler: app.handler\n      \
         Events:\n        Get:\n          Type: HttpApi\n          Properties:\n            \
         Path: /py\n            Method: GET\n",
    );
    let template = workspace.dir.join("template.yaml").display().to_string();
    let path = common::path_with_venv();
    let runner = Runner::start_with_env(&template, &["--watch"], &[("PATH", &path)]);
    let first = until_answer(&runner, "/py", "first").await;
    workspace.save("code/app.py", &handler("second"));
    let second = until_answer(&runner, "/py", "second").await;
    assert_ne!(pid_of(&first), pid_of(&second));
}
