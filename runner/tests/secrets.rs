//! Dynamic references in a template resolve from the secrets file, for the functions
//! that name them only; one left unresolved stops the runner.

mod common;

use common::Runner;

fn secrets_file(lines: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "runner-secrets-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::write(&path, lines).unwrap();
    path
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn a_secret_reaches_only_the_functions_that_name_it() {
    let file = secrets_file("app/signing-key=k3y-value\napp/db={\"password\":\"pw\"}\n");
    let runner = Runner::start("secrets.yaml", &["--secrets-file", file.to_str().unwrap()]);
    let (_, signer) = runner.get_json("/signer").await;
    assert_eq!(signer["env"]["TEST_SECRET"], "k3y-value");
    assert_eq!(signer["env"]["TEST_JSON_KEY"], "pw");
    let (_, reader) = runner.get_json("/reader").await;
    assert_eq!(reader["env"]["TEST_PLAIN"], "plain");
    assert!(reader["env"].get("TEST_SECRET").is_none(), "{reader}");
    assert!(!reader.to_string().contains("k3y-value"));
    let _ = std::fs::remove_file(file);
}

#[test]
fn an_unresolved_reference_stops_the_runner_and_says_what_to_add() {
    let stderr = common::start_failure("secrets.yaml");
    assert!(
        stderr.contains("resource Signer, variable TEST"),
        "{stderr}"
    );
    assert!(stderr.contains("--secrets-file"), "{stderr}");
}

#[test]
fn a_reference_given_through_the_env_file_is_refused_too() {
    let file = secrets_file("app/signing-key=k\napp/db={\"password\":\"pw\"}\n");
    let env = secrets_file("TEST_PLAIN={{resolve:secretsmanager:other}}\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["--template"])
        .arg(common::template("secrets.yaml"))
        .args(["--port", "0", "--binaries", "debug", "--secrets-file"])
        .arg(&file)
        .arg("--env-file")
        .arg(&env)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("left unresolved"), "{stderr}");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(env);
}
