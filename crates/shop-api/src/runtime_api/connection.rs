//! The HTTP side: one kept-alive HTTP/1.1 connection to the Runtime API.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::protocol::{API_PREFIX, Answer, EMPTY_POLL_PAUSE, INVOCATION_ID, RuntimeApiError};

/// One HTTP/1.1 connection to the Runtime API, made again when it closes.
pub(super) struct Connection {
    /// `host:port`, to connect to and to name in `Host`.
    address: String,
    host: HeaderValue,
    /// The base path and [`API_PREFIX`].
    prefix: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// From `AWS_LAMBDA_RUNTIME_API`: `host:port` on Lambda and under the
    /// runner, `http://host:port/base/path` under `cargo lambda watch`.
    pub(super) fn new(value: &str) -> Result<Self, RuntimeApiError> {
        let bad = || RuntimeApiError::BadAddress(value.to_owned());
        let rest = value.strip_prefix("http://").unwrap_or(value);
        let (address, base) = rest.split_once('/').unwrap_or((rest, ""));
        let base = base.trim_end_matches('/');
        if address.is_empty() || rest.contains("://") {
            return Err(bad());
        }
        let prefix = if base.is_empty() {
            API_PREFIX.to_owned()
        } else {
            format!("/{base}{API_PREFIX}")
        };
        let host = HeaderValue::from_str(address).map_err(|_| bad())?;
        // Every path the loop sends must be one.
        http::uri::PathAndQuery::try_from(format!("{prefix}next")).map_err(|_| bad())?;
        Ok(Self {
            address: address.to_owned(),
            host,
            prefix,
            sender: None,
        })
    }

    /// Waits for the next invocation: its headers and its event; none when
    /// the Runtime API says this instance is done (410 Gone).
    pub(super) async fn next(&mut self) -> Result<Option<(HeaderMap, Bytes)>, RuntimeApiError> {
        let path = format!("{}next", self.prefix);
        loop {
            let sent = match self.send(Method::GET, &path, None, None).await {
                // A kept connection the other side closed meanwhile: a poll
                // is safe to repeat, on a new one.
                Err(RuntimeApiError::Connection(_)) => {
                    self.sender = None;
                    self.send(Method::GET, &path, None, None).await
                }
                sent => sent,
            };
            let (status, head, event) = sent?;
            match status {
                StatusCode::OK => return Ok(Some((head, event))),
                StatusCode::GONE => return Ok(None),
                // Nothing yet (`cargo lambda watch` says so): ask again.
                StatusCode::NO_CONTENT => tokio::time::sleep(EMPTY_POLL_PAUSE).await,
                refused => return Err(RuntimeApiError::NextRefused(refused)),
            }
        }
    }

    /// Posts an invocation's answer. The Runtime API's reply says only
    /// whether it took it; one it refuses (an invocation already answered or
    /// timed out) is not this instance's to mend.
    ///
    /// A 5xx means the Runtime API is in a state it cannot recover from, and
    /// the instance must end. An answer whose connection closed before it was
    /// written is sent again on a new one; one that may have arrived is not.
    pub(super) async fn answer(
        &mut self,
        id: &str,
        invocation_id: Option<&HeaderValue>,
        answer: Answer,
    ) -> Result<(), RuntimeApiError> {
        let (path, body) = match answer {
            Answer::Response(body) => (format!("{}{id}/response", self.prefix), body),
            Answer::Error(error) => (
                format!("{}{id}/error", self.prefix),
                serde_json::to_vec(&error).unwrap_or_default(),
            ),
        };
        let body = Bytes::from(body);
        let sent = match self
            .send(Method::POST, &path, Some(body.clone()), invocation_id)
            .await
        {
            Err(RuntimeApiError::Connection(unsent)) if unsent.is_canceled() => {
                self.sender = None;
                self.send(Method::POST, &path, Some(body), invocation_id)
                    .await
            }
            sent => sent,
        };
        let (status, _, _) = sent?;
        if status.is_server_error() {
            return Err(RuntimeApiError::AnswerFailed(status));
        }
        if !status.is_success() {
            tracing::warn!(request_id = %id, status = status.as_u16(), "the Runtime API refused an answer");
        }
        Ok(())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        invocation_id: Option<&HeaderValue>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RuntimeApiError> {
        let is_error = path.ends_with("/error");
        let is_post = method == Method::POST;
        let mut request = http::Request::new(Full::new(body.unwrap_or_default()));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().map_err(|_| RuntimeApiError::NoRequestId)?;
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        if is_post {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(invocation_id) = invocation_id {
            headers.insert(INVOCATION_ID, invocation_id.clone());
        }
        if is_error {
            headers.insert(
                "lambda-runtime-function-error-type",
                HeaderValue::from_static("Unhandled"),
            );
        }
        let sender = self.sender().await?;
        let response = sender.send_request(request).await?;
        let (head, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((head.status, head.headers, body))
    }

    /// The kept connection, or a new one if there is none or it closed.
    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, RuntimeApiError> {
        let mut sender = match self.sender.take() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        if sender.ready().await.is_err() {
            sender = self.connect().await?;
        }
        Ok(self.sender.insert(sender))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RuntimeApiError> {
        let unreachable = |e| RuntimeApiError::Unreachable(self.address.clone(), e);
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(unreachable)?;
        stream.set_nodelay(true).map_err(unreachable)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Its end shows as the next request's error.
            let _ = connection.await;
        });
        Ok(sender)
    }
}
