//! Functions that are not cargo binaries: a Python handler run by AWS's runtime
//! interface client (`Runtime: python3.12`) and the same handler behind a
//! custom runtime's executable `bootstrap` (`Runtime: provided.al2023`). Real
//! Python processes, real HTTP.
//!
//! They need a Python with `awslambdaric` (from PyPI): the project venv's, which
//! `scripts/test` provides (see `common::venv_bin`).

mod common;

use std::path::Path;

use common::{Runner, path_with_venv};

fn python_runner(extra: &[&str]) -> Runner {
    Runner::start_with_env("python.yaml", extra, &[("PATH", &path_with_venv())])
}

async fn answers_as_lambda_would(runner: &Runner, prefix: &str, name: &str) {
    let response = runner
        .client
        .get(runner.url(&format!("{prefix}/hello?colour=red")))
        .header("cookie", "a=1; b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies, ["flavour=python; Path=/", "session=abc; HttpOnly"]);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["version"], "2.0", "{body}");
    assert_eq!(body["routeKey"], format!("ANY {prefix}/{{proxy+}}"));
    assert_eq!(body["query"]["colour"], "red");
    assert_eq!(body["cookies"], serde_json::json!(["a=1", "b=2"]));
    assert_eq!(body["functionName"], name);
    assert_eq!(
        body["arn"],
        format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
    );
    assert_eq!(body["memoryMb"], "256");
    assert!(body["requestId"].as_str().is_some_and(|id| id.len() == 36));
    let remaining = body["remainingMs"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 2000, "{body}");
    let env = &body["env"];
    assert_eq!(env["TEST_VAR"], "from-the-template");
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], name);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    let task_root =
        std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")).unwrap();
    let seen_root = std::fs::canonicalize(env["LAMBDA_TASK_ROOT"].as_str().unwrap()).unwrap();
    assert_eq!(seen_root, task_root);
    assert_eq!(
        std::fs::canonicalize(body["cwd"].as_str().unwrap()).unwrap(),
        task_root
    );
}

#[tokio::test]
async fn a_python_runtime_runs_its_handler_with_awslambdaric() {
    let runner = python_runner(&[]);
    answers_as_lambda_would(&runner, "/py", "PyHandler").await;
    let (_, body) = runner.get_json("/py/again").await;
    assert_eq!(body["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
    assert!(
        runner.stderr().contains("kind=\"python (awslambdaric)\""),
        "{}",
        runner.stderr()
    );
}

#[tokio::test]
async fn an_executable_bootstrap_in_code_uri_runs_as_a_custom_runtime() {
    let runner = python_runner(&[]);
    answers_as_lambda_would(&runner, "/boot", "py-behind-bootstrap").await;
    let (_, body) = runner.get_json("/boot/again").await;
    // A custom runtime: no AWS_EXECUTION_ENV, as on Lambda.
    assert!(body["env"]["AWS_EXECUTION_ENV"].is_null(), "{body}");
}

#[tokio::test]
async fn an_exception_is_a_502_a_timeout_a_504_and_the_next_request_is_served() {
    let runner = python_runner(&[]);
    for prefix in ["/py", "/boot"] {
        let (_, first) = runner.get_json(&format!("{prefix}/warm")).await;
        let failed = runner.get(&format!("{prefix}/fail")).await;
        let body = common::problem(failed, 502).await;
        // The exception's text is logged, not answered.
        runner
            .logged_not_answered(&body, "the handler failed on purpose")
            .await;
        // An exception does not end the process: the same instance answers.
        let (status, after) = runner.get_json(&format!("{prefix}/after-error")).await;
        assert_eq!(status, 200);
        assert_eq!(after["pid"], first["pid"]);
        let slow = runner.get(&format!("{prefix}/sleep")).await;
        common::problem(slow, 504).await;
        // The timed-out instance is replaced by a fresh one.
        let (status, fresh) = runner.get_json(&format!("{prefix}/after-timeout")).await;
        assert_eq!(status, 200);
        assert_ne!(fresh["pid"], first["pid"]);
    }
}

#[test]
fn a_python_without_awslambdaric_is_refused_at_start_naming_the_package() {
    // A `python3` that can import nothing.
    let dir = std::env::temp_dir().join(format!("no-ric-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("python3");
    std::fs::write(&fake, "#!/bin/sh\nexit 1\n").unwrap();
    let mut permissions = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&fake, permissions).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.display());
    let stderr = common::start_failure_with_env("python.yaml", &[("PATH", &path)]);
    assert!(stderr.contains("function PyHandler"), "{stderr}");
    assert!(stderr.contains("pip install awslambdaric"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_runtime_the_runner_cannot_run_is_refused_at_start() {
    let stderr = common::start_failure("unsupported-runtime.yaml");
    assert!(
        stderr.contains("function NodeFunction: runtime nodejs20.x cannot run here"),
        "{stderr}"
    );
}

#[test]
fn a_bootstrap_built_for_another_machine_is_refused_naming_both() {
    // `sam build`'s layout: <build dir>/<LogicalId>/bootstrap, here an ELF
    // header for the other architecture.
    let build = std::env::temp_dir().join(format!("sam-build-{}", std::process::id()));
    let folder = build.join("PyBootstrap");
    std::fs::create_dir_all(&folder).unwrap();
    let other: u16 = if cfg!(target_arch = "x86_64") {
        183
    } else {
        62
    };
    let mut header = b"\x7fELF\x02\x01\x01".to_vec();
    header.resize(18, 0);
    header.extend(other.to_le_bytes());
    header.resize(64, 0);
    let bootstrap = folder.join("bootstrap");
    std::fs::write(&bootstrap, header).unwrap();
    let mut permissions = std::fs::metadata(&bootstrap).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&bootstrap, permissions).unwrap();
    let build_dir = build.display().to_string();
    let stderr = common::start_failure_with(
        "python.yaml",
        &["--build-dir", &build_dir],
        &[("PATH", &path_with_venv())],
    );
    assert!(stderr.contains("function PyBootstrap"), "{stderr}");
    assert!(stderr.contains("this machine is"), "{stderr}");
    assert!(
        stderr.contains(&bootstrap.display().to_string()),
        "{stderr}"
    );
    std::fs::remove_dir_all(build).unwrap();
}

#[tokio::test]
async fn a_function_folder_under_build_dir_is_its_code() {
    // `sam build` copies each function's code to <build dir>/<LogicalId>/.
    let build = std::env::temp_dir().join(format!("sam-built-{}", std::process::id()));
    let folder = build.join("PyBootstrap");
    std::fs::create_dir_all(&folder).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    for file in ["app.py", "bootstrap"] {
        std::fs::copy(source.join(file), folder.join(file)).unwrap();
    }
    let build_dir = build.display().to_string();
    let runner = Runner::start_with_env(
        "python.yaml",
        &["--build-dir", &build_dir],
        &[("PATH", &path_with_venv())],
    );
    let (status, body) = runner.get_json("/boot/built").await;
    assert_eq!(status, 200);
    let folder = std::fs::canonicalize(&folder).unwrap();
    let root = std::fs::canonicalize(body["env"]["LAMBDA_TASK_ROOT"].as_str().unwrap()).unwrap();
    assert_eq!(root, folder);
    // A function with no folder there runs from its CodeUri.
    let (_, body) = runner.get_json("/py/not-built").await;
    let root = std::fs::canonicalize(body["env"]["LAMBDA_TASK_ROOT"].as_str().unwrap()).unwrap();
    assert_eq!(root, std::fs::canonicalize(source).unwrap());
    drop(runner);
    std::fs::remove_dir_all(build).unwrap();
}
