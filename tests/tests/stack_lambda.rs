//! The Lambda side of the stack, with a test-only runtime in plain Python
//! (`tests/fixtures/runtimes/raw-runtime.py`) where lambda_runtime would never misbehave:
//! error reports with any body, late answers, memory enforcement, freezing between invocations,
//! a private /tmp per environment, the Lambda@Edge identity and what Lambda@Edge refuses
//! (docs/AWS-BEHAVIOUR.md, "The Lambda execution environment", "The Lambda Runtime API and
//! logs", "Lambda@Edge: what a function may be").

use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, config, has_field, message, raw_runtime};
use edge_stack::logs::LogFormat;
use edge_stack::{Stack, StackError};
use serde_json::Value;

/// edge-fn at the edge, the raw Python runtime as the ALB target.
async fn raw_origin(tag: &str, tweak: impl FnOnce(&mut edge_stack::StackConfig)) -> TestStack {
    let b = bins();
    let mut cfg = config(tag, &b.edge_fn, &b.alb_fn);
    let (python, args) = raw_runtime();
    cfg.origin.program = python;
    cfg.origin.args = args;
    // The raw runtime stands for a function on Lambda's Python runtime.
    cfg.origin.runtime = edge_stack::Runtime::Python(13);
    tweak(&mut cfg);
    TestStack::start(cfg).await
}

fn lines(logs: &[(std::path::PathBuf, String)]) -> Vec<String> {
    logs.iter()
        .flat_map(|(_, t)| t.lines().map(|l| message(l).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_reports_take_any_body_and_late_answers_get_410() {
    let stack = raw_origin("raw-errors", |_| {}).await;
    assert_eq!(stack.get("/raw/error-text").await.status, 502);
    let ok = stack.get("/raw/twice").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    // The second answer is printed once the environment runs again: the next invocation.
    assert_eq!(stack.get("/raw/env").await.status, 200);
    let all = lines(&stack.logs("/aws/lambda/alb-fn").await);
    assert!(
        all.iter().any(|l| l.contains("\"platform.runtimeDone\"")
            && has_field(l, "errorType", "Raw.PlainText")),
        "the type from the header, the body in plain text: {all:#?}"
    );
    assert!(
        all.iter().any(|l| l == "second answer: 410"),
        "a second answer to a finished invocation is refused with 410: {all:#?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_carry_init_start_and_the_status_of_failed_invocations() {
    let stack = raw_origin("raw-text-logs", |c| {
        c.origin.log_format = LogFormat::Text;
        c.origin.timeout = Duration::from_secs(1);
    })
    .await;
    assert_eq!(stack.get("/raw/env").await.status, 200);
    assert_eq!(stack.get("/raw/sleep-3000").await.status, 502);
    assert_eq!(stack.get("/raw/alloc-150").await.status, 502);
    let all = lines(&stack.logs("/aws/lambda/alb-fn").await);
    let first = |prefix: &str| all.iter().find(|l| l.starts_with(prefix)).cloned();
    assert!(
        all.first()
            .is_some_and(|l| l.starts_with("INIT_START Runtime Version: python:")),
        "{all:#?}"
    );
    assert!(
        first("REPORT").is_some_and(|r| !r.contains("Status:")),
        "a good invocation's REPORT has no Status: {all:#?}"
    );
    assert!(
        all.iter()
            .any(|l| l.starts_with("REPORT") && l.ends_with("\tStatus: timeout")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|l| l.contains("Task timed out after 1.00 seconds")),
        "{all:#?}"
    );
    assert!(
        all.iter().any(|l| l.starts_with("REPORT")
            && l.ends_with("\tStatus: error\tError Type: Runtime.OutOfMemory")),
        "{all:#?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_init_records_and_runtime_done_metrics() {
    let stack = raw_origin("raw-json-logs", |_| {}).await;
    assert_eq!(stack.get("/raw/env").await.status, 200);
    let all = lines(&stack.logs("/aws/lambda/alb-fn").await);
    let kinds: Vec<String> = all
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["type"].as_str().map(str::to_owned))
        .filter(|t| t.starts_with("platform."))
        .collect();
    assert_eq!(
        kinds,
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report"
        ],
        "{all:#?}"
    );
    let done: Value = all
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "platform.runtimeDone")
        .unwrap_or_default();
    assert!(
        done["record"]["metrics"]["durationMs"].is_f64(),
        "runtimeDone has metrics: {done}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_over_its_memory_is_killed_and_its_environment_replaced() {
    let stack = raw_origin("raw-memory", |_| {}).await;
    let before = stack.get("/raw/env").await;
    assert_eq!(before.status, 200);
    let answer = stack.get("/raw/alloc-150").await;
    assert_eq!(answer.status, 502, "128 MB function holding 150 MB");
    let all = lines(&stack.logs("/aws/lambda/alb-fn").await);
    assert!(
        all.iter().any(|l| l.contains("\"platform.report\"")
            && has_field(l, "errorType", "Runtime.OutOfMemory")),
        "{all:#?}"
    );
    // Well under the limit is fine, in a fresh environment.
    assert_eq!(stack.get("/raw/alloc-10").await.status, 200);
    let status = stack.status().await;
    assert_eq!(
        status["functions"]["alb-fn"].as_array().map(Vec::len),
        Some(1),
        "the killed environment is gone: {status}"
    );
    stack.stop().await;
}

fn ticks(body: &str) -> u64 {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["ticks"].as_u64())
        .unwrap_or_else(|| panic!("no ticks in {body}"))
}

fn process_state(pid: u64) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_are_frozen_between_invocations_unless_told_not_to() {
    for freeze in [true, false] {
        let stack = raw_origin(&format!("raw-freeze-{freeze}"), |c| {
            c.origin.freeze = freeze
        })
        .await;
        let first = ticks(&stack.get("/raw/ticks").await.body);
        let pid = stack.status().await["functions"]["alb-fn"][0]["pid"]
            .as_u64()
            .unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let state = process_state(pid);
        let second = ticks(&stack.get("/raw/ticks").await.body);
        let background = second - first;
        if freeze {
            assert_eq!(state, 'T', "stopped between invocations");
            assert!(
                background < 20,
                "a frozen environment's thread barely ran in 600 ms: {background} ticks"
            );
        } else {
            assert_ne!(state, 'T');
            assert!(
                background > 30,
                "a running environment's thread ticked on: {background} ticks"
            );
        }
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_has_its_own_tmp_kept_across_its_invocations() {
    let stack = raw_origin("raw-tmp", |_| {}).await;
    let env: Value = serde_json::from_str(&stack.get("/raw/env").await.body).unwrap_or_default();
    let tmp = env["TMPDIR"].as_str().unwrap_or("").to_owned();
    assert!(std::path::Path::new(&tmp).is_dir(), "{env}");
    assert_eq!(stack.get("/raw/tmp-write").await.body, "written");
    assert_eq!(stack.get("/raw/tmp-read").await.body, "true", "kept");
    stack.recycle(Some("alb-fn")).await;
    let env2: Value = serde_json::from_str(&stack.get("/raw/env").await.body).unwrap_or_default();
    assert_ne!(
        env2["TMPDIR"], env["TMPDIR"],
        "a new environment, a new /tmp"
    );
    assert_eq!(stack.get("/raw/tmp-read").await.body, "false");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !std::path::Path::new(&tmp).exists(),
        "the retired environment's /tmp is gone"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_function_runs_as_a_numbered_replica_and_lambda_edge_rules_hold() {
    let b = bins();
    let (python, args) = raw_runtime();
    // A Python edge function is what Lambda@Edge accepts: no native test mode needed.
    let mut cfg = config("raw-edge", &python, &b.alb_fn);
    cfg.associations[0].function.args = args;
    cfg.associations[0].function.runtime = edge_stack::Runtime::Python(13);
    cfg.edge_native_test = false;
    let stack = TestStack::start(cfg.clone()).await;
    let answer = stack.get("/raw/env").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let env: Value = serde_json::from_str(&answer.body).unwrap_or_default();
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "us-east-1.edge-fn");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "1");
    assert_eq!(
        env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "/aws/lambda/us-east-1.edge-fn"
    );
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .is_some_and(|s| s.contains("/[1]")),
        "{env}"
    );
    let starts = lines(&stack.logs("/aws/lambda/us-east-1.edge-fn").await);
    assert!(
        starts
            .iter()
            .any(|l| l.contains("\"platform.start\"") && has_field(l, "version", "1")),
        "{starts:#?}"
    );
    stack.stop().await;

    // What Lambda@Edge refuses, the stack refuses too, outside the native test mode.
    let mut with_env = cfg.clone();
    with_env.associations[0].function.env = vec![("EDGE_PERSIST_HEADER".into(), "x-value".into())];
    let mut long = cfg.clone();
    long.associations[0].function.timeout = Duration::from_secs(31);
    let mut native = cfg.clone();
    native.associations[0].function.program = b.edge_fn.clone();
    native.associations[0].function.args = vec![];
    native.associations[0].function.runtime = edge_stack::Runtime::ProvidedAl2023;
    for (what, refused) in [
        ("environment variables", with_env),
        ("timeout", long),
        ("runtime", native.clone()),
    ] {
        match Stack::start(refused).await {
            Err(StackError::EdgeRefused(reasons)) => {
                assert!(reasons.iter().any(|r| r.contains(what)), "{reasons:?}")
            }
            Err(other) => panic!("{what}: {other}"),
            Ok(stack) => {
                stack.shutdown().await;
                panic!("{what}: the stack accepted an edge function Lambda@Edge refuses")
            }
        }
    }
    native.edge_native_test = true;
    let stack = TestStack::start(native).await;
    assert_eq!(
        stack.get("/").await.status,
        200,
        "the native test mode runs it"
    );
    stack.stop().await;
}
