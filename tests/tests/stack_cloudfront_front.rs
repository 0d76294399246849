//! What a function returns to CloudFront cannot steer the stack: the `uri` is a path on the one
//! origin, sent exactly as returned, and a generated response's framing is the stack's own.

use std::time::Duration;

use edge_persist_tests::stack::next_record;
use edge_persist_tests::stack::{TestStack, bins, config};
use edge_stack::cloudfront::Policies;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// fault-fn at the edge and at the origin: the origin echoes the path it got (`x-fault-path`).
async fn echo_stack(tag: &str) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.fault_fn, &b.fault_fn);
    // fault-fn reads the returned uri from a viewer header: forward every viewer header.
    cfg.policies =
        Policies::by_name("CachingDisabled", "AllViewer").unwrap_or_else(|e| panic!("{e}"));
    TestStack::start(cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_uri_is_a_path_on_the_origin_sent_as_returned() {
    let stack = echo_stack("uri").await;
    for path in ["/a/../b", "//other.example/x", "/%2e%2e/x", "/p;a=b/@x"] {
        let answer = stack
            .get_with("/edge/set-uri", &[("x-fault-uri", path)])
            .await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        assert_eq!(
            answer.header("x-fault-path"),
            Some(path),
            "the origin sees exactly the returned path"
        );
    }
    let mut records = stack.stack.subscribe();
    for refused in [
        "@127.0.0.2/x",
        "relative",
        "/a\\b",
        "/a b",
        "/a#frag",
        "/%zz",
        "/é",
    ] {
        let answer = stack
            .get_with("/edge/set-uri", &[("x-fault-uri", refused)])
            .await;
        assert_eq!(answer.status, 502, "{refused}: {answer:?}");
        assert_eq!(
            answer.header("x-cache"),
            Some("LambdaValidationError from cloudfront")
        );
        let record = next_record(&mut records).await;
        assert_eq!(record.result.as_str(), "LambdaValidationError", "{refused}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_response_is_framed_by_the_stack() {
    let stack = echo_stack("framing").await;
    let mut conn = tokio::net::TcpStream::connect(stack.stack.cloudfront)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    // Two requests on one keep-alive connection: the second answer must start where the first
    // one ends.
    let one = "GET /edge/generated-framing HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(format!("{one}{one}").as_bytes())
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    let mut raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while raw
        .windows(b"framed by the stack".len())
        .filter(|w| w == b"framed by the stack")
        .count()
        < 2
    {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no second answer: {}", String::from_utf8_lossy(&raw)))
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let answers: Vec<&str> = text.split("http/1.1 ").filter(|a| !a.is_empty()).collect();
    assert_eq!(answers.len(), 2, "{text}");
    for answer in answers {
        assert!(answer.starts_with("200"), "{answer}");
        assert!(
            answer.contains(&format!(
                "content-length: {}\r\n",
                "framed by the stack".len()
            )),
            "{answer}"
        );
        assert!(!answer.contains("transfer-encoding"), "{answer}");
        assert!(!answer.contains("999"), "{answer}");
    }
    stack.stop().await;
}
