//! One test per hole an attacker found in the shop as `scripts/run` serves it: each
//! goes through the runner over real HTTP, often from a second loopback address, and
//! fails against a shop that still has the hole.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use stack_tests::{
    Options, PASSWORD, Stack, assert_no_leak, client_from, login, order, product, register, send,
    user_token,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Waits, if need be, until the current `window` (aligned to the clock, as the
/// shop's rate-limit windows are) has at least `room` left, so that a test's
/// counting never straddles a window's end.
async fn room_in_window(window: Duration, room: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = Duration::from_millis((now.as_millis() % window.as_millis()) as u64);
    let left = window - into;
    if left < room {
        tokio::time::sleep(left + Duration::from_millis(200)).await;
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const QUARTER: Duration = Duration::from_secs(15 * 60);

// 1. A client could choose the prices (Host → product lookup).

/// A product API of the attacker's: answers every request with the product at 0.01
/// and counts the requests it got.
async fn fake_product_api(product: String) -> (u16, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = tokio::spawn(async move {
        let mut served = 0;
        while let Ok(Ok((mut stream, _))) =
            tokio::time::timeout(Duration::from_secs(20), listener.accept()).await
        {
            served += 1;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let body = json!({"items": [{"id": product, "name": "Pen", "description": "",
                "price": 0.01, "category": "test", "createdAt": "2026-01-01T00:00:00Z"}],
                "nextCursor": null})
            .to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        }
        served
    });
    (port, served)
}

#[tokio::test]
async fn a_client_cannot_choose_the_prices_with_its_host_header() {
    // As a user who followed the README: no PRODUCTS_API_URL anywhere.
    let stack = Stack::start(Options::default());
    let admin = user_token(&stack, "price_admin", true).await;
    let pen = product(&stack, &admin, "Pen", 19.99).await;
    let buyer = user_token(&stack, "price_buyer", false).await;
    let (port, served) = fake_product_api(pen.clone()).await;
    let client = client_from("127.0.0.2");
    let body = json!({"products": [{"productId": pen, "quantity": 1}]});
    for host in [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let answer = send(
            &client,
            "POST",
            &stack.url("/orders"),
            Some(&buyer),
            Some(&body),
            &[("host", &host)],
        )
        .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        // Priced by the real product function, not the attacker's.
        assert_eq!(answer.body["totalPrice"], json!(19.99), "{}", answer.text);
    }
    served.abort();
    let served = served.await.unwrap_or(0);
    assert_eq!(served, 0, "the order function asked the attacker's API");
}

// 2. One header turned any function into a 502.

/// Sends a raw request and returns the status line and the whole answer.
async fn raw(stack: &Stack, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", stack.port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn no_header_turns_a_function_into_a_502() {
    let stack = Stack::start(Options::default());
    let client = client_from("127.0.0.1");
    // A forged X-Forwarded-Proto is the gateway's to replace: each function answers
    // as it would without it.
    for (method, path, status) in [
        ("GET", "/products", 200),
        ("GET", "/products/0123456789abcdef01234567", 404),
        ("GET", "/orders", 401),
        ("POST", "/users/login", 400),
    ] {
        let answer = send(
            &client,
            method,
            &stack.url(path),
            None,
            None,
            &[("x-forwarded-proto", "1"), ("x-forwarded-port", "x")],
        )
        .await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
        assert_no_leak(&answer);
    }
    // A Host no gateway could be reached with is the runner's 400.
    for host in ["a b", "[::1", "x:99999"] {
        let reply = raw(
            &stack,
            &format!("GET /products HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{host:?}: {reply}");
        for leak in stack_tests::LEAKS {
            assert!(!reply.contains(leak), "{leak} in {reply}");
        }
    }
}

// 3. Parallel large bodies amplified the runner's memory.

fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

async fn chunked_control_characters(stack: &Stack) -> String {
    let stream = TcpStream::connect(("127.0.0.1", stack.port)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = "POST /users/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    writer.write_all(head.as_bytes()).await.unwrap();
    let sender = tokio::spawn(async move {
        let chunk = vec![1u8; 512 * 1024];
        for _ in 0..16 {
            let size = format!("{:x}\r\n", chunk.len());
            if writer.write_all(size.as_bytes()).await.is_err()
                || writer.write_all(&chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut reply = vec![0u8; 64];
    let n = reader.read(&mut reply).await.unwrap_or(0);
    sender.abort();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

#[tokio::test]
async fn parallel_large_bodies_do_not_amplify_the_runners_memory() {
    let stack = Stack::start(Options {
        args: vec!["--body-memory-mib".into(), "16".into()],
        ..Options::default()
    });
    let before = peak_memory(stack.runner_pid());
    let replies =
        futures::future::join_all((0..16).map(|_| chunked_control_characters(&stack))).await;
    for reply in &replies {
        assert!(reply.starts_with("HTTP/1.1 413"), "{replies:?}");
    }
    let grown = peak_memory(stack.runner_pid()).saturating_sub(before);
    assert!(
        grown < 40 * 1024 * 1024,
        "16 bodies of 8 MB grew the runner by {} MB",
        grown >> 20
    );
    // A body declared too large is refused before it is sent.
    let reply = raw(
        &stack,
        "POST /users/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 8000000\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
}

// 4. Five wrong passwords locked out any account; registrations and unknown names
//    were not limited at all.

#[tokio::test]
async fn wrong_passwords_from_one_address_never_lock_the_owner_out() {
    let stack = Stack::start(Options::default());
    let owner = client_from("127.0.0.1");
    let attacker = client_from("127.0.0.2");
    register(&stack, &owner, "boss").await;
    stack.admin("promote", "boss");
    room_in_window(QUARTER, Duration::from_secs(60)).await;
    for attempt in 1..=10 {
        let answer = login(&stack, &attacker, "boss", "guess").await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {}", answer.text);
    }
    let refused = login(&stack, &attacker, "boss", "guess").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // The right password from the attacker's address is refused alike…
    assert_eq!(login(&stack, &attacker, "boss", PASSWORD).await.status, 429);
    // …and the admin, elsewhere, logs in.
    let own = login(&stack, &owner, "boss", PASSWORD).await;
    assert_eq!(own.status, 200, "{}", own.text);
    // A name with no account is counted exactly alike.
    for _ in 0..10 {
        assert_eq!(
            login(&stack, &attacker, "no_such_user", "guess")
                .await
                .status,
            401
        );
    }
    assert_eq!(
        login(&stack, &attacker, "no_such_user", "guess")
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn honest_parallel_logins_are_never_refused() {
    let stack = Stack::start(Options::default());
    let client = client_from("127.0.0.3");
    register(&stack, &client, "busy").await;
    room_in_window(MINUTE, Duration::from_secs(30)).await;
    let logins = (0..16).map(|_| login(&stack, &client, "busy", PASSWORD));
    let statuses: Vec<u16> = futures::future::join_all(logins)
        .await
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, [200; 16]);
}

#[tokio::test]
async fn logins_and_registrations_are_limited_per_address() {
    let stack = Stack::start(Options::default());
    let flood = client_from("127.0.0.4");
    let other = client_from("127.0.0.5");
    // 100 login attempts a minute per address, whatever the names.
    room_in_window(MINUTE, Duration::from_secs(40)).await;
    for i in 0..100 {
        let answer = login(&stack, &flood, &format!("fresh_{i}"), "whatever").await;
        assert_eq!(answer.status, 401, "attempt {i}: {}", answer.text);
    }
    let refused = login(&stack, &flood, "fresh_x", "whatever").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        login(&stack, &other, "fresh_x", "whatever").await.status,
        401
    );
    // 20 registrations an hour per address.
    room_in_window(Duration::from_secs(3600), Duration::from_secs(60)).await;
    for i in 0..20 {
        register(&stack, &flood, &format!("reg_{i}")).await;
    }
    let body = json!({"username": "reg_x", "email": "reg_x@example.com", "password": PASSWORD});
    let refused = send(
        &flood,
        "POST",
        &stack.url("/users/register"),
        None,
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    register(&stack, &other, "reg_x").await;
}

#[tokio::test]
async fn orders_are_limited_per_buyer() {
    let stack = Stack::start(Options::default());
    let admin = user_token(&stack, "order_admin", true).await;
    let pen = product(&stack, &admin, "Pen", 1.0).await;
    let buyer = user_token(&stack, "order_buyer", false).await;
    let client = client_from("127.0.0.1");
    room_in_window(MINUTE, Duration::from_secs(40)).await;
    let first = order(&stack, &client, &buyer, &pen, 1, Some("once")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    for i in 1..120 {
        let answer = order(&stack, &client, &buyer, &pen, 1, None).await;
        assert_eq!(answer.status, 201, "order {i}: {}", answer.text);
    }
    // A replay is not a new order.
    let replay = order(&stack, &client, &buyer, &pen, 1, Some("once")).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    let refused = order(&stack, &client, &buyer, &pen, 1, None).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
}

// 5. A demoted admin kept admin power; a user could not be switched off.

#[tokio::test]
async fn demotion_and_disabling_take_effect_on_the_next_request() {
    let stack = Stack::start(Options::default());
    let client = client_from("127.0.0.1");
    let admin = user_token(&stack, "soon_demoted", true).await;
    let body = json!({"name": "Ink", "description": "", "price": 2.5, "category": "test"});
    let created = send(
        &client,
        "POST",
        &stack.url("/products"),
        Some(&admin),
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    stack.admin("demote", "soon_demoted");
    let refused = send(
        &client,
        "POST",
        &stack.url("/products"),
        Some(&admin),
        Some(&body),
        &[],
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);

    let token = user_token(&stack, "switched_off", false).await;
    stack.admin("disable", "switched_off");
    let refused = send(
        &client,
        "GET",
        &stack.url("/orders"),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(
        login(&stack, &client, "switched_off", PASSWORD)
            .await
            .status,
        401
    );
    stack.admin("enable", "switched_off");
    let listed = send(
        &client,
        "GET",
        &stack.url("/orders"),
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
}

// 7. Every function got the signing key.

#[tokio::test]
async fn the_signing_key_reaches_only_the_functions_that_use_it() {
    let stack = Stack::start(Options::default());
    let client = client_from("127.0.0.1");
    let token = user_token(&stack, "key_holder", false).await;
    assert_eq!(
        send(&client, "GET", &stack.url("/products"), None, None, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        send(
            &client,
            "GET",
            &stack.url("/orders"),
            Some(&token),
            None,
            &[]
        )
        .await
        .status,
        200
    );
    let has_key = |binary: &str| {
        let pids = stack.instances(binary);
        assert!(!pids.is_empty(), "no instance of {binary} runs");
        pids.iter().all(|pid| {
            Stack::environment(*pid)
                .iter()
                .any(|(k, v)| k == "JWT_SECRET" && v.len() >= 32 && !v.contains("{{"))
        })
    };
    assert!(has_key("users-login"));
    assert!(has_key("orders-list"));
    for binary in ["products-list", "users-register"] {
        let pids = stack.instances(binary);
        assert!(!pids.is_empty(), "no instance of {binary} runs");
        for pid in pids {
            let env = Stack::environment(pid);
            assert!(
                env.iter().all(|(k, _)| k != "JWT_SECRET"),
                "{binary} was given the signing key"
            );
        }
    }
}

// 8. Idle connections from one address starved everyone.

#[tokio::test]
async fn idle_connections_from_one_address_do_not_starve_other_clients() {
    // 200 connections in all; the idle client opens 250. Idle connections would be
    // held for two minutes.
    let stack = Stack::start(Options {
        args: ["--max-connections", "200", "--header-timeout", "120s"]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    });
    let mut idle = Vec::new();
    for _ in 0..250 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        match socket
            .connect(format!("127.0.0.1:{}", stack.port).parse().unwrap())
            .await
        {
            Ok(stream) => idle.push(stream),
            Err(_) => break,
        }
    }
    let client = client_from("127.0.0.1");
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        send(&client, "GET", &stack.url("/products"), None, None, &[]),
    )
    .await
    .expect("another client is served while one address holds idle connections");
    assert_eq!(answer.status, 200);
    drop(idle);
}

// 9. Any local process could take an instance's invocations.

#[tokio::test]
async fn another_process_cannot_take_a_functions_invocations() {
    let stack = Stack::start(Options::default());
    let client = client_from("127.0.0.1");
    assert_eq!(
        send(&client, "GET", &stack.url("/products"), None, None, &[])
            .await
            .status,
        200
    );
    let instance = stack.instances("products-list")[0];
    let api = Stack::environment(instance)
        .into_iter()
        .find(|(k, _)| k == "AWS_LAMBDA_RUNTIME_API")
        .map(|(_, v)| v)
        .expect("the instance's Runtime API");
    let mut thief = TcpStream::connect(&api).await.unwrap();
    let poll = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    thief.write_all(poll.as_bytes()).await.unwrap();
    let stolen = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), thief.read_to_end(&mut got)).await;
        got
    });
    for _ in 0..3 {
        let answer = send(&client, "GET", &stack.url("/products"), None, None, &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let stolen = stolen.await.unwrap();
    assert!(
        stolen.is_empty(),
        "another process was answered by the Runtime API: {}",
        String::from_utf8_lossy(&stolen)
    );
}
