//! Lambda authorizers of an HTTP API end to end: a test function decides by the
//! `Authorization` header with simple responses and with IAM policies; its
//! context reaches the function; its answers are kept for `ReauthorizeEvery`.
//! Real processes, real HTTP.

mod common;

use common::Runner;
use serde_json::Value;

async fn get(runner: &Runner, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = runner.client.get(runner.url(path));
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    request.send().await.unwrap()
}

/// The authorizer's context as the function got it.
async fn context(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["event"]["requestContext"]["authorizer"]["lambda"].clone()
}

#[tokio::test]
async fn a_simple_response_authorizer_decides_and_its_answer_is_kept() {
    let runner = Runner::start("lambda-auth.yaml", &[]);
    let first = context(get(&runner, "/simple", Some("allow")).await).await;
    assert_eq!(first["user"], "alice");
    assert_eq!(first["type"], "REQUEST");
    assert_eq!(first["identity"], serde_json::json!(["allow"]));
    // Kept for ReauthorizeEvery: the authorizer did not run again.
    let second = context(get(&runner, "/simple", Some("allow")).await).await;
    assert_eq!(second["calls"], first["calls"]);

    common::problem(get(&runner, "/simple", Some("deny")).await, 403).await;
    // No identity source: 401, and the authorizer is not asked.
    common::problem(get(&runner, "/simple", None).await, 401).await;
    // A failing authorizer is the gateway's 502, its reason in the log only.
    let body = common::problem(get(&runner, "/simple", Some("fail")).await, 502).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("authorizer-failed"),
        "{body}"
    );
    runner.logged_not_answered(&body, "failed as asked").await;
}

#[tokio::test]
async fn an_iam_policy_authorizer_allows_by_its_statements() {
    let runner = Runner::start("lambda-auth.yaml", &[]);
    let allowed = context(get(&runner, "/policy", Some("policy-allow")).await).await;
    assert_eq!(allowed["user"], "alice");
    common::problem(get(&runner, "/policy", Some("policy-deny")).await, 403).await;
    // A simple response where a policy is expected gives no decision.
    common::problem(get(&runner, "/policy", Some("allow")).await, 502).await;
    // Not kept (no ReauthorizeEvery): each request asks again.
    let first = context(get(&runner, "/policy", Some("policy-allow")).await).await;
    let second = context(get(&runner, "/policy", Some("policy-allow")).await).await;
    assert_ne!(first["calls"], second["calls"]);
}

#[test]
fn an_authorizer_that_is_not_a_function_of_the_template_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("runner-lambda-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(common::template("lambda-auth.yaml"))
        .unwrap()
        .replace(
            "!GetAtt Gatekeeper.Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:Elsewhere",
        )
        .replace(
            "../../test-functions",
            &common::template("../../test-functions")
                .display()
                .to_string(),
        );
    let path = dir.join("template.yaml");
    std::fs::write(&path, text).unwrap();
    let message = common::start_failure(path.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        message.contains("not a function of this template"),
        "{message}"
    );
}
