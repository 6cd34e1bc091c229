//! The runner's own answers: 404, 405 with Allow, 413, all as problem+json.

mod common;

use common::{Runner, problem};

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/nowhere").await;
    let request_id = response.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = problem(response, 404).await;
    assert_eq!(body["requestId"], request_id.as_str());
}

#[tokio::test]
async fn a_known_path_with_another_method_is_a_405_listing_the_allowed_ones() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .delete(runner.url("/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    problem(response, 405).await;
}

#[tokio::test]
async fn a_body_over_6_mb_is_a_413() {
    let runner = Runner::start("functions.yaml", &[]);
    let body = vec![b'a'; 6 * 1024 * 1024 + 1];
    let response = runner
        .client
        .post(runner.url("/echo"))
        .body(body)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
}

#[tokio::test]
async fn the_problem_type_prefix_can_be_chosen() {
    let runner = Runner::start(
        "functions.yaml",
        &["--problem-type-base", "https://example.invalid/p/"],
    );
    let body = problem(runner.get("/nowhere").await, 404).await;
    assert_eq!(body["type"], "https://example.invalid/p/not-found");
}
