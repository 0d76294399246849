//! Requests cancelled half-way (a client that hangs up, CloudFront giving up on the origin, a
//! client leaving during a cold start): the invocation runs to its end as in Lambda, its END and
//! REPORT are written, the environment is idle again and later requests are served.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edge_persist_tests::stack::next_record;
use edge_persist_tests::stack::{TestStack, bins, config};
use tokio::io::AsyncWriteExt;

/// Send a GET and hang up after `after`, without reading the answer.
async fn hang_up(addr: SocketAddr, path: &str, after: Duration) {
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    conn.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    tokio::time::sleep(after).await;
    drop(conn);
}

/// Wait until `function` has no invocation in flight; its status entries.
async fn wait_idle(stack: &TestStack, function: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = stack.status().await;
        let envs = status["functions"][function]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if envs.iter().all(|e| e["in_flight"] == 0) {
            return envs;
        }
        assert!(
            Instant::now() < deadline,
            "{function} is still busy after 10 s: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Platform records of one kind (`platform.report`, ...) in a log group.
async fn count(stack: &TestStack, group: &str, kind: &str) -> usize {
    stack
        .logs(group)
        .await
        .iter()
        .flat_map(|(_, t)| t.lines())
        .filter(|l| l.contains(&format!("\"type\":\"{kind}\"")))
        .count()
}

const EDGE: &str = "/aws/lambda/us-east-1.edge-fn";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_hang_up_do_not_leak_environments() {
    let b = bins();
    let mut cfg = config("hang-up", &b.fault_fn, &b.alb_fn);
    cfg.associations[0].pool.concurrency_limit = 2;
    let stack = TestStack::start(cfg).await;
    let cf = stack.stack.cloudfront;
    // Both environments busy, both clients gone before the function answers.
    tokio::join!(
        hang_up(cf, "/edge/sleep-700", Duration::from_millis(200)),
        hang_up(cf, "/edge/sleep-700", Duration::from_millis(200)),
    );
    let envs = wait_idle(&stack, "edge-fn").await;
    assert_eq!(envs.len(), 2, "{envs:?}");
    assert!(
        envs.iter()
            .all(|e| e["busy"] == false && e["invocations"] == 1),
        "each invocation ran to its end: {envs:?}"
    );
    for _ in 0..3 {
        let ok = stack.get("/ok").await;
        assert_eq!(ok.status, 200, "{ok:?}");
    }
    assert_eq!(count(&stack, EDGE, "platform.runtimeDone").await, 5);
    assert_eq!(count(&stack, EDGE, "platform.report").await, 5);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudfront_giving_up_on_the_origin_does_not_leak_the_target() {
    let b = bins();
    let mut cfg = config("origin-timeout", &b.edge_fn, &b.fault_fn);
    cfg.origin_pool.concurrency_limit = 1;
    cfg.origin.timeout = Duration::from_secs(5);
    cfg.origin_read_timeout = Duration::from_secs(1);
    let stack = TestStack::start(cfg).await;
    let slow = stack.get("/alb/sleep-1500").await;
    assert_eq!(
        slow.status, 504,
        "CloudFront's origin read timeout: {slow:?}"
    );
    let envs = wait_idle(&stack, "alb-fn").await;
    assert_eq!(envs.len(), 1, "{envs:?}");
    let fine = stack.get("/fine").await;
    assert_eq!(
        fine.status, 200,
        "the only target environment is free: {fine:?}"
    );
    assert_eq!(
        count(&stack, "/aws/lambda/alb-fn", "platform.report").await,
        2
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_during_a_cold_start_does_not_leak_the_start() {
    let b = bins();
    let mut cfg = config("cold-cancel", &b.fault_fn, &b.alb_fn);
    cfg.associations[0].pool.concurrency_limit = 1;
    cfg.associations[0]
        .function
        .env
        .push(("FAULT_INIT_SLEEP_MS".into(), "800".into()));
    let stack = TestStack::start(cfg).await;
    hang_up(stack.stack.cloudfront, "/ok", Duration::from_millis(200)).await;
    // The start goes on without the client: the environment comes up and serves the invocation.
    let deadline = Instant::now() + Duration::from_secs(10);
    let envs = loop {
        let envs = wait_idle(&stack, "edge-fn").await;
        if envs.iter().any(|e| e["invocations"] == 1) {
            break envs;
        }
        assert!(Instant::now() < deadline, "the cold start never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(envs.len(), 1, "{envs:?}");
    let mut records = stack.stack.subscribe();
    let warm = stack.get("/ok").await;
    assert_eq!(warm.status, 200, "{warm:?}");
    let record = next_record(&mut records).await;
    assert_eq!(
        record.edge_cold,
        Some(false),
        "the environment the cancelled request started serves warm"
    );
    assert_eq!(count(&stack, EDGE, "platform.report").await, 2);
    stack.stop().await;
}
