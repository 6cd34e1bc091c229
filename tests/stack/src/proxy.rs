//! A TCP proxy between a function and the runner that can hold back an answer:
//! armed, it passes the next request through but keeps its answer, and says so.
//! The request's work is then done on the far side while the caller is still
//! waiting, which is the moment to kill the caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub struct HoldingProxy {
    pub port: u16,
    upstream: Arc<AtomicU16>,
    armed: Arc<AtomicBool>,
    held: Arc<Notify>,
}

impl HoldingProxy {
    /// Listens on a free loopback port; forwards nowhere until `forward_to`.
    pub async fn start() -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let proxy = HoldingProxy {
            port,
            upstream: Arc::new(AtomicU16::new(0)),
            armed: Arc::new(AtomicBool::new(false)),
            held: Arc::new(Notify::new()),
        };
        let (upstream, armed, held) = (
            proxy.upstream.clone(),
            proxy.armed.clone(),
            proxy.held.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let port = upstream.load(Ordering::SeqCst);
                tokio::spawn(pipe(client, port, armed.clone(), held.clone()));
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where connections go from now on.
    pub fn forward_to(&self, port: u16) {
        self.upstream.store(port, Ordering::SeqCst);
    }

    /// Holds back the next answer that arrives.
    pub fn hold_next_answer(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Returns once an answer has been held back.
    pub async fn held(&self) {
        self.held.notified().await;
    }
}

async fn pipe(client: TcpStream, port: u16, armed: Arc<AtomicBool>, held: Arc<Notify>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
    });
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from_server.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if armed.swap(false, Ordering::SeqCst) {
            // The answer exists, so the work behind it is done; the caller never
            // sees it. Keep the connection open until the caller goes away.
            held.notify_one();
            let _ = requests.await;
            return;
        }
        if to_client.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    requests.abort();
}
