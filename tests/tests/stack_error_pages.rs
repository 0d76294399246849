//! CloudFront's custom error responses: an origin error status that an entry names with a page
//! path is replaced by that page, fetched from the origin, with the entry's response code. The
//! origin is the test-only `fault-fn` (`/alb/status-<n>` answers status `n`, any other path 200
//! `ok` with the path it got in `x-fault-path`); the edge function is the real edge-fn.

use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, config, next_record};
use edge_stack::cloudfront::{CustomErrorResponse, ResultType};

fn entry(code: u16, response: Option<u16>, path: Option<&str>) -> CustomErrorResponse {
    CustomErrorResponse {
        error_code: code,
        response_code: response,
        response_page_path: path.map(str::to_owned),
        error_caching_min_ttl: Some(0),
    }
}

async fn stack(tag: &str) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.edge_fn, &b.fault_fn);
    cfg.error_responses = vec![
        entry(404, Some(200), Some("/errors/not-found.html")),
        entry(500, Some(503), Some("/errors/5xx.html")),
        // The page is missing: the origin answers 404 for it.
        entry(503, Some(200), Some("/alb/status-404")),
        // No page: only the (unemulated) error caching TTL.
        entry(502, None, None),
        entry(504, Some(200), Some("/errors/timeout.html")),
    ];
    cfg.origin_read_timeout = Duration::from_millis(1500);
    TestStack::start(cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_error_status_gets_the_page_with_the_response_code() {
    let stack = stack("error-pages").await;
    let mut records = stack.stack.subscribe();

    let not_found = stack.get("/alb/status-404").await;
    assert_eq!(not_found.status, 200, "{not_found:?}");
    assert_eq!(
        not_found.body, "ok",
        "the page's body, fetched from the origin"
    );
    assert_eq!(
        not_found.header("x-fault-path"),
        Some("/errors/not-found.html")
    );
    assert_eq!(not_found.header("x-cache"), Some("Error from cloudfront"));
    let record = next_record(&mut records).await;
    assert_eq!(
        (record.status, record.result),
        (200, ResultType::Error),
        "sc-status is the response code, the result type stays Error"
    );

    let server = stack.get("/alb/status-500").await;
    assert_eq!(server.status, 503, "{server:?}");
    assert_eq!(server.body, "ok");
    assert_eq!(server.header("x-fault-path"), Some("/errors/5xx.html"));
    next_record(&mut records).await;

    let missing_page = stack.get("/alb/status-503").await;
    assert_eq!(
        missing_page.status, 404,
        "the status the origin gave for the page: {missing_page:?}"
    );
    assert_eq!(missing_page.body, "origin 404");
    assert_eq!(
        missing_page.header("x-cache"),
        Some("Error from cloudfront")
    );
    next_record(&mut records).await;

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_without_a_page_goes_to_the_viewer_unchanged() {
    let stack = stack("error-pages-none").await;
    let mut records = stack.stack.subscribe();
    for status in [403, 502] {
        let answer = stack.get(&format!("/alb/status-{status}")).await;
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(answer.body, format!("origin {status}"));
        // The origin's error, not replaced: still an error in CloudFront's words.
        assert_eq!(answer.header("x-cache"), Some("Error from cloudfront"));
        let record = next_record(&mut records).await;
        assert_eq!((record.status, record.result), (status, ResultType::Error));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudfronts_own_origin_timeout_gets_the_page_too() {
    let stack = stack("error-pages-timeout").await;
    let mut records = stack.stack.subscribe();
    // The origin answers after CloudFront's 1.5 s read timeout: CloudFront's 504, replaced.
    let slow = stack.get("/alb/sleep-2500").await;
    assert_eq!(slow.status, 200, "{slow:?}");
    assert_eq!(slow.header("x-fault-path"), Some("/errors/timeout.html"));
    assert_eq!(slow.header("x-cache"), Some("Error from cloudfront"));
    let record = next_record(&mut records).await;
    assert_eq!(record.result, ResultType::Error);
    assert!(
        record
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("timeout")),
        "the access log keeps why: {record:?}"
    );
    stack.stop().await;
}
