//! What CloudFront and the ALB answer when a function misbehaves. The misbehaving function is
//! the test-only `fault-fn` (tests/src/bin/fault-fn.rs); the shipped functions have no faults.

use std::time::Duration;

use edge_persist_tests::stack::next_record;
use edge_persist_tests::stack::{TestStack, bins, config};

/// Edge = fault-fn, origin = the real alb-fn.
async fn faulty_edge(tag: &str) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.fault_fn, &b.alb_fn);
    cfg.associations[0].function.timeout = Duration::from_secs(2);
    TestStack::start(cfg).await
}

/// Edge = the real edge-fn, origin = fault-fn.
async fn faulty_origin(tag: &str) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.edge_fn, &b.fault_fn);
    cfg.origin.timeout = Duration::from_secs(1);
    TestStack::start(cfg).await
}

fn redact_request_id(page: &str) -> String {
    page.lines()
        .map(|l| {
            if l.starts_with("Request ID: ") {
                "Request ID: [id]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_results_that_break_cloudfront_rules_get_502() {
    let stack = faulty_edge("rules").await;
    let mut records = stack.stack.subscribe();
    let disallowed = stack.get("/edge/disallowed").await;
    assert_eq!(disallowed.status, 502);
    assert_eq!(
        disallowed.header("x-cache"),
        Some("LambdaValidationError from cloudfront")
    );
    assert_eq!(disallowed.header("content-type"), Some("text/html"));
    assert!(
        disallowed
            .body
            .contains(disallowed.header("x-amz-cf-id").unwrap_or("missing")),
        "the page names the request id"
    );
    insta::assert_snapshot!(
        "cloudfront-502-disallowed-header",
        redact_request_id(&disallowed.body)
    );
    assert_eq!(
        next_record(&mut records).await.result.as_str(),
        "LambdaValidationError"
    );

    let read_only = stack.get("/edge/readonly").await;
    assert_eq!(read_only.status, 502);
    let record = next_record(&mut records).await;
    assert!(
        record
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("read-only")),
        "the access log says why: {record:?}"
    );
    assert!(!read_only.body.contains("via"), "{}", read_only.body);

    // The same function passes when it keeps to the rules.
    let fine = stack.get("/ok").await;
    assert_eq!(fine.status, 200, "{fine:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_errors_crashes_and_timeouts_get_503_and_a_crash_costs_the_environment() {
    let stack = faulty_edge("crash").await;
    let mut records = stack.stack.subscribe();

    let warm = stack.get("/ok").await;
    assert_eq!(warm.status, 200);
    let first = next_record(&mut records).await;
    let first_env = first.edge_environment.clone().unwrap_or_default();

    // A handled function error keeps the environment (as Lambda does).
    let error = stack.get("/edge/error").await;
    assert_eq!(error.status, 503);
    assert_eq!(
        error.header("x-cache"),
        Some("LambdaExecutionError from cloudfront")
    );
    // The function's error type and message go to the logs, never to the viewer.
    assert!(!error.body.contains("FaultError"), "{}", error.body);
    let errored = next_record(&mut records).await;
    assert_eq!(
        (errored.result.as_str(), errored.edge_environment.as_deref()),
        ("LambdaExecutionError", Some(first_env.as_str()))
    );
    // The viewer learns the kind of failure, never the function's message or the environment.
    for secret in ["FaultError", "asked to fail", first_env.as_str()] {
        assert!(!error.body.contains(secret), "{secret}: {}", error.body);
    }
    assert!(
        errored
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("FaultError")),
        "the access log says why: {errored:?}"
    );

    let status = stack.status().await;
    let pid = status["functions"]["edge-fn"][0]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {status}"));
    let crash = stack.get("/edge/crash").await;
    assert_eq!(crash.status, 503);
    let crashed = next_record(&mut records).await;
    assert!(
        crashed
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("runtime exited")),
        "{crashed:?}"
    );

    let next = stack.get("/ok").await;
    assert_eq!(next.status, 200, "{next:?}");
    let fresh = next_record(&mut records).await;
    assert_eq!(
        fresh.edge_cold,
        Some(true),
        "a fresh environment serves the request after the crash"
    );
    assert_ne!(fresh.edge_environment.as_deref(), Some(first_env.as_str()));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid),
        "crashed process {pid} is gone"
    );

    let hang = stack.get("/edge/hang").await;
    assert_eq!(
        hang.status, 503,
        "an edge timeout is a Lambda limit exceeded"
    );
    assert_eq!(
        hang.header("x-cache"),
        Some("LambdaLimitExceeded from cloudfront")
    );
    let logs = stack.logs("/aws/lambda/us-east-1.edge-fn").await;
    let all: String = logs.iter().map(|(_, t)| t.as_str()).collect();
    // JSON log format: the timeout and the crash are platform records, not text lines.
    let record = |kind: &str, status: &str| {
        all.lines()
            .map(edge_persist_tests::stack::message)
            .any(|m| {
                m.contains(&format!("\"{kind}\""))
                    && edge_persist_tests::stack::has_field(m, "status", status)
            })
    };
    assert!(record("platform.runtimeDone", "timeout"), "{all}");
    assert!(record("platform.report", "timeout"), "{all}");
    assert!(record("platform.report", "failure"), "{all}");
    assert!(all.contains("\"errorType\":\"Runtime.ExitError\""), "{all}");
    stack.stop().await;
}

fn is_zombie(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_above_the_concurrency_limit_are_throttled() {
    let b = bins();
    let mut cfg = config("throttle", &b.fault_fn, &b.alb_fn);
    cfg.associations[0].pool.concurrency_limit = 2;
    let stack = TestStack::start(cfg).await;
    let (a, b2, c) = tokio::join!(
        stack.get("/edge/sleep-1500"),
        stack.get("/edge/sleep-1500"),
        stack.get("/edge/sleep-1500")
    );
    let mut statuses = [a.status, b2.status, c.status];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 503],
        "two environments serve, the third request is throttled"
    );
    let throttled = [a, b2, c]
        .into_iter()
        .find(|x| x.status == 503)
        .unwrap_or_else(|| panic!("no 503"));
    assert_eq!(
        throttled.header("x-cache"),
        Some("LambdaLimitExceeded from cloudfront")
    );
    assert!(throttled.body.contains("throttled"), "{}", throttled.body);
    // Once they are free, the same two environments serve again: no third one was made.
    let again = stack.get("/ok").await;
    assert_eq!(again.status, 200);
    let status = stack.status().await;
    assert_eq!(
        status["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_function_can_answer_itself() {
    let stack = faulty_edge("generated").await;
    let generated = stack.get("/edge/generated").await;
    assert_eq!(
        (generated.status, generated.body.as_str()),
        (201, "generated at the edge")
    );
    assert_eq!(
        generated.header("x-cache"),
        Some("LambdaGeneratedResponse from cloudfront")
    );
    assert_eq!(generated.header("content-type"), Some("text/plain"));
    assert!(
        generated.header("x-persist-value").is_none(),
        "the origin was not called"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_answers_502_for_invalid_or_oversized_responses_and_every_lambda_failure() {
    let stack = faulty_origin("alb").await;
    let ok = stack.get("/fine").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    assert!(
        ok.header("x-seen-custom-header")
            .is_some_and(edge_persist_tests::is_rfc3339_millis_utc),
        "the edge value reached the target: {ok:?}"
    );

    let invalid = stack.get("/alb/invalid").await;
    assert_eq!(invalid.status, 502);
    assert_eq!(
        invalid.header("server"),
        Some("awselb/2.0"),
        "the ALB's page, passed through CloudFront"
    );
    insta::assert_snapshot!("alb-502", invalid.body);

    assert_eq!(stack.get("/alb/big").await.status, 502);
    // A Lambda timeout is a 502 at the ALB, not a 504; so is a function error.
    assert_eq!(stack.get("/alb/hang").await.status, 502);
    assert_eq!(stack.get("/alb/crash").await.status, 502);
    assert_eq!(stack.get("/alb/error").await.status, 502);
    for field in ["statusDescription", "headers", "multiValueHeaders", "body"] {
        let answer = stack.get(&format!("/alb/null-{field}")).await;
        assert_eq!(answer.status, 502, "{field}: null");
        assert_eq!(answer.header("server"), Some("awselb/2.0"));
    }
    assert_eq!(
        stack.get("/fine").await.status,
        200,
        "a fresh environment replaces the ones that hung and crashed"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_dies_during_init_or_cannot_start_is_an_execution_error() {
    let b = bins();
    // `false` exits at once without ever calling /runtime/invocation/next.
    let stack = TestStack::start(config(
        "init-exit",
        std::path::Path::new("/bin/false"),
        &b.alb_fn,
    ))
    .await;
    let mut records = stack.stack.subscribe();
    let answer = stack.get("/").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    let record = next_record(&mut records).await;
    assert!(
        record
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("runtime exited during init")),
        "{record:?}"
    );
    let logs = stack.logs("/aws/lambda/us-east-1.edge-fn").await;
    // JSON log format: the failed Init is a platform.initReport record with its error type.
    assert!(
        logs.iter().flat_map(|(_, t)| t.lines()).any(|l| {
            let m = edge_persist_tests::stack::message(l);
            m.contains("\"platform.initReport\"")
                && edge_persist_tests::stack::has_field(m, "status", "error")
                && edge_persist_tests::stack::has_field(m, "errorType", "Runtime.ExitError")
        }),
        "{logs:#?}"
    );
    assert_eq!(
        stack.status().await["functions"]["edge-fn"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "the failed environment is gone"
    );
    stack.stop().await;

    let missing = TestStack::start(config(
        "no-binary",
        std::path::Path::new("/nonexistent/edge-fn"),
        &b.alb_fn,
    ))
    .await;
    let mut records = missing.stack.subscribe();
    let answer = missing.get("/").await;
    assert_eq!(answer.status, 503);
    assert!(!answer.body.contains("/nonexistent"), "{}", answer.body);
    let record = next_record(&mut records).await;
    assert!(
        record
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("cannot start")),
        "{record:?}"
    );
    missing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_alb_target_is_a_502_not_a_503() {
    let b = bins();
    let mut cfg = config("alb-throttle", &b.edge_fn, &b.fault_fn);
    cfg.origin_pool.concurrency_limit = 1;
    let stack = TestStack::start(cfg).await;
    let (a, b2) = tokio::join!(stack.get("/alb/sleep-1500"), stack.get("/alb/sleep-1500"));
    let mut statuses = [a.status, b2.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 502], "one serves, the other is throttled");
    let throttled = if a.status == 502 { a } else { b2 };
    assert_eq!(throttled.header("server"), Some("awselb/2.0"));
    stack.stop().await;
}

/// What the ALB puts in the target event: the body encoding rule and the trace header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_encodes_bodies_by_its_text_list_and_keeps_the_trace_root() {
    let b = bins();
    let mut cfg = config("alb-event", &b.edge_fn, &b.fault_fn);
    // Every viewer header reaches the ALB (the project's policy forwards Content-Type only).
    cfg.policies = edge_stack::cloudfront::Policies::by_name("CachingDisabled", "AllViewer")
        .unwrap_or_else(|e| panic!("{e}"));
    let stack = TestStack::start(cfg).await;
    let url = format!("{}/alb/echo", stack.stack.url());
    let echo = |content_type: &'static str, encoding: Option<&'static str>| {
        let mut req = stack
            .client
            .post(&url)
            .header("content-type", content_type)
            .body("{\"a\":1}");
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        async move {
            let resp = req.send().await.unwrap_or_else(|e| panic!("POST: {e}"));
            let text = resp.text().await.unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{e}: {text}"))
        }
    };
    let json = echo("application/json", None).await;
    assert_eq!(
        (json["isBase64Encoded"].as_bool(), json["body"].as_str()),
        (Some(false), Some("{\"a\":1}"))
    );
    for (ct, enc) in [
        ("application/ld+json", None),
        ("application/problem+xml", None),
        ("application/json", Some("identity")),
    ] {
        let event = echo(ct, enc).await;
        assert_eq!(
            (event["isBase64Encoded"].as_bool(), event["body"].as_str()),
            (Some(true), Some("eyJhIjoxfQ==")),
            "{ct} {enc:?}"
        );
    }

    let root = "Root=1-67891233-abcdef012345678912345678";
    let traced = stack
        .get_with("/alb/echo", &[("x-amzn-trace-id", root)])
        .await;
    let event: serde_json::Value = serde_json::from_str(&traced.body).unwrap_or_default();
    let trace = event["headers"]["x-amzn-trace-id"].as_str().unwrap_or("");
    assert!(
        trace.starts_with("Self=1-") && trace.ends_with(root),
        "ALB keeps the Root and adds Self: {trace}"
    );
    stack.stop().await;
}
