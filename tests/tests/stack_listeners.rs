//! Slow, idle and greedy clients against the CloudFront listener: timeouts, a connection cap and
//! a body budget, each refused fast instead of holding the stack's memory or file descriptors.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_persist_tests::stack::{TestStack, bins, config};
use edge_stack::serve::ListenerLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn stack_with(tag: &str, limits: ListenerLimits) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.fault_fn, &b.alb_fn);
    cfg.listener = limits;
    TestStack::start(cfg).await
}

const TIGHT: ListenerLimits = ListenerLimits {
    header_read: Duration::from_secs(1),
    max_connections: 3,
    half_close: false,
    body_read: Duration::from_secs(1),
    body_bytes_in_flight: 1000,
    header_case: true,
};

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

async fn send(conn: &mut TcpStream, bytes: &str) {
    conn.write_all(bytes.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
}

/// Everything the server sends until it closes the connection (or `within` passes: `None`).
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let stack = stack_with("header-timeout", TIGHT).await;
    let addr = stack.stack.cloudfront;
    let mut slow = connect(addr).await;
    send(&mut slow, "GET / HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        read_until_closed(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "a head that never ends is cut off"
    );

    let mut idle = connect(addr).await;
    send(&mut idle, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answered = read_until_closed(&mut idle, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("an idle keep-alive connection stays open"));
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_at_once() {
    let stack = stack_with("connection-cap", TIGHT).await;
    let addr = stack.stack.cloudfront;
    let mut held = Vec::new();
    for _ in 0..TIGHT.max_connections {
        held.push(connect(addr).await);
    }
    // Give the accept loop the time to take them.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut extra = connect(addr).await;
    let refused = read_until_closed(&mut extra, Duration::from_millis(800))
        .await
        .unwrap_or_else(|| panic!("the connection over the cap is left waiting"));
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(started.elapsed() < Duration::from_millis(800));
    drop(held);
    // Freed slots serve again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stack.get("/ok").await.status, 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_in_size_time_and_total() {
    let stack = stack_with("bodies", TIGHT).await;
    let addr = stack.stack.cloudfront;

    // Larger than the origin (the ALB, 1 MB) takes: refused before it is sent.
    let mut big = connect(addr).await;
    send(
        &mut big,
        "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
    )
    .await;
    let answer = read_until_closed(&mut big, Duration::from_secs(3)).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 413")),
        "{answer:?}"
    );

    // A body that stops arriving: 408 after the body deadline. It holds 800 of the 1000 bytes
    // of the budget meanwhile, so a second one is refused at once.
    let mut slow = connect(addr).await;
    send(
        &mut slow,
        "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n\r\nfirst bytes",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = connect(addr).await;
    send(
        &mut second,
        "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n\r\n",
    )
    .await;
    let refused = read_until_closed(&mut second, Duration::from_secs(1)).await;
    assert!(
        refused
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 503")),
        "{refused:?}"
    );
    let timed_out = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(
        timed_out
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 408")),
        "{timed_out:?}"
    );
    // The budget is back.
    let body = "x".repeat(800);
    let mut fine = connect(addr).await;
    send(
        &mut fine,
        &format!(
            "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\nConnection: close\r\n\r\n{body}"
        ),
    )
    .await;
    let ok = read_until_closed(&mut fine, Duration::from_secs(10)).await;
    assert!(
        ok.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "{ok:?}"
    );
    stack.stop().await;
}
