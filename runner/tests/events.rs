//! Requests reach functions as API Gateway events (2.0 and 1.0), and their results
//! come back as API Gateway would send them.

mod common;

use base64::Engine as _;
use common::Runner;

#[tokio::test]
async fn http_api_events_carry_path_query_headers_cookies_and_context() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .get(runner.url("/echo?a=1&a=2&b=x%20y"))
        .header("cookie", "c1=1; c2=2")
        .header("x-custom", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["apigw-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    let event = &body["event"];
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /echo");
    assert_eq!(event["rawPath"], "/echo");
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(event["queryStringParameters"]["a"], "1,2");
    assert_eq!(event["queryStringParameters"]["b"], "x y");
    assert_eq!(event["cookies"], serde_json::json!(["c1=1", "c2=2"]));
    assert_eq!(event["headers"]["x-custom"], "yes");
    assert!(
        event["headers"].get("cookie").is_none(),
        "2.0 moves cookies out of headers"
    );
    let context = &event["requestContext"];
    assert_eq!(context["http"]["method"], "GET");
    assert_eq!(context["http"]["path"], "/echo");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["requestId"], request_id.as_str());
    assert_eq!(body["context"]["requestId"], request_id.as_str());
    assert!(context["timeEpoch"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(context["time"].as_str().unwrap().ends_with(" +0000"));
    assert!(context["domainName"].is_string());
    assert!(event["isBase64Encoded"] == false && event.get("body").is_none());
}

#[tokio::test]
async fn rest_api_events_use_payload_1_0_with_multi_value_fields() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner
        .client
        .post(runner.url("/v1/items/42?tag=a&tag=b"))
        .header("content-type", "application/json")
        .body(r#"{"x":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let event = &body["event"];
    assert_eq!(event["resource"], "/v1/items/{id}");
    assert_eq!(event["path"], "/v1/items/42");
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["pathParameters"]["id"], "42");
    assert_eq!(event["queryStringParameters"]["tag"], "b");
    assert_eq!(
        event["multiValueQueryStringParameters"]["tag"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        event["multiValueHeaders"]["content-type"],
        serde_json::json!(["application/json"])
    );
    assert_eq!(event["body"], r#"{"x":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["requestContext"]["stage"], "Prod");
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(body["env"]["AWS_LAMBDA_FUNCTION_NAME"], "echo-v1");
}

#[tokio::test]
async fn path_parameters_and_greedy_paths_reach_the_function() {
    let runner = Runner::start("functions.yaml", &[]);
    let (status, body) = runner.get_json("/items/abc%20def").await;
    assert_eq!(status, 200);
    assert_eq!(body["event"]["pathParameters"]["id"], "abc def");
    assert_eq!(body["event"]["routeKey"], "GET /items/{id}");
    let response = runner
        .client
        .delete(runner.url("/files/a/b/c.txt"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["event"]["pathParameters"]["proxy"], "a/b/c.txt");
    assert_eq!(body["event"]["routeKey"], "ANY /files/{proxy+}");
    assert_eq!(body["event"]["requestContext"]["http"]["method"], "DELETE");
}

#[tokio::test]
async fn a_binary_request_body_arrives_base64_encoded() {
    let runner = Runner::start("functions.yaml", &[]);
    let bytes = vec![0u8, 159, 146, 150, 255];
    let response = runner
        .client
        .post(runner.url("/echo"))
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["event"]["isBase64Encoded"], true);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(body["event"]["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, bytes);
}

#[tokio::test]
async fn a_base64_response_body_is_sent_as_bytes() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/echo?do=binary").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        [0u8, 1, 2, 0xfe, 0xff]
    );
}

#[tokio::test]
async fn cookies_and_multi_value_headers_become_response_headers_where_their_payload_has_them() {
    let runner = Runner::start("functions.yaml", &[]);
    // The same result through payload 1.0: multiValueHeaders count, cookies do not.
    let response = runner.get("/v1/echo?do=cookies").await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("set-cookie").is_none());
    let multi: Vec<_> = response
        .headers()
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    // Payload 2.0: cookies count, multiValueHeaders do not.
    let response = runner.get("/echo?do=cookies").await;
    assert_eq!(response.status(), 201);
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
    assert!(response.headers().get("x-multi").is_none());
    assert_eq!(response.text().await.unwrap(), "cookies set");
}

#[tokio::test]
async fn a_2_0_result_without_status_code_is_a_json_200_and_a_1_0_one_is_a_502() {
    let runner = Runner::start("functions.yaml", &[]);
    let response = runner.get("/echo?do=raw").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), r#"{"hello":"world"}"#);
    let body = common::problem(runner.get("/v1/echo?do=raw").await, 502).await;
    runner.logged_not_answered(&body, "statusCode").await;
}

#[tokio::test]
async fn the_runtime_api_headers_and_the_environment_reach_the_function() {
    let runner = Runner::start(
        "functions.yaml",
        &["--parameter-overrides", "Greeting=hi", "Colour=green"],
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (status, body) = runner.get_json("/echo").await;
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(status, 200);
    let deadline = body["context"]["deadlineMs"].as_u64().unwrap();
    // Timeout is 2 s (Globals): the deadline is an epoch time that far after dispatch.
    assert!(
        deadline >= before + 2000 && deadline <= after + 2000,
        "{before} {deadline} {after}"
    );
    assert_eq!(
        body["context"]["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    );
    assert!(
        body["context"]["traceId"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "Echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert!(
        env["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(env["TEST_GLOBAL"], "from-globals");
    assert_eq!(env["TEST_GREETING"], "hi");
    assert_eq!(env["TEST_COLOUR"], "green");
    assert_eq!(env["TEST_SUB"], "us-east-1-hi-123456789012-aws");
    assert_eq!(env["TEST_SUB_VARS"], "local-stack");
    assert_eq!(
        env["TEST_OTHER_ARN"],
        "arn:aws:lambda:us-east-1:123456789012:function:echo-v1"
    );
    assert_eq!(env["TEST_JOIN"], "a:b:amazonaws.com");
}

#[tokio::test]
async fn a_callers_trace_root_reaches_the_function_and_a_forged_one_does_not() {
    let runner = Runner::start("functions.yaml", &[]);
    let root = "1-6751a1b2-0123456789abcdef01234567";
    let trace_of = |header: String| {
        let request = runner
            .client
            .get(runner.url("/echo"))
            .header("x-amzn-trace-id", header);
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["context"]["traceId"].as_str().unwrap().to_owned()
        }
    };
    let joined = trace_of(format!("Root={root};Parent=1111111111111111;Sampled=1")).await;
    assert!(
        joined.starts_with(&format!("Root={root};Parent=")),
        "{joined}"
    );
    assert!(joined.ends_with(";Sampled=1"), "{joined}");
    assert!(
        !joined.contains("1111111111111111"),
        "the runner's own segment: {joined}"
    );
    // A root that is not an X-Ray root starts a trace of the runner's own.
    let fresh = trace_of("Root=1-6751a1b2-0123;X=\"y\"".to_owned()).await;
    assert!(
        fresh.starts_with("Root=1-") && !fresh.contains("6751a1b2-0123;"),
        "{fresh}"
    );
    assert!(fresh.ends_with(";Sampled=0"), "{fresh}");
}

#[tokio::test]
async fn an_env_file_adds_variables_to_every_function() {
    let dir = std::env::temp_dir().join(format!("runner-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.env");
    std::fs::write(
        &file,
        "# shared\nTEST_FROM_FILE=\"file value\"\nTEST_GREETING=overridden\n",
    )
    .unwrap();
    let runner = Runner::start("functions.yaml", &["--env-file", file.to_str().unwrap()]);
    let (_, body) = runner.get_json("/echo").await;
    assert_eq!(body["env"]["TEST_FROM_FILE"], "file value");
    assert_eq!(body["env"]["TEST_GREETING"], "overridden");
    let _ = std::fs::remove_dir_all(dir);
}

async fn forwarded_as(runner: &Runner, path: &str, claim: &str) -> (String, String, String) {
    let response = runner
        .client
        .get(runner.url(path))
        .header("x-forwarded-for", claim)
        .header("x-forwarded-proto", "1")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let event = &body["event"];
    let source_ip = if path == "/echo" {
        &event["requestContext"]["http"]["sourceIp"]
    } else {
        &event["requestContext"]["identity"]["sourceIp"]
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(source_ip),
        text(&event["headers"]["x-forwarded-for"]),
        text(&event["headers"]["x-forwarded-proto"]),
    )
}

#[tokio::test]
async fn the_source_ip_is_the_peer_whatever_x_forwarded_for_claims() {
    let runner = Runner::start("functions.yaml", &[]);
    for path in ["/echo", "/v1/echo"] {
        // As API Gateway does, the gateway's own X-Forwarded-* replace the client's.
        let (source, forwarded_for, proto) = forwarded_as(&runner, path, "203.0.113.9").await;
        assert_eq!(source, "127.0.0.1", "{path}");
        assert_eq!(forwarded_for, "127.0.0.1", "{path}");
        assert_eq!(proto, "http", "{path}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let runner = Runner::start("functions.yaml", &["--trusted-proxy", "127.0.0.0/8"]);
    for path in ["/echo", "/v1/echo"] {
        let (source, forwarded_for, proto) = forwarded_as(&runner, path, "203.0.113.9").await;
        assert_eq!(source, "203.0.113.9", "{path}");
        assert_eq!(forwarded_for, "203.0.113.9, 127.0.0.1", "{path}");
        assert_eq!(proto, "http", "{path}");
    }
}

#[tokio::test]
async fn parameter_overrides_can_come_from_the_environment_and_stay_out_of_help() {
    let runner = Runner::start_with_env(
        "functions.yaml",
        &[],
        &[(
            "RUNNER_PARAMETER_OVERRIDES",
            "Greeting=from-env Colour=green",
        )],
    );
    let (_, body) = runner.get_json("/echo").await;
    assert_eq!(body["env"]["TEST_GREETING"], "from-env");
    assert_eq!(body["env"]["TEST_COLOUR"], "green");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("--help")
        .env("RUNNER_PARAMETER_OVERRIDES", "JwtSecret=do-not-print")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("RUNNER_PARAMETER_OVERRIDES"), "{help}");
    assert!(!help.contains("do-not-print"), "{help}");
}
