//! CORS from the template's API settings: preflights answered by the runner
//! without running a function, and an HTTP API's headers on its answers for
//! allowed origins only. Real processes, real HTTP.

mod common;

use common::Runner;
use reqwest::header::HeaderMap;

async fn preflight(runner: &Runner, path: &str, origin: &str, method: &str) -> (u16, HeaderMap) {
    let response = runner
        .client
        .request(reqwest::Method::OPTIONS, runner.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn preflights_are_answered_from_the_apis_settings_without_a_function() {
    let runner = Runner::start("cors.yaml", &[]);
    let (status, headers) = preflight(&runner, "/shop", "https://shop.example", "GET").await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
    assert_eq!(
        header(&headers, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(header(&headers, "apigw-requestid").is_some());

    // Another origin, or a method the API does not allow: no CORS headers.
    for (origin, method) in [
        ("https://evil.example", "GET"),
        ("https://shop.example", "DELETE"),
    ] {
        let (status, headers) = preflight(&runner, "/shop", origin, method).await;
        assert_eq!(status, 204);
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            None,
            "{origin} {method}"
        );
    }

    // `CorsConfiguration: true` in Globals: any origin.
    let (_, headers) = preflight(&runner, "/open", "https://anyone.example", "GET").await;
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&headers, "access-control-allow-headers"), Some("*"));

    // A REST API's `Cors`.
    let (_, headers) = preflight(&runner, "/legacy", "https://old.example", "GET").await;
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://old.example")
    );

    // An OPTIONS request that is not a preflight is routed as usual: no route.
    let plain = runner
        .client
        .request(reqwest::Method::OPTIONS, runner.url("/shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 405);

    // No function ran for any of them.
    assert!(
        !runner.stdout().contains("START RequestId"),
        "{}",
        runner.stdout()
    );
}

#[tokio::test]
async fn an_http_apis_answers_carry_its_headers_for_allowed_origins_only() {
    let runner = Runner::start("cors.yaml", &[]);
    let get = |path: &'static str, origin: &'static str| {
        let request = runner.client.get(runner.url(path)).header("origin", origin);
        async move { request.send().await.unwrap() }
    };
    let allowed = get("/shop", "https://shop.example").await;
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_eq!(
        header(headers, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        header(headers, "access-control-expose-headers"),
        Some("x-request-id")
    );
    assert_eq!(header(headers, "vary"), Some("Origin"));

    let stranger = get("/shop", "https://evil.example").await;
    assert_eq!(stranger.status(), 200);
    assert_eq!(
        header(stranger.headers(), "access-control-allow-origin"),
        None
    );

    let open = get("/open", "https://anyone.example").await;
    assert_eq!(
        header(open.headers(), "access-control-allow-origin"),
        Some("*")
    );

    // A REST API leaves the answer's headers to the function.
    let legacy = get("/legacy", "https://old.example").await;
    assert_eq!(legacy.status(), 200);
    assert_eq!(
        header(legacy.headers(), "access-control-allow-origin"),
        None
    );
}
