//! The stack's HTTP/1 listeners, with the limits `axum::serve` cannot set: a header-read timeout
//! (hyper starts it whenever a connection waits for a request head, so it also ends idle
//! keep-alive connections), a cap on open connections with a fast refusal beyond it, and
//! half-close for the Runtime API (a runtime may post its answer and exit at once).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::header_case::{Recorder, Recording};

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
    /// A request body must arrive whole within this (408 otherwise).
    pub body_read: Duration,
    /// Request body bytes being read or held at once by one listener; a request that would go
    /// over is refused at once (503) before its body is read.
    pub body_bytes_in_flight: usize,
    /// Give each request the letter case its client wrote header names in
    /// ([`crate::header_case::HeaderCase`] in its extensions).
    pub header_case: bool,
}

impl ListenerLimits {
    /// The viewer- and ALB-facing listeners.
    pub const PUBLIC: Self = Self {
        header_read: Duration::from_secs(10),
        max_connections: 512,
        half_close: false,
        body_read: Duration::from_secs(30),
        body_bytes_in_flight: 64 * 1024 * 1024,
        header_case: true,
    };
    /// One environment's Runtime API: a runtime keeps one long-poll and posts answers.
    pub const RUNTIME_API: Self = Self {
        header_read: Duration::from_secs(10),
        max_connections: 64,
        half_close: true,
        body_read: Duration::from_secs(30),
        body_bytes_in_flight: 64 * 1024 * 1024,
        header_case: false,
    };
}

/// What a connection over the cap is told before it is closed.
const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n";

/// Whether an accepted connection (listener address, peer address) is served: asked once per
/// connection, before its first request is read. A refused one is answered 403
/// ([`FORBIDDEN`]) and closed.
pub type Admit =
    Arc<dyn Fn(SocketAddr, SocketAddr) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// The body a refused connection is answered 403 with, in the Runtime API's error shape.
const FORBIDDEN: &str = r#"{"errorMessage":"this listener serves only its own execution environment","errorType":"Forbidden"}"#;

/// Serve `router` on `listener` until the task is aborted. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub fn serve(listener: TcpListener, router: Router, limits: ListenerLimits) -> JoinHandle<()> {
    serve_admitting(listener, router, limits, None)
}

/// [`serve`], serving only the connections `admit` lets in.
pub fn serve_admitting(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    admit: Option<Admit>,
) -> JoinHandle<()> {
    let local = listener.local_addr().ok();
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
            let recorder = limits.header_case.then(Recorder::default);
            let admit = admit.clone();
            tokio::spawn(async move {
                if let (Some(admit), Some(local)) = (admit, local)
                    && !admit(local, peer).await
                {
                    forbid(tcp).await;
                    return;
                }
                let io = Recording::new(tcp, recorder.clone());
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(recorder) = &recorder {
                        let line = format!("{} {} {:?}", req.method(), req.uri(), req.version());
                        let case = recorder.take(&line, req.headers().keys().map(|k| k.as_str()));
                        req.extensions_mut().insert(case);
                    }
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
                    .serve_connection(TokioIo::new(io), service)
                    .await;
                drop(permit);
            });
        }
    })
}

async fn refuse(mut tcp: tokio::net::TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(AT_CAPACITY)).await;
}

/// Answer 403 and close; what the client sent is read and dropped first (for at most a second),
/// so that closing does not reset the connection before the client reads the answer.
async fn forbid(mut tcp: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{FORBIDDEN}",
            FORBIDDEN.len()
        );
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Declared or found larger than the listener takes: 413.
    TooLarge,
    /// Not whole within `body_read`: 408.
    Timeout,
    /// The listener holds as many body bytes as it may: 503, at once.
    AtCapacity,
}

/// The body bytes one listener may hold at once, and how long a body may take.
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    limit: usize,
    deadline: Duration,
}

impl BodyBudget {
    pub fn new(limits: ListenerLimits) -> Self {
        let limit = limits.body_bytes_in_flight.min(Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(limit)),
            limit,
            deadline: limits.body_read,
        }
    }

    /// Read a body of at most `max` bytes. The returned permit holds its share of the budget
    /// (the declared length, or `max` for a body of unknown length) until dropped.
    pub async fn read(
        &self,
        headers: &axum::http::HeaderMap,
        body: axum::body::Body,
        max: usize,
    ) -> Result<(axum::body::Bytes, Option<tokio::sync::OwnedSemaphorePermit>), BodyError> {
        let declared = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let share = match declared {
            Some(n) if n > max => return Err(BodyError::TooLarge),
            Some(n) => n,
            None if headers.contains_key(axum::http::header::TRANSFER_ENCODING) => max,
            None => 0,
        };
        let permit = if share == 0 {
            None
        } else {
            let share = u32::try_from(share.min(self.limit)).map_err(|_| BodyError::TooLarge)?;
            Some(
                Arc::clone(&self.bytes)
                    .try_acquire_many_owned(share)
                    .map_err(|_| BodyError::AtCapacity)?,
            )
        };
        match tokio::time::timeout(self.deadline, axum::body::to_bytes(body, max)).await {
            Err(_) => Err(BodyError::Timeout),
            Ok(Err(_)) => Err(BodyError::TooLarge),
            Ok(Ok(bytes)) => Ok((bytes, permit)),
        }
    }
}

impl BodyError {
    pub fn status(self) -> axum::http::StatusCode {
        match self {
            Self::TooLarge => axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout => axum::http::StatusCode::REQUEST_TIMEOUT,
            Self::AtCapacity => axum::http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
