//! Clients from any loopback address, and the requests tests send.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stack::Stack;

/// A client whose connections come from `source` (a loopback address such as
/// `127.0.0.2`): another machine, as far as the runner can tell.
pub fn client_from(source: &str) -> reqwest::Client {
    let address: IpAddr = source.parse().expect("an address");
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address)
        // A bound on a hung regression, not a performance check.
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// One answer: status, headers and body (JSON when it is).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
    /// How long the answer took.
    pub took: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request; `token` as a bearer token, `body` as JSON.
pub async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let started = Instant::now();
    let mut request = client.request(method.parse().expect("a method"), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        text,
        body,
        took: started.elapsed(),
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// Registers `name` from `client` and returns the account's id.
pub async fn register(stack: &Stack, client: &reqwest::Client, name: &str) -> String {
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let answer = send(
        client,
        "POST",
        &stack.url("/users/register"),
        None,
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["id"].as_str().expect("an id").to_owned()
}

/// Logs `name` in from `client`.
pub async fn login(stack: &Stack, client: &reqwest::Client, name: &str, password: &str) -> Answer {
    let body = json!({"username": name, "password": password});
    send(
        client,
        "POST",
        &stack.url("/users/login"),
        None,
        Some(&body),
        &[],
    )
    .await
}

/// Registers `name` (an admin if asked) and returns a token.
pub async fn user_token(stack: &Stack, name: &str, admin: bool) -> String {
    let client = client_from("127.0.0.1");
    register(stack, &client, name).await;
    if admin {
        stack.admin("promote", name);
    }
    let answer = login(stack, &client, name, PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// Creates a product as `admin` and returns its id.
pub async fn product(stack: &Stack, admin: &str, name: &str, price: f64) -> String {
    product_with(
        stack,
        admin,
        json!({"name": name, "description": "", "price": price, "category": "test"}),
    )
    .await
}

/// Creates a product whose stock is tracked, starting at `stock`, and returns its id.
pub async fn stocked_product(stack: &Stack, admin: &str, name: &str, stock: u32) -> String {
    let body =
        json!({"name": name, "description": "", "price": 1.5, "category": "test", "stock": stock});
    product_with(stack, admin, body).await
}

async fn product_with(stack: &Stack, admin: &str, body: serde_json::Value) -> String {
    let client = client_from("127.0.0.1");
    let answer = send(
        &client,
        "POST",
        &stack.url("/products"),
        Some(admin),
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.body["id"].as_str().expect("an id").to_owned()
}

/// Orders `quantity` of `product` as `token`, with an idempotency key if given.
pub async fn order(
    stack: &Stack,
    client: &reqwest::Client,
    token: &str,
    product: &str,
    quantity: u32,
    key: Option<&str>,
) -> Answer {
    let body = json!({"products": [{"productId": product, "quantity": quantity}]});
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    send(
        client,
        "POST",
        &stack.url("/orders"),
        Some(token),
        Some(&body),
        &headers,
    )
    .await
}

/// Words that never reach a client: Rust type names, panics, paths, driver text.
pub const LEAKS: &[&str] = &[
    "alloc::",
    "core::",
    "Box<dyn",
    "panicked",
    "/target/",
    "/home/",
    "mongodb://",
    "Kind:",
    "$argon2",
];

/// Asserts that an answer leaks none of [`LEAKS`].
pub fn assert_no_leak(answer: &Answer) {
    for leak in LEAKS {
        assert!(
            !answer.text.contains(leak),
            "the answer leaks {leak:?}: {}",
            answer.text
        );
    }
}
