//! Accepting connections, for the public listener and every instance's Runtime API.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// The next connection, with Nagle's algorithm off. Accept errors (out of file
/// descriptors, say) are waited out rather than spun on.
pub(crate) async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
