//! A header's `key` in CloudFront's event keeps the letter case the viewer wrote its name in
//! (docs/AWS-BEHAVIOUR.md, "The CloudFront request event"), request by request on one
//! keep-alive connection.

use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, config};
use edge_stack::cloudfront::Policies;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One HTTP/1.1 response with a `content-length` body: its body.
async fn read_answer(conn: &mut BufReader<TcpStream>) -> String {
    let mut length = 0;
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("no answer"))
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "closed before the answer ended");
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body)
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    String::from_utf8_lossy(&body).into_owned()
}

fn key_of(event_body: &str, name: &str) -> String {
    let event: Value =
        serde_json::from_str(event_body).unwrap_or_else(|e| panic!("{e}: {event_body}"));
    event["Records"][0]["cf"]["request"]["headers"][name][0]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {event}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_keep_the_viewers_letter_case_request_by_request() {
    let b = bins();
    let mut cfg = config("header-case", &b.fault_fn, &b.fault_fn);
    // Every viewer header reaches the function (fault-fn's /edge/echo answers with its event).
    cfg.policies =
        Policies::by_name("CachingDisabled", "AllViewer").unwrap_or_else(|e| panic!("{e}"));
    let stack = TestStack::start(cfg).await;
    let tcp = TcpStream::connect(stack.stack.cloudfront)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let mut conn = BufReader::new(tcp);
    let requests = [
        "GET /edge/echo HTTP/1.1\r\nHost: x\r\nX-MiXeD-Case: one\r\nuser-AGENT: probe\r\n\r\n",
        "GET /edge/echo HTTP/1.1\r\nhost: x\r\nx-mixed-CASE: two\r\nUser-Agent: probe\r\n\r\n",
    ];
    let mut bodies = Vec::new();
    for request in requests {
        conn.get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
        bodies.push(read_answer(&mut conn).await);
    }
    assert_eq!(key_of(&bodies[0], "x-mixed-case"), "X-MiXeD-Case");
    assert_eq!(key_of(&bodies[0], "user-agent"), "user-AGENT");
    assert_eq!(key_of(&bodies[0], "host"), "Host");
    assert_eq!(key_of(&bodies[1], "x-mixed-case"), "x-mixed-CASE");
    assert_eq!(key_of(&bodies[1], "host"), "host");
    // Headers CloudFront adds itself have the conventional case.
    assert_eq!(key_of(&bodies[1], "x-forwarded-for"), "X-Forwarded-For");
    stack.stop().await;
}
