//! The stack's HTTP/1 listeners, with the limits `axum::serve` cannot set: a header-read timeout
//! (hyper starts it whenever a connection waits for a request head, so it also ends idle
//! keep-alive connections), a cap on open connections with a fast refusal beyond it, and
//! half-close for the Runtime API (a runtime may post its answer and exit at once).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// A request head must arrive whole within this; an idle keep-alive connection is closed
    /// after it.
    pub header_read: Duration,
    /// Connections open at once; one more is answered 503 and closed at once.
    pub max_connections: usize,
    /// Keep serving a request whose client closed its sending side (the Runtime API).
    pub half_close: bool,
}

impl ListenerLimits {
    /// The viewer- and ALB-facing listeners.
    pub const PUBLIC: Self = Self {
        header_read: Duration::from_secs(10),
        max_connections: 512,
        half_close: false,
    };
    /// One environment's Runtime API: a runtime keeps one long-poll and posts answers.
    pub const RUNTIME_API: Self = Self {
        header_read: Duration::from_secs(10),
        max_connections: 64,
        half_close: true,
    };
}

/// What a connection over the cap is told before it is closed.
const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n";

/// Serve `router` on `listener` until the task is aborted. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub fn serve(listener: TcpListener, router: Router, limits: ListenerLimits) -> JoinHandle<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small request/response exchanges: Nagle's algorithm would only add delay.
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                tokio::spawn(refuse(tcp));
                continue;
            };
            let router = router.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |mut req| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let router = router.clone();
                    async move {
                        Ok::<_, Infallible>(
                            router.oneshot(req).await.unwrap_or_else(|e| match e {}),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read)
                    .half_close(limits.half_close)
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
                drop(permit);
            });
        }
    })
}

async fn refuse(mut tcp: tokio::net::TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(AT_CAPACITY)).await;
}
