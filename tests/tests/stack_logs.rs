//! Local CloudWatch Logs: groups and streams named as Lambda names them, START/END/REPORT per
//! invocation, Init Duration only on a cold start; and what the origin receives.

use edge_persist_tests::stack::{TestStack, bins, config, message};
use edge_stack::logs::LogFormat;

/// Each line as its kind, so the shape of a stream can be compared as a whole.
fn shape(stream: &str) -> Vec<String> {
    stream
        .lines()
        .map(|l| {
            let m = message(l);
            let kind = if m.starts_with("INIT_START Runtime Version: ") {
                "INIT_START"
            } else if m.starts_with("START RequestId: ") {
                "START"
            } else if m.starts_with("END RequestId: ") {
                "END"
            } else if m.starts_with("REPORT RequestId: ") {
                if m.contains("Init Duration: ") {
                    "REPORT (cold: Init Duration)"
                } else {
                    "REPORT"
                }
            } else if m.contains("request headers") {
                "alb-fn: request headers"
            } else if m.contains(" init ") {
                "alb-fn: init"
            } else {
                "other"
            };
            kind.to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invocation_logs_start_end_report_and_only_cold_starts_log_init_duration() {
    let b = bins();
    let mut cfg = config("logs", &b.edge_fn, &b.alb_fn);
    cfg.associations[0].function.log_format = LogFormat::Text;
    cfg.origin.log_format = LogFormat::Text;
    let stack = TestStack::start(cfg).await;
    for _ in 0..3 {
        assert_eq!(stack.get("/").await.status, 200);
    }
    stack.recycle(Some("alb-fn")).await;
    for _ in 0..2 {
        assert_eq!(stack.get("/").await.status, 200);
    }
    let streams = stack.logs("/aws/lambda/alb-fn").await;
    assert_eq!(streams.len(), 2, "one stream per environment: {streams:#?}");
    let group_dir = stack.stack.logs_root.join("aws/lambda/alb-fn");
    for (path, text) in &streams {
        let name = path
            .strip_prefix(&group_dir)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let (date, env) = name
            .split_once("/[$LATEST]")
            .unwrap_or_else(|| panic!("stream name {name:?}"));
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%Y/%m/%d").is_ok(),
            "{name}"
        );
        assert!(
            env.len() == 32 && env.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        for line in text.lines().filter(|l| message(l).starts_with("REPORT")) {
            for field in [
                "\tDuration: ",
                " ms\tBilled Duration: ",
                " ms\tMemory Size: 128 MB\tMax Memory Used: ",
            ] {
                assert!(line.contains(field), "{line}");
            }
            let used: u64 = line
                .split("Max Memory Used: ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                used > 0,
                "Max Memory Used comes from the child's RSS: {line}"
            );
        }
    }
    insta::assert_debug_snapshot!(
        "alb-fn-streams",
        streams.iter().map(|(_, t)| shape(t)).collect::<Vec<_>>()
    );

    let edge = stack.logs("/aws/lambda/us-east-1.edge-fn").await;
    assert_eq!(edge.len(), 1, "the edge environment was not recycled");
    let reports: Vec<_> = edge[0]
        .1
        .lines()
        .filter(|l| message(l).starts_with("REPORT"))
        .collect();
    assert_eq!(reports.len(), 5);
    assert_eq!(
        reports
            .iter()
            .filter(|r| r.contains("Init Duration"))
            .count(),
        1
    );
    assert!(reports[0].contains("Init Duration"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_receives_an_alb_event_with_the_edge_headers() {
    let b = bins();
    let stack = TestStack::start(config("origin-view", &b.edge_fn, &b.alb_fn)).await;
    let answer = stack
        .get_with(
            "/path/x?b=2&a=%20",
            &[("accept", "application/json"), ("custom_header", "spoofed")],
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body));
    assert_ne!(
        doc["persisted"], "spoofed",
        "the edge replaces a client's custom_header"
    );
    insta::assert_json_snapshot!("origin-view", doc, {
        ".time" => "[time]",
        ".persisted" => "[time]",
        ".edge.environment_id" => "[id]",
        ".edge.age_ms" => "[ms]",
        ".origin.environment_id" => "[id]",
        ".origin.persisted" => "[time]",
        ".headers.custom_header" => "[time]",
        ".headers.host" => "[host]",
        ".headers.via" => "[via]",
        ".headers[\"x-amz-cf-id\"]" => "[cf-id]",
        ".headers[\"x-amzn-trace-id\"]" => "[trace]",
        ".headers[\"x-forwarded-port\"]" => "[port]",
        ".headers[\"x-persist-env-age-ms\"]" => "[ms]",
        ".headers[\"x-persist-env-id\"]" => "[id]",
    });
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_gives_platform_records_with_init_duration_only_when_cold() {
    let b = bins();
    let stack = TestStack::start(config("logs-json", &b.edge_fn, &b.alb_fn)).await;
    for _ in 0..3 {
        assert_eq!(stack.get("/").await.status, 200);
    }
    let streams = stack.logs("/aws/lambda/alb-fn").await;
    assert_eq!(streams.len(), 1);
    let records: Vec<serde_json::Value> = streams[0]
        .1
        .lines()
        .map(|l| {
            serde_json::from_str(message(l))
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
        })
        .collect();
    let of = |kind: &str| {
        records
            .iter()
            .filter(|r| r["type"] == kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("platform.start").len(), 3);
    assert_eq!(of("platform.runtimeDone").len(), 3);
    let reports = of("platform.report");
    assert_eq!(reports.len(), 3);
    for (i, r) in reports.iter().enumerate() {
        let m = &r["record"]["metrics"];
        assert_eq!(r["record"]["status"], "success");
        assert!(
            m["durationMs"].is_f64() && m["billedDurationMs"].is_u64() && m["memorySizeMB"] == 128,
            "{r}"
        );
        assert!(m["maxMemoryUsedMB"].as_u64().is_some_and(|v| v > 0), "{r}");
        assert_eq!(
            m.get("initDurationMs").is_some(),
            i == 0,
            "initDurationMs only on the cold start: {r}"
        );
    }
    stack.stop().await;
}
