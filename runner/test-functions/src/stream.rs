//! Streamed answers (`Lambda-Runtime-Function-Response-Mode: streaming`):
//! `stream` through `lambda_runtime`'s own streaming response, with a prelude;
//! `stream-trailer` by hand, with the error trailers a runtime sends when it
//! fails after its first bytes; `stream-stall` by hand, stopping halfway
//! through its prelude.

use base64::Engine as _;
use lambda_runtime::streaming::{Body, Response, channel};
use lambda_runtime::{Error, FunctionResponse, MetadataPrelude};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `do=stream`: status 201, a header and a cookie in the prelude; the body
/// `first\n`, then (once the test closes `port`, when given) `second\n`.
pub(crate) fn prelude_and_two_parts(port: Option<String>) -> FunctionResponse<Value, Body> {
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        let _ = tx.send_data("first\n".into()).await;
        if let Some(port) = port {
            wait_for_close(&port).await;
        }
        let _ = tx.send_data("second\n".into()).await;
    });
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", http::HeaderValue::from_static("text/plain"));
    headers.insert("x-streamed", http::HeaderValue::from_static("yes"));
    FunctionResponse::StreamingResponse(Response {
        metadata_prelude: MetadataPrelude {
            status_code: http::StatusCode::CREATED,
            headers,
            cookies: vec!["s=1; Path=/".into()],
        },
        stream: rx,
    })
}

/// Waits until the test closes the listener on `port`.
async fn wait_for_close(port: &str) {
    if let Ok(mut stream) = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    }
}

/// `do=stream-trailer`: streams `partial\n` as plain text (no prelude), then
/// ends with the error trailers; the Runtime API's status.
pub(crate) async fn failing_after_first_bytes(request_id: &str) -> Result<u16, Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let body = base64::engine::general_purpose::STANDARD
        .encode(r#"{"errorType":"Stream.Failed","errorMessage":"gave up midway"}"#);
    let request = format!(
        "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n\
         Host: {api}\r\nContent-Type: text/plain\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\n\
         Transfer-Encoding: chunked\r\n\
         Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\
         Connection: close\r\n\r\n\
         8\r\npartial\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(&api).await?;
    stream.write_all(request.as_bytes()).await?;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let end = format!(
        "0\r\nLambda-Runtime-Function-Error-Type: Stream.Failed\r\n\
         Lambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
    );
    stream.write_all(end.as_bytes()).await?;
    Ok(crate::answer_status(&mut stream).await?)
}

/// `do=stream-stall`: starts a streamed answer with a prelude, sends half of
/// the prelude, and waits until the test closes `port`.
pub(crate) async fn stalled_in_prelude(request_id: &str, port: &str) -> Result<(), Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let request = format!(
        "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n\
         Host: {api}\r\n\
         Content-Type: application/vnd.awslambda.http-integration-response\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\n\
         Transfer-Encoding: chunked\r\n\r\n\
         f\r\n{{\"statusCode\":2\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(&api).await?;
    stream.write_all(request.as_bytes()).await?;
    wait_for_close(port).await;
    Ok(())
}
