//! Stopping without dropping work: once a drain begins, listeners stop accepting,
//! each open connection finishes the request it is serving and closes, and the
//! runner waits for the last one before it stops the instances.

use std::sync::Arc;

use hyper::body::{Body, Incoming};
use hyper::rt::{Read, Write};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use tokio::sync::watch;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether the runner is draining, and how many connections are still open.
/// Clones share the same state.
#[derive(Debug, Clone)]
pub struct Drain {
    draining: Arc<watch::Sender<bool>>,
    open: Arc<watch::Sender<usize>>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            draining: Arc::new(watch::Sender::new(false)),
            open: Arc::new(watch::Sender::new(0)),
        }
    }
}

/// One open connection, counted until it is dropped.
#[derive(Debug)]
pub struct Open(Arc<watch::Sender<usize>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open -= 1);
    }
}

impl Drain {
    /// Starts the drain; later calls change nothing.
    pub fn begin(&self) {
        self.draining.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves once the drain has begun (at once if it already has).
    pub fn begun(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut draining = self.draining.subscribe();
        async move {
            // The sender lives in `self`'s clones; were they all gone, nothing
            // could begin a drain, so waiting for ever is right.
            if draining.wait_for(|d| *d).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Counts a connection as open until the returned value is dropped.
    pub fn open(&self) -> Open {
        self.open.send_modify(|open| *open += 1);
        Open(Arc::clone(&self.open))
    }

    /// The connections open now.
    pub fn open_connections(&self) -> usize {
        *self.open.borrow()
    }

    /// Resolves when no connection is open.
    pub async fn finished(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }

    /// Serves one HTTP/1 connection with `builder` to its end, counted as
    /// `open` (taken when it was accepted, so that a drain beginning before
    /// this task runs still waits for it). Once a drain begins, the request in
    /// progress (if any) is answered and the connection closes; idle
    /// kept-alive connections close at once, and a connection accepted during
    /// the drain serves one request.
    pub async fn serve<I, S, B>(&self, open: Open, builder: &mut http1::Builder, io: I, service: S)
    where
        I: Read + Write + Unpin,
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        let _open = open;
        if self.is_draining() {
            let _ = builder
                .keep_alive(false)
                .serve_connection(io, service)
                .await;
            return;
        }
        let mut connection = std::pin::pin!(builder.serve_connection(io, service));
        tokio::select! {
            _ = connection.as_mut() => return,
            () = self.begun() => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finished_waits_for_the_last_open_connection() {
        let drain = Drain::default();
        let first = drain.open();
        let second = drain.open();
        assert_eq!(drain.open_connections(), 2);
        drop(first);
        let waiting = tokio::spawn({
            let drain = drain.clone();
            async move { drain.finished().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(second);
        waiting.await.unwrap();
        assert_eq!(drain.open_connections(), 0);
    }

    #[tokio::test]
    async fn begun_resolves_for_waiters_before_and_after_the_start() {
        let drain = Drain::default();
        let early = tokio::spawn(drain.begun());
        tokio::task::yield_now().await;
        assert!(!early.is_finished());
        assert!(!drain.is_draining());
        drain.begin();
        early.await.unwrap();
        drain.begun().await;
        assert!(drain.is_draining());
    }
}
