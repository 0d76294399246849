//! `edge-stack probe` against the local stack: what it reports equals what the stack's own logs
//! recorded (environments, requests, cold starts, lifetimes), its JSON has a snapshot, its SVG
//! is well-formed with one lane per environment, and Ctrl-C still writes the report.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use edge_persist_tests::stack::{TestStack, bins, config, message, next_record};
use edge_stack::probe::{self, Ask, Plan, Report, plot};
use serde_json::Value;

/// What the edge function's log streams say about one execution environment.
#[derive(Debug, PartialEq)]
struct Logged {
    invocations: u64,
    cold_starts: u64,
    /// From the first START to the last.
    lifetime_ms: f64,
}

fn json_of(line: &str) -> Option<Value> {
    serde_json::from_str(message(line)).ok()
}

fn find_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_str)
            .or_else(|| m.values().find_map(|v| find_str(v, key))),
        _ => None,
    }
}

/// Edge environment id (as edge-fn names itself in its lines) -> what its stream recorded.
async fn edge_logs(stack: &TestStack) -> BTreeMap<String, Logged> {
    let mut out = BTreeMap::new();
    for (path, text) in stack.logs("/aws/lambda/us-east-1.edge-fn").await {
        let mut id = None;
        let (mut starts, mut cold) = (Vec::new(), 0);
        for line in text.lines() {
            let Some(v) = json_of(line) else { continue };
            match v["type"].as_str() {
                Some("platform.start") => {
                    let time = line.split(' ').next().unwrap_or_default();
                    let t: DateTime<Utc> = time
                        .parse()
                        .unwrap_or_else(|e| panic!("time {time:?} in {}: {e}", path.display()));
                    starts.push(t);
                }
                Some("platform.report") => {
                    cold += u64::from(v["record"]["metrics"].get("initDurationMs").is_some());
                }
                _ => id = id.or_else(|| find_str(&v, "environment_id").map(str::to_owned)),
            }
        }
        let id = id.unwrap_or_else(|| panic!("no environment_id in {}", path.display()));
        let lifetime_ms = match (starts.first(), starts.last()) {
            (Some(a), Some(b)) => (*b - *a).num_microseconds().unwrap_or(0) as f64 / 1000.0,
            _ => 0.0,
        };
        out.insert(
            id,
            Logged {
                invocations: starts.len() as u64,
                cold_starts: cold,
                lifetime_ms,
            },
        );
    }
    out
}

fn plan(url: &str, requests: u64, rate: f64) -> Plan {
    Plan::new(Ask {
        url: url.into(),
        requests: Some(requests),
        duration: None,
        concurrency: 1,
        rate,
        timeout: Duration::from_secs(10),
        cookie_jar: true,
    })
    .unwrap_or_else(|e| panic!("plan: {e}"))
}

async fn probe_stack(stack: &TestStack, plan: &Plan, recycle_after: &[u64]) -> Report {
    let client = plan.client().unwrap_or_else(|e| panic!("client: {e}"));
    // Recycling from the observer, before the next request may start (concurrency 1), makes
    // the environments' boundaries exact.
    let outcome = probe::run(
        plan,
        client,
        |o| {
            if recycle_after.contains(&o.seq) {
                stack.stack.edge[0].recycle();
            }
        },
        std::future::pending(),
    )
    .await;
    assert!(!outcome.interrupted);
    Report::new(
        plan.url.as_str(),
        edge_persist_core::format_time(outcome.started_at),
        outcome.elapsed.as_secs_f64() * 1000.0,
        false,
        plan.settings(),
        outcome.observations,
    )
}

fn assert_report_matches_logs(report: &Report, logged: &BTreeMap<String, Logged>) {
    let envs = &report.statistics.environments;
    assert_eq!(
        envs.len(),
        logged.len(),
        "environments: report {envs:#?} logs {logged:#?}"
    );
    for e in envs {
        let l = logged
            .get(&e.id)
            .unwrap_or_else(|| panic!("{} is in the report, not in the logs {logged:#?}", e.id));
        assert_eq!(e.requests, l.invocations, "requests of {}", e.id);
        assert_eq!(
            e.invocations,
            Some(l.invocations),
            "invocation counter of {}",
            e.id
        );
        assert_eq!(e.cold_starts, l.cold_starts, "cold starts of {}", e.id);
        // Send time at the probe against START time at the stack: the same instants seen
        // from two places, a few ms apart.
        assert!(
            (e.observed_lifetime_ms - l.lifetime_ms).abs() < 250.0,
            "lifetime of {}: probe {} ms, logs {} ms",
            e.id,
            e.observed_lifetime_ms,
            l.lifetime_ms
        );
    }
    let o = &report.statistics.overall;
    assert_eq!(
        o.cold_starts,
        logged.values().map(|l| l.cold_starts).sum::<u64>()
    );
    assert_eq!(o.errors.total, 0, "{:#?}", o.errors);
    assert!(
        report.statistics.missing_fields.is_empty(),
        "{:?}",
        report.statistics.missing_fields
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_equals_the_logs_under_forced_recycles_and_has_a_json_snapshot_and_a_plot() {
    let b = bins();
    let stack = TestStack::start(config("probe-recycle", &b.edge_fn, &b.alb_fn)).await;
    let plan = plan(&format!("{}/", stack.stack.url()), 12, 10.0);
    let report = probe_stack(&stack, &plan, &[3, 7]).await;
    let logged = edge_logs(&stack).await;
    assert_report_matches_logs(&report, &logged);
    let o = &report.statistics.overall;
    assert_eq!(
        (o.requests, o.distinct_environments, o.cold_starts),
        (12, 3, 3)
    );
    assert_eq!(o.value_changes, 2, "one new value per recycle");
    // Polite pacing: never two sends closer than 1/rate (100 ms here).
    for pair in report.observations.windows(2) {
        let gap = pair[1].sent_ms - pair[0].sent_ms;
        assert!(
            gap >= 99.9,
            "requests {} and {} {gap} ms apart",
            pair[0].seq,
            pair[1].seq
        );
    }
    let requests: Vec<u64> = report
        .statistics
        .environments
        .iter()
        .map(|e| e.requests)
        .collect();
    assert_eq!(requests, [4, 4, 4]);
    let sessions: Vec<&str> = report
        .observations
        .iter()
        .filter_map(|o| o.session.as_deref())
        .collect();
    // The first request has no cookie yet (alb-fn issues it); from then on the jar sends it,
    // and the session is new to each environment once.
    assert_eq!(sessions.len(), 11, "{sessions:?}");
    assert_eq!(
        sessions.iter().filter(|s| **s == "new").count(),
        3,
        "{sessions:?}"
    );

    let json: Value = serde_json::to_value(&report).unwrap();
    insta::with_settings!({prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("probe-report-recycles", json, {
            ".url" => "[url]",
            ".started_at" => "[time]",
            ".duration_ms" => "[ms]",
            ".environments[].id" => "[edge env]",
            ".environments[].first_seen_ms" => "[ms]",
            ".environments[].last_seen_ms" => "[ms]",
            ".environments[].observed_lifetime_ms" => "[ms]",
            ".environments[].values[]" => "[value]",
            ".overall.latency_ms.p50" => "[ms]",
            ".overall.latency_ms.p90" => "[ms]",
            ".overall.latency_ms.p99" => "[ms]",
            ".overall.latency_ms.max" => "[ms]",
            ".observations[].sent_ms" => "[ms]",
            ".observations[].latency_ms" => "[ms]",
            ".observations[].value" => "[value]",
            ".observations[].edge_env" => "[edge env]",
            ".observations[].origin_env" => "[origin env]",
        });
    });

    let svg = plot::svg(&report).unwrap_or_else(|e| panic!("{e}"));
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("SVG is not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let lanes: Vec<&&str> = texts.iter().filter(|t| t.starts_with("edge ")).collect();
    assert_eq!(lanes.len(), 3, "one lane per environment: {lanes:?}");
    for (i, e) in report.statistics.environments.iter().enumerate() {
        assert!(
            texts.contains(&plot::lane_label(i, &e.id).as_str()),
            "no lane for {}",
            e.id
        );
    }
    assert!(!texts.contains(&plot::NO_ENVIRONMENT_LANE));
    let marks = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(marks, 2 * 12, "a mark per request in both panels");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_reclaimed_after_its_idle_time_is_a_new_one_with_a_cold_start() {
    let b = bins();
    let mut cfg = config("probe-idle", &b.edge_fn, &b.alb_fn);
    // Reaped within 100 ms + one 200 ms reaper tick; the probe asks every second.
    cfg.associations[0].pool.idle_timeout = Duration::from_millis(100);
    let stack = TestStack::start(cfg).await;
    let plan = plan(&format!("{}/", stack.stack.url()), 4, 1.0);
    let report = probe_stack(&stack, &plan, &[]).await;
    let logged = edge_logs(&stack).await;
    assert_report_matches_logs(&report, &logged);
    let o = &report.statistics.overall;
    assert_eq!((o.distinct_environments, o.cold_starts), (4, 4));
    assert_eq!(o.reuse_ratio, Some(0.0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_run_still_writes_the_report_table_json_and_plot() {
    let b = bins();
    let stack = TestStack::start(config("probe-sigint", &b.edge_fn, &b.alb_fn)).await;
    let mut served = stack.stack.subscribe();
    let dir = &stack.run_dir;
    let (json, svg) = (dir.join("probe.json"), dir.join("probe.svg"));
    let child = Command::new(&b.edge_stack)
        .args([
            "probe",
            &format!("{}/", stack.stack.url()),
            "--requests",
            "1000",
        ])
        .args(["--rate", "20", "--json"])
        .arg(&json)
        .arg("--plot")
        .arg(&svg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting edge-stack probe: {e}"));
    for _ in 0..5 {
        // The probe's requests reach the stack.
        next_record(&mut served).await;
    }
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status();
    assert!(kill.is_ok_and(|s| s.success()), "kill -INT {pid}");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("waiting for the probe: {e}"));
    assert!(started.elapsed() < Duration::from_secs(10), "slow to stop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(stdout.contains("environments     1"), "{stdout}");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON report: {e}")),
    )
    .unwrap_or_else(|e| panic!("JSON report: {e}"));
    assert_eq!(doc["schema_version"], probe::SCHEMA_VERSION);
    assert_eq!(doc["interrupted"], true);
    let n = doc["overall"]["requests"].as_u64().unwrap_or(0);
    // The stack records a request before its answer reaches the probe, and the probe (one request
    // at a time) drops the one in flight when interrupted: five records mean four answers at least.
    assert!((4..1000).contains(&n), "requests {n}");
    assert_eq!(
        doc["observations"].as_array().map(Vec::len),
        Some(n as usize)
    );
    let svg = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("no plot: {e}"));
    roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("plot is not XML: {e}"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_is_not_alb_fn_gets_the_missing_fields_named() {
    let b = bins();
    let stack = TestStack::start(config("probe-other", &b.edge_fn, &b.alb_fn)).await;
    // The stack's control endpoint: a real HTTP server that is neither CloudFront nor alb-fn.
    let url = format!("http://{}/status", stack.stack.control);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&bins().edge_stack)
            .args(["probe", &url, "--requests", "3", "--rate", "50"])
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("running edge-stack probe: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for header in [
        "x-persist-value",
        "x-persist-edge-env",
        "x-persist-edge-start",
        "x-amz-cf-pop",
        "x-cache",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("not found") && l.contains(header)),
            "{header} not named in:\n{stdout}"
        );
    }
    stack.stop().await;
}
