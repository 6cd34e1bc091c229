//! Lambda authorizers end to end, an HTTP API's (payload 2.0 and 1.0) and a
//! REST API's (`TOKEN` and `REQUEST`): a test function decides by its token
//! with simple responses and with IAM policies; its context reaches the
//! function; its answers are kept for `ReauthorizeEvery`. Real processes, real
//! HTTP.

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

/// The REST authorizer's context as the function got it: flat, beside
/// `principalId`.
async fn rest_context(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["event"]["requestContext"]["authorizer"].clone()
}

#[tokio::test]
async fn a_rest_token_authorizer_gets_the_token_and_its_policy_is_kept_for_five_minutes() {
    let runner = Runner::start("lambda-auth.yaml", &[]);
    let first = rest_context(get(&runner, "/rest/token/7", Some("policy-allow")).await).await;
    assert_eq!(first["principalId"], "bob");
    assert_eq!(first["user"], "alice");
    assert_eq!(first["type"], "TOKEN");
    // Values come as strings, as a REST API passes them.
    assert!(first["calls"].is_string(), "{first}");
    let arn = first["arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:execute-api:") && arn.ends_with("/Prod/GET/rest/token/7"),
        "{arn}"
    );
    // Kept (300 s unless set): the authorizer did not run again.
    let second = rest_context(get(&runner, "/rest/token/7", Some("policy-allow")).await).await;
    assert_eq!(second["calls"], first["calls"]);
    // A kept policy is checked against each request's method: it names /7 only.
    common::problem(
        get(&runner, "/rest/token/8", Some("policy-allow")).await,
        403,
    )
    .await;
    common::problem(
        get(&runner, "/rest/token/7", Some("policy-deny")).await,
        403,
    )
    .await;
    // No token, or one that fails ValidationExpression: 401 unasked.
    common::problem(get(&runner, "/rest/token/7", None).await, 401).await;
    common::problem(get(&runner, "/rest/token/7", Some("allow")).await, 401).await;
    // The error "Unauthorized" is a 401; any other failure a 502.
    common::problem(
        get(&runner, "/rest/token/7", Some("unauthorized")).await,
        401,
    )
    .await;
    common::problem(get(&runner, "/rest/token/7", Some("fail")).await, 502).await;
    // A route with Authorizer: NONE needs nothing.
    assert_eq!(get(&runner, "/rest/open", None).await.status(), 200);
}

#[tokio::test]
async fn a_rest_request_authorizer_and_a_version_1_authorizer_get_the_request() {
    let runner = Runner::start("lambda-auth.yaml", &[]);
    let asked = |key: &str| {
        runner
            .client
            .get(runner.url(&format!("/rest/request?key={key}")))
            .send()
    };
    let first = rest_context(asked("policy-allow").await.unwrap()).await;
    assert_eq!(first["type"], "REQUEST");
    assert!(
        first["arn"]
            .as_str()
            .unwrap()
            .ends_with("/Prod/GET/rest/request"),
        "{first}"
    );
    // ReauthorizeEvery: 0 asks every time.
    let second = rest_context(asked("policy-allow").await.unwrap()).await;
    assert_ne!(second["calls"], first["calls"]);
    common::problem(asked("policy-deny").await.unwrap(), 403).await;
    common::problem(
        runner
            .client
            .get(runner.url("/rest/request"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;

    // An HTTP API's payload 1.0 authorizer: a REST-style event that names its
    // identity, answered with a policy.
    let v1 = context(get(&runner, "/v1", Some("policy-allow")).await).await;
    assert_eq!(v1["type"], "REQUEST");
    assert_eq!(v1["identity"], "policy-allow");
    common::problem(get(&runner, "/v1", Some("policy-deny")).await, 403).await;
    common::problem(get(&runner, "/v1", Some("allow")).await, 502).await;
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
