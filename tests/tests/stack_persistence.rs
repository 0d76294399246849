//! The article's experiment and the environment lifecycle, through the real stack:
//! CloudFront -> edge-fn -> ALB -> alb-fn, each function a real child process.

use std::collections::BTreeMap;
use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, config, has_field, message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persisted_value_survives_requests_spread_over_ten_seconds() {
    let b = bins();
    let stack = TestStack::start(config("article", &b.edge_fn, &b.alb_fn)).await;
    let started = std::time::Instant::now();
    let mut answers = Vec::new();
    for i in 0..6 {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        answers.push(stack.get("/").await);
    }
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the requests must span at least 10 s"
    );
    let first = answers[0].persisted();
    assert!(
        edge_persist_tests::is_rfc3339_millis_utc(&first),
        "{first:?}"
    );
    for a in &answers {
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.body.starts_with("Hello from Lambda! "), "{}", a.body);
        assert_eq!(
            a.persisted(),
            first,
            "every request carries the first request's value"
        );
        assert_eq!(a.header("x-cache"), Some("Miss from cloudfront"));
        assert!(
            a.header("via")
                .is_some_and(|v| v.contains("cloudfront.net (CloudFront)"))
        );
        assert_eq!(a.header("x-amz-cf-id").map(str::len), Some(56));
    }
    // The origin saw the header on every request: its log line shows the value each time.
    let logs = stack.logs("/aws/lambda/alb-fn").await;
    let seen = logs
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|l| has_field(message(l), "persisted", &first))
        .count();
    assert_eq!(seen, answers.len(), "alb-fn logs: {logs:#?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recycling_starts_a_new_environment_with_a_new_value() {
    let b = bins();
    let stack = TestStack::start(config("recycle", &b.edge_fn, &b.alb_fn)).await;
    let before = stack.get("/").await;
    assert_eq!(stack.get("/").await.persisted(), before.persisted());
    let recycled = stack.recycle(Some("edge-fn")).await;
    assert_eq!(recycled["recycled"]["edge-fn"], 1, "{recycled}");
    let after = stack.get("/").await;
    assert_ne!(after.persisted(), before.persisted());
    assert_ne!(after.edge_env(), before.edge_env());
    assert_eq!(
        stack.get("/").await.persisted(),
        after.persisted(),
        "the new value persists in turn"
    );
    let unknown = stack.recycle(Some("nope")).await;
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|e| e.contains("edge-fn")),
        "{unknown}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_environment_is_reclaimed_and_the_next_request_gets_a_new_value() {
    let b = bins();
    let mut cfg = config("idle", &b.edge_fn, &b.alb_fn);
    cfg.associations[0].pool.idle_timeout = Duration::from_millis(800);
    let stack = TestStack::start(cfg).await;
    let first = stack.get("/").await;
    assert_eq!(
        stack.get("/").await.persisted(),
        first.persisted(),
        "still warm"
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let status = stack.status().await;
    assert_eq!(
        status["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(0),
        "the reaper retired it: {status}"
    );
    let later = stack.get("/").await;
    assert_ne!(later.persisted(), first.persisted());
    assert_ne!(later.edge_env(), first.edge_env());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_scale_out_and_each_environment_keeps_its_own_value() {
    let b = bins();
    let stack = TestStack::start(config("concurrency", &b.edge_fn, &b.alb_fn)).await;
    let mut by_env: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for _round in 0..3 {
        let answers = futures_join4(&stack).await;
        for a in answers {
            assert_eq!(a.status, 200, "{a:?}");
            by_env.entry(a.edge_env()).or_default().push(a.persisted());
        }
    }
    assert!(
        (2..=4).contains(&by_env.len()),
        "4 concurrent requests with a limit of 4 ran in {} environments: {by_env:?}",
        by_env.len()
    );
    for (env, values) in &by_env {
        assert!(
            values.iter().all(|v| v == &values[0]),
            "environment {env} changed its value: {values:?}"
        );
    }
    let status = stack.status().await;
    let envs = status["functions"]["edge-fn"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(envs, by_env.len(), "{status}");
    stack.stop().await;
}

async fn futures_join4(stack: &TestStack) -> [edge_persist_tests::stack::Answer; 4] {
    let (a, b, c, d) = tokio::join!(
        stack.get("/"),
        stack.get("/"),
        stack.get("/"),
        stack.get("/")
    );
    [a, b, c, d]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_concurrency_serves_concurrent_requests_in_one_environment_with_one_value() {
    let b = bins();
    let mut cfg = config("managed", &b.edge_fn, &b.alb_fn);
    cfg.associations[0].pool.concurrency_limit = 1;
    cfg.associations[0].pool.per_environment_concurrency = 4;
    let stack = TestStack::start(cfg).await;
    for _round in 0..3 {
        let answers = futures_join4(&stack).await;
        let envs: Vec<String> = answers.iter().map(|a| a.edge_env()).collect();
        let values: Vec<String> = answers.iter().map(|a| a.persisted()).collect();
        assert!(
            answers.iter().all(|a| a.status == 200),
            "one environment with room for 4 takes all 4: {answers:?}"
        );
        assert!(envs.iter().all(|e| e == &envs[0]), "{envs:?}");
        assert!(
            values.iter().all(|v| v == &values[0]),
            "concurrent first invocations agree on one value: {values:?}"
        );
    }
    let status = stack.status().await;
    assert_eq!(
        status["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_past_its_maximum_lifetime_is_retired_even_when_busy_lately() {
    let b = bins();
    let mut cfg = config("lifetime", &b.edge_fn, &b.alb_fn);
    cfg.associations[0].pool.max_lifetime = std::time::Duration::from_millis(1500);
    let stack = TestStack::start(cfg).await;
    let first = stack.get("/").await;
    // Keep it busy every 300 ms so the idle time never runs out; the lifetime still does.
    let mut values = vec![first.persisted()];
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        values.push(stack.get("/").await.persisted());
    }
    assert_eq!(values[1], values[0], "still the first environment");
    assert_ne!(
        values.last(),
        values.first(),
        "retired after 1.5 s of life: {values:?}"
    );
    stack.stop().await;
}
