//! What CloudFront forwards, refuses and answers, through the real stack: cache and origin
//! request policies, headers CloudFront removes, the viewer size limits, generated responses and
//! returned query strings (docs/AWS-BEHAVIOUR.md, "Headers at the edge", "What CloudFront
//! forwards to the origin and the origin-request function", "CloudFront's answers when a
//! Lambda@Edge function fails").

use std::time::Duration;

use edge_persist_tests::stack::next_record;
use edge_persist_tests::stack::{TestStack, bins, config};
use edge_stack::cloudfront::Policies;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// edge-fn at the edge, fault-fn as the ALB target (its `/alb/echo` answers with the target
/// event, so the test sees exactly what reached the origin).
async fn echo_stack(tag: &str, policies: Policies) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.edge_fn, &b.fault_fn);
    cfg.policies = policies;
    TestStack::start(cfg).await
}

fn policies(cache: &str, origin_request: &str) -> Policies {
    Policies::by_name(cache, origin_request).unwrap_or_else(|e| panic!("{e}"))
}

/// The ALB target event the origin got.
async fn origin_event(stack: &TestStack, path: &str, headers: &[(&str, &str)]) -> Value {
    let answer = stack.get_with(path, headers).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

const VIEWER: &[(&str, &str)] = &[
    ("user-agent", "curl/8.0"),
    ("accept", "application/json"),
    ("x-custom", "kept?"),
    ("cookie", "theme=dark; edge_session=0123456789abcdef0123"),
    ("referer", "https://example.com/"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policies_forward_the_session_cookie_accept_and_the_query_only() {
    let stack = echo_stack("policy-default", Policies::default()).await;
    let event = origin_event(&stack, "/alb/echo?a=1&b=2", VIEWER).await;
    let h = &event["headers"];
    assert_eq!(h["user-agent"], "Amazon CloudFront", "{h}");
    assert_eq!(h["accept"], "application/json");
    assert_eq!(h["cookie"], "edge_session=0123456789abcdef0123", "{h}");
    assert!(
        h.get("x-custom").is_none() && h.get("referer").is_none(),
        "{h}"
    );
    // The deployment template's policy forwards the query string (alb-fn reports it).
    assert_eq!(
        event["queryStringParameters"],
        serde_json::json!({"a": "1", "b": "2"})
    );
    assert!(
        h["custom_header"]
            .as_str()
            .is_some_and(edge_persist_tests::is_rfc3339_millis_utc),
        "the edge function still ran: {h}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_disabled_alone_forwards_no_cookie_and_drops_set_cookie() {
    let b = bins();
    let mut cfg = config("policy-none", &b.edge_fn, &b.alb_fn);
    cfg.policies = policies("CachingDisabled", "none");
    let stack = TestStack::start(cfg).await;
    // alb-fn issues a session cookie to a request without one; CloudFront drops it.
    let answer = stack.get_with("/", &[("accept", "application/json")]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.header("set-cookie").is_none(), "{answer:?}");
    let doc: Value = serde_json::from_str(&answer.body).unwrap_or_default();
    assert!(
        doc.is_null(),
        "Accept is not forwarded either, so alb-fn answers text: {}",
        answer.body
    );
    stack.stop().await;

    // With the project's policy the cookie comes back to the viewer.
    let mut cfg = config("policy-cookie", &b.edge_fn, &b.alb_fn);
    cfg.policies = Policies::default();
    let stack = TestStack::start(cfg).await;
    let answer = stack.get("/").await;
    assert!(
        answer
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("edge_session=")),
        "{answer:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_viewer_forwards_everything_but_what_cloudfront_always_removes() {
    let stack = echo_stack("policy-all", policies("CachingDisabled", "AllViewer")).await;
    let mut viewer = VIEWER.to_vec();
    viewer.extend([
        ("x-real-ip", "10.0.0.1"),
        ("x-forwarded-proto", "gopher"),
        ("x-edge-location", "spoofed"),
        ("x-amz-cf-pop", "spoofed"),
        ("x-http-method-override", "DELETE"),
        ("via", "1.1 viewer-proxy"),
    ]);
    let event = origin_event(&stack, "/alb/echo?a=1&b=2", &viewer).await;
    let h = &event["headers"];
    assert_eq!(h["user-agent"], "curl/8.0");
    assert_eq!(h["x-custom"], "kept?");
    assert_eq!(h["cookie"], "theme=dark; edge_session=0123456789abcdef0123");
    assert_eq!(
        event["queryStringParameters"],
        serde_json::json!({"a": "1", "b": "2"})
    );
    for removed in [
        "x-real-ip",
        "x-edge-location",
        "x-amz-cf-pop",
        "x-http-method-override",
    ] {
        assert!(
            h.get(removed).is_none(),
            "{removed} reached the origin: {h}"
        );
    }
    assert_eq!(
        h["x-forwarded-proto"], "http",
        "the ALB's own, not the viewer's"
    );
    let via = h["via"].as_str().unwrap_or("");
    assert!(
        via.starts_with("1.1 viewer-proxy, 2.0 ") && via.ends_with(".cloudfront.net (CloudFront)"),
        "CloudFront appends to Via: {via}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_viewer_requests_get_413_before_any_function_runs() {
    let stack = echo_stack("limits", Policies::default()).await;
    let mut records = stack.stack.subscribe();
    let big = "v".repeat(21_000);
    let answer = stack.get_with("/alb/echo", &[("x-big", &big)]).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.header("x-cache"), Some("Error from cloudfront"));
    let long = format!("/alb/echo?q={}", "u".repeat(8_200));
    assert_eq!(stack.get(&long).await.status, 413);
    for _ in 0..2 {
        let r = next_record(&mut records).await;
        assert_eq!(
            (r.status, r.result.as_str(), r.edge_environment),
            (413, "Error", None)
        );
    }
    let status = stack.status().await;
    assert_eq!(
        status["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(0),
        "no edge environment was started: {status}"
    );
    // Just under both limits passes.
    let fine = format!("/alb/echo?q={}", "u".repeat(8_000));
    assert_eq!(stack.get(&fine).await.status, 200);
    stack.stop().await;
}

/// The status line as sent on the wire (reqwest hides the reason phrase).
async fn raw_status_line(stack: &TestStack, path: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(stack.stack.cloudfront)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_responses_and_returned_query_strings_follow_cloudfronts_rules() {
    let b = bins();
    let stack = TestStack::start(config("generated-rules", &b.fault_fn, &b.alb_fn)).await;
    assert_eq!(
        raw_status_line(&stack, "/edge/generated-status-299").await,
        "HTTP/1.1 299 Fine Indeed",
        "statusDescription is the reason phrase"
    );
    for status in ["199", "600", "abc"] {
        let answer = stack.get(&format!("/edge/generated-status-{status}")).await;
        assert_eq!(answer.status, 502, "status {status}");
        assert_eq!(
            answer.header("x-cache"),
            Some("LambdaValidationError from cloudfront")
        );
    }
    assert_eq!(
        stack.get("/edge/generated-big").await.status,
        502,
        "1 MB counts headers and body"
    );
    let mut records = stack.stack.subscribe();
    for bad in ["space", "hash", "control"] {
        let answer = stack.get(&format!("/edge/query-{bad}")).await;
        assert_eq!(answer.status, 502, "querystring with {bad}");
        // Why goes to the operator's access log; the viewer's page has CloudFront's fixed text.
        let record = loop {
            let r = next_record(&mut records).await;
            if r.uri.ends_with(&format!("query-{bad}")) {
                break r;
            }
        };
        let detail = record.detail.unwrap_or_default();
        assert!(detail.contains("querystring"), "{detail}");
        assert!(!answer.body.contains("querystring"), "{}", answer.body);
    }
    stack.stop().await;
}
