//! The statistics on synthetic observations whose answers are known by construction.

use super::*;

/// A 200 from environment `env` with value `value`, sent at `t` ms, taking `ms`.
fn ok(seq: u64, t: f64, ms: f64, env: &str, start: Start, value: &str) -> Observation {
    Observation {
        seq,
        sent_ms: t,
        latency_ms: ms,
        status: Some(200),
        failure: None,
        value: Some(value.into()),
        edge_env: Some(env.into()),
        edge_start: Some(start),
        edge_invocation: None,
        origin_env: Some("o1".into()),
        session: None,
        pop: Some("LOCAL1-P1".into()),
        x_cache: Some("Miss from cloudfront".into()),
    }
}

fn error(seq: u64, t: f64, status: u16, cache: &str) -> Observation {
    let mut o = Observation::failed(seq, t, 5.0, "unused");
    o.status = Some(status);
    o.failure = None;
    o.x_cache = Some(cache.into());
    o
}

/// Environment A serves 0..3 (cold first), is recycled, B serves 3..5 (cold first), one 503
/// from CloudFront and one timeout in between.
fn run() -> Vec<Observation> {
    use Start::{Cold, Warm};
    let mut v = vec![
        ok(0, 0.0, 10.0, "A", Cold, "va"),
        ok(1, 500.0, 2.0, "A", Warm, "va"),
        ok(2, 1000.0, 3.0, "A", Warm, "va"),
        error(3, 1200.0, 503, "Error from cloudfront"),
        Observation::failed(4, 1300.0, 100.0, "timeout"),
        ok(5, 1500.0, 12.0, "B", Cold, "vb"),
        ok(6, 2500.0, 4.0, "B", Warm, "vb"),
    ];
    v.reverse(); // order of arrival must not matter
    v
}

#[test]
fn per_environment_first_last_lifetime_requests_cold_starts_pop() {
    let s = statistics(&run());
    let ids: Vec<&str> = s.environments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["A", "B"]);
    let a = &s.environments[0];
    assert_eq!((a.first_seen_ms, a.last_seen_ms), (0.0, 1000.0));
    assert_eq!(a.observed_lifetime_ms, 1000.0);
    assert_eq!((a.requests, a.cold_starts), (3, 1));
    assert_eq!(a.values, ["va"]);
    assert_eq!(a.pops, ["LOCAL1-P1"]);
    let b = &s.environments[1];
    assert_eq!((b.first_seen_ms, b.observed_lifetime_ms), (1500.0, 1000.0));
    assert_eq!((b.requests, b.cold_starts), (2, 1));
}

#[test]
fn overall_reuse_cold_ratio_value_changes() {
    let o = statistics(&run()).overall;
    assert_eq!((o.requests, o.responses), (7, 6));
    assert_eq!(o.distinct_environments, 2);
    // 5 requests named an environment, 2 of them the first of theirs.
    assert_eq!(o.reuse_ratio, Some(3.0 / 5.0));
    assert_eq!(o.cold_starts, 2);
    assert_eq!(o.cold_start_ratio, Some(2.0 / 5.0));
    assert_eq!((o.value_changes, o.distinct_values), (1, 2));
}

#[test]
fn errors_by_status_and_x_cache() {
    let o = statistics(&run()).overall;
    assert_eq!(o.errors.total, 2);
    let by_status: Vec<(&str, u64)> = o
        .errors
        .by_status
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(by_status, [("503", 1), ("timeout", 1)]);
    assert_eq!(o.errors.by_x_cache.get("Error from cloudfront"), Some(&1));
    assert_eq!(o.errors.by_x_cache.len(), 1, "a timeout has no X-Cache");
    assert_eq!(o.x_cache.get("Miss from cloudfront"), Some(&5));
}

#[test]
fn latency_percentiles_are_nearest_rank_over_every_request() {
    let o = statistics(&run()).overall;
    // Sorted: 2 3 4 5 10 12 100.
    let l = o.latency_ms.unwrap();
    assert_eq!((l.p50, l.p90, l.p99, l.max), (5.0, 100.0, 100.0, 100.0));
    let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&sorted, 50.0), Some(50.0));
    assert_eq!(percentile(&sorted, 90.0), Some(90.0));
    assert_eq!(percentile(&sorted, 99.0), Some(99.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn a_value_that_changes_inside_one_environment_is_seen() {
    let v = [
        ok(0, 0.0, 1.0, "A", Start::Cold, "v1"),
        ok(1, 1.0, 1.0, "A", Start::Warm, "v2"),
    ];
    let s = statistics(&v);
    assert_eq!(s.environments[0].values, ["v1", "v2"]);
    assert_eq!(s.overall.value_changes, 1);
}

#[test]
fn missing_fields_are_named_when_the_origin_is_not_alb_fn() {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-cache", "Miss from cloudfront".parse().unwrap());
    let v = [Observation::answered(0, 0.0, 1.0, 200, &h)];
    let s = statistics(&v);
    assert!(!s.missing_fields.contains(&Field::XCache));
    for f in [Field::Value, Field::EdgeEnvironment, Field::EdgeStart] {
        assert!(s.missing_fields.contains(&f), "{f:?}");
    }
    assert_eq!(s.overall.distinct_environments, 0);
    assert_eq!(s.overall.reuse_ratio, None);
    assert_eq!(s.overall.cold_start_ratio, None);
}

#[test]
fn nothing_observed_is_an_empty_report_not_a_panic() {
    let s = statistics(&[]);
    assert_eq!(s.overall.requests, 0);
    assert_eq!(s.overall.latency_ms, None);
    assert!(
        s.missing_fields.is_empty(),
        "no response: nothing to call missing"
    );
}
