//! A buggy or hostile function binary (the test-only fault-fn) against the stack: what it writes,
//! how it answers, what it starts and what it puts in its errors.

use std::time::{Duration, Instant};

use edge_persist_tests::stack::next_record;
use edge_persist_tests::stack::{TestStack, bins, config};

const EDGE: &str = "/aws/lambda/us-east-1.edge-fn";

async fn fault_edge(tag: &str, timeout: Duration) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.fault_fn, &b.alb_fn);
    cfg.associations[0].function.timeout = timeout;
    TestStack::start(cfg).await
}

async fn edge_log(stack: &TestStack) -> String {
    stack.logs(EDGE).await.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_output_is_kept_and_the_pipes_stay_open() {
    let stack = fault_edge("noise", Duration::from_secs(5)).await;
    let status = stack.status().await;
    assert_eq!(stack.get("/ok").await.status, 200);
    let pid = stack.status().await["functions"]["edge-fn"][0]["pid"].clone();
    for _ in 0..3 {
        let noisy = stack.get("/edge/noise").await;
        assert_eq!(noisy.status, 200, "{noisy:?}");
    }
    let after = stack.status().await;
    assert_eq!(
        after["functions"]["edge-fn"][0]["pid"], pid,
        "the same process goes on writing: {status} {after}"
    );
    let log = edge_log(&stack).await;
    assert!(
        log.contains("bad utf-8 \u{fffd}\u{fffd} here"),
        "lossy UTF-8"
    );
    let pieces: Vec<usize> = log
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, m)| m))
        .filter(|m| m.starts_with("yyyy"))
        .map(str::len)
        .collect();
    assert_eq!(
        pieces,
        [256 * 1024, 44 * 1024].repeat(3),
        "a 300 KB line is cut at 256 KB, nothing lost"
    );
    assert!(
        log.contains("escape \\u{1b}[31mred") && !log.contains('\u{1b}'),
        "terminal escapes are escaped"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_six_mb_fails_at_once_with_lambdas_error() {
    let stack = fault_edge("huge", Duration::from_secs(20)).await;
    let mut records = stack.stack.subscribe();
    let started = Instant::now();
    let huge = stack.get("/edge/huge").await;
    assert_eq!(huge.status, 503, "an execution error at the edge");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not the function's timeout"
    );
    let record = next_record(&mut records).await;
    assert!(
        record.detail.as_deref().is_some_and(|d| d.contains(
            "Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        )),
        "{record:?}"
    );
    let log = edge_log(&stack).await;
    assert!(log.contains(r#""status":"error""#), "{log}");
    assert!(!log.contains(r#""status":"timeout""#), "{log}");
    // The runtime was told and goes on: the environment serves the next request.
    assert_eq!(stack.get("/ok").await.status, 200);
    assert_eq!(
        stack.status().await["functions"]["edge-fn"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_posted_just_before_exiting_is_never_lost() {
    let stack = fault_edge("respond-exit", Duration::from_secs(5)).await;
    for i in 0..15 {
        let answer = stack.get("/edge/respond-exit").await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "answered before exiting"),
            "attempt {i}: {answer:?}"
        );
    }
    stack.stop().await;
}

fn children(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| l.split_once("fault-fn child ").map(|(_, pid)| pid.trim()))
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z "))
        .unwrap_or(true)
}

async fn wait_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids.iter().all(|&p| gone(p)) {
        assert!(
            Instant::now() < deadline,
            "children still alive: {:?}",
            pids.iter().filter(|&&p| !gone(p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_functions_children_die_with_its_environment() {
    let stack = fault_edge("children", Duration::from_secs(1)).await;
    // Timeout: the environment is discarded, with its child.
    assert_eq!(stack.get("/edge/child-hang").await.status, 503);
    // Crash.
    assert_eq!(stack.get("/edge/child-crash").await.status, 503);
    let pids = children(&edge_log(&stack).await);
    assert_eq!(pids.len(), 2, "one child per request");
    wait_gone(&pids).await;

    // Recycle.
    assert_eq!(stack.get("/edge/child-answer").await.status, 200);
    let log = edge_log(&stack).await;
    let recycled = children(&log)[2];
    assert!(!gone(recycled), "alive while its environment is");
    stack.recycle(Some("edge-fn")).await;
    wait_gone(&[recycled]).await;

    // Shutdown.
    assert_eq!(stack.get("/edge/child-answer").await.status, 200);
    let last = children(&edge_log(&stack).await)[3];
    assert!(!gone(last));
    stack.stop().await;
    wait_gone(&[last]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_text_cannot_forge_or_garble_log_lines() {
    let stack = fault_edge("forge", Duration::from_secs(5)).await;
    let mut records = stack.stack.subscribe();
    let answer = stack.get("/edge/error-newline").await;
    assert_eq!(answer.status, 503);
    assert!(!answer.body.contains("Forged"), "{}", answer.body);
    let record = next_record(&mut records).await;
    let detail = record.detail.unwrap_or_default();
    assert!(
        detail.contains("Forged\\nEND RequestId: forged\\u{1b}[2J"),
        "{detail}"
    );
    assert!(!detail.chars().any(|c| c.is_control()), "{detail:?}");
    let log = edge_log(&stack).await;
    assert!(
        !log.lines()
            .any(|l| l.contains("END RequestId: forged") && !l.contains("Forged")),
        "no line of its own: {log}"
    );
    assert!(!log.contains('\u{1b}'), "{log}");
    stack.stop().await;
}
