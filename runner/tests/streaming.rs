//! Function URLs end to end (`FunctionUrlConfig`, served under
//! `/lambda-url/<LogicalId>/`): buffered ones as payload 2.0 `$default`
//! routes, and `InvokeMode: RESPONSE_STREAM` ones whose bytes reach the client
//! as the function writes them. Real processes, real HTTP; the test function
//! streams through `lambda_runtime`'s own streaming response, and by hand with
//! error trailers.

mod common;

use common::{Runner, within};
use tokio::net::TcpListener;

/// A listener the test function connects to and waits on until it closes.
async fn hold() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// The rest of a streamed body.
async fn rest(response: &mut reqwest::Response) -> String {
    let mut text = String::new();
    while let Some(chunk) = within(response.chunk()).await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn the_first_part_reaches_the_client_while_the_function_still_holds_the_rest() {
    let runner = Runner::start("streaming.yaml", &[]);
    let (listener, port) = hold().await;
    let mut response = within(
        runner
            .client
            .get(runner.url(&format!(
                "/lambda-url/Streamer/any/path?do=stream&port={port}"
            )))
            .header("origin", "https://shop.example")
            .send(),
    )
    .await
    .unwrap();
    // The prelude's status, headers and cookie; the URL's CORS headers.
    assert_eq!(response.status(), 201);
    let headers = response.headers();
    assert_eq!(headers["x-streamed"], "yes");
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["set-cookie"], "s=1; Path=/");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(headers.get("content-length").is_none());
    // The function is now waiting for the test; its first part is here already.
    let (held, _) = within(listener.accept()).await.unwrap();
    let first = within(response.chunk()).await.unwrap().unwrap();
    assert_eq!(first, "first\n");
    drop(held);
    drop(listener);
    assert_eq!(rest(&mut response).await, "second\n");
    // Reported once the stream has ended.
    let report = runner.log_line("REPORT RequestId").await;
    assert!(report.contains("Duration: "), "{report}");

    // A preflight is answered by the runner.
    let preflight = runner
        .client
        .request(
            reqwest::Method::OPTIONS,
            runner.url("/lambda-url/Streamer/x"),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
}

#[tokio::test]
async fn a_stream_that_fails_midway_is_cut_and_the_instance_serves_on() {
    let runner = Runner::start("streaming.yaml", &[]);
    let mut response = within(runner.get("/lambda-url/Streamer/?do=stream-trailer")).await;
    // No prelude: 200, with the content type of the function's upload.
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let first = within(response.chunk()).await.unwrap().unwrap();
    assert_eq!(first, "partial\n");
    // The error trailers cut the client's response off: it cannot pass for whole.
    assert!(within(response.chunk()).await.is_err());
    runner.log_line("Stream.Failed").await;
    // The same instance (the function's only one) streams the next answer.
    let mut next = within(runner.get("/lambda-url/Streamer/?do=stream")).await;
    assert_eq!(next.status(), 201);
    assert_eq!(rest(&mut next).await, "first\nsecond\n");
}

#[tokio::test]
async fn a_stream_is_bounded_by_its_functions_timeout() {
    let runner = Runner::start("streaming.yaml", &[]);
    let (listener, port) = hold().await;
    let mut response =
        within(runner.get(&format!("/lambda-url/Streamer/?do=stream&port={port}"))).await;
    assert_eq!(response.status(), 201);
    let first = within(response.chunk()).await.unwrap().unwrap();
    assert_eq!(first, "first\n");
    // Never released: at its 2 s Timeout the instance is stopped and the
    // stream cut.
    let (_held, _) = within(listener.accept()).await.unwrap();
    assert!(within(response.chunk()).await.is_err());
    runner.log_line("Status: timeout").await;
    let mut next = within(runner.get("/lambda-url/Streamer/?do=stream")).await;
    assert_eq!(rest(&mut next).await, "first\nsecond\n");
}

#[tokio::test]
async fn a_stream_cut_by_the_timeout_before_its_prelude_ends_is_a_504() {
    let runner = Runner::start("streaming.yaml", &[]);
    let (listener, port) = hold().await;
    let pending = tokio::spawn({
        let request = runner.client.get(runner.url(&format!(
            "/lambda-url/Streamer/?do=stream-stall&port={port}"
        )));
        request.send()
    });
    let (_held, _) = within(listener.accept()).await.unwrap();
    let response = within(pending).await.unwrap().unwrap();
    common::problem(response, 504).await;
}

#[tokio::test]
async fn an_error_before_the_first_byte_is_the_gateways_502() {
    let runner = Runner::start("streaming.yaml", &[]);
    common::problem(runner.get("/lambda-url/Streamer/?do=error").await, 502).await;
    // On an API route a stream is gathered whole, as Lambda's Invoke gives it:
    // a prelude and raw bytes are no proxy response.
    let body = common::problem(runner.get("/buffered?do=stream").await, 502).await;
    runner.logged_not_answered(&body, "not JSON").await;
}

#[tokio::test]
async fn a_function_url_gets_the_path_under_its_prefix_and_any_method() {
    let runner = Runner::start("streaming.yaml", &[]);
    let (status, body) = runner.get_json("/lambda-url/Buffered/a/b?x=1").await;
    assert_eq!(status, 200, "{body}");
    let event = &body["event"];
    assert_eq!(event["rawPath"], "/a/b");
    assert_eq!(event["rawQueryString"], "x=1");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert!(event["pathParameters"].is_null(), "{event}");
    for path in ["/lambda-url/Buffered", "/lambda-url/Buffered/"] {
        let response = runner
            .client
            .post(runner.url(path))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["event"]["rawPath"], "/", "{path}");
        assert_eq!(body["event"]["requestContext"]["http"]["method"], "POST");
    }
    common::problem(runner.get("/lambda-url/Nobody/x").await, 404).await;
}
