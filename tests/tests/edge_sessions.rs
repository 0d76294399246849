//! Per-session headers added by edge-fn's handler.

use chrono::{DateTime, Duration, Utc};
use edge_fn::{EdgeState, handle_at};
use edge_persist_core::{Config, Init};
use edge_persist_tests::{fixture, init, t0};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

const ALICE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn state(config: Config) -> EdgeState {
    // No memory size known: the session budget is the config's own.
    let identity = Init {
        memory_mb: None,
        ..init("env", t0())
    };
    EdgeState::new(config, identity).unwrap()
}

fn with_cookie(cookie: &str) -> Value {
    let mut event = fixture("cloudfront-origin-request");
    event["Records"][0]["cf"]["request"]["headers"]["cookie"] =
        json!([{"key": "Cookie", "value": cookie}]);
    event
}

fn header(request: &Value, name: &str) -> Option<String> {
    request["headers"][name][0]["value"]
        .as_str()
        .map(str::to_owned)
}

fn call(state: &EdgeState, event: Value, now: DateTime<Utc>) -> Value {
    serde_json::to_value(
        handle_at(state, LambdaEvent::new(event, Context::default()), now).unwrap(),
    )
    .unwrap()
}

#[test]
fn two_sessions_count_independently() {
    let state = state(Config::default());
    let mut last = Value::Null;
    for i in 0..3 {
        last = call(
            &state,
            with_cookie(&format!("theme=dark; edge_session={ALICE}")),
            t0() + Duration::seconds(i),
        );
    }
    assert_eq!(
        header(&last, "x-persist-session-hits").as_deref(),
        Some("3")
    );
    assert_eq!(header(&last, "x-persist-session").as_deref(), Some("known"));
    assert_eq!(
        header(&last, "x-persist-session-first-seen").as_deref(),
        Some("2026-11-27T10:00:00.000Z")
    );
    let bob = call(
        &state,
        with_cookie(&format!("edge_session={BOB}")),
        t0() + Duration::seconds(9),
    );
    assert_eq!(header(&bob, "x-persist-session-hits").as_deref(), Some("1"));
    assert_eq!(header(&bob, "x-persist-session").as_deref(), Some("new"));
    assert_eq!(
        header(&bob, "x-persist-session-first-seen").as_deref(),
        Some("2026-11-27T10:00:09.000Z")
    );
}

#[test]
fn no_or_malformed_token_means_no_session_and_no_error() {
    let state = state(Config::default());
    for cookie in [
        "",
        "edge_session=short",
        "edge_session=has spaces in the token here",
        "other=aaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let request = call(&state, with_cookie(cookie), t0());
        assert_eq!(header(&request, "x-persist-session"), None, "{cookie:?}");
        assert!(header(&request, "custom_header").is_some());
    }
}

#[test]
fn client_cannot_spoof_session_headers() {
    let state = state(Config::default());
    let mut event = with_cookie("nothing=here");
    event["Records"][0]["cf"]["request"]["headers"]["X-Persist-Session-Hits"] =
        json!([{"key": "X-Persist-Session-Hits", "value": "999"}]);
    let request = call(&state, event, t0());
    assert!(!request.to_string().contains("999"));
}

#[test]
fn token_header_is_used_when_configured() {
    let mut config = Config::default();
    config.sessions.token_header = Some("x-session-id".into());
    let state = state(config);
    let mut event = fixture("cloudfront-origin-request");
    event["Records"][0]["cf"]["request"]["headers"]["x-session-id"] =
        json!([{"key": "X-Session-Id", "value": ALICE}]);
    call(&state, event.clone(), t0());
    let request = call(&state, event, t0());
    assert_eq!(
        header(&request, "x-persist-session-hits").as_deref(),
        Some("2")
    );
}

#[test]
fn sessions_expire_after_the_idle_ttl() {
    let mut config = Config::default();
    config.sessions.ttl_ms = 1_000;
    let state = state(config);
    call(&state, with_cookie(&format!("edge_session={ALICE}")), t0());
    let later = call(
        &state,
        with_cookie(&format!("edge_session={ALICE}")),
        t0() + Duration::seconds(2),
    );
    assert_eq!(header(&later, "x-persist-session").as_deref(), Some("new"));
    assert_eq!(state.edge.sessions().unwrap().stats().expirations, 1);
}

#[test]
fn a_few_kb_budget_evicts_and_keeps_serving() {
    let mut config = Config::default();
    config.sessions.budget_bytes = Some(2048);
    let state = state(config);
    for i in 0..200 {
        let request = call(
            &state,
            with_cookie(&format!("edge_session=session-{i:020}")),
            t0(),
        );
        assert_eq!(
            header(&request, "x-persist-session-hits").as_deref(),
            Some("1")
        );
    }
    let stats = state.edge.sessions().unwrap().stats();
    assert!(stats.bytes <= 2048 && stats.evictions > 0, "{stats:?}");
}

#[test]
fn session_tokens_never_reach_the_logs_or_metrics() {
    let state = state(Config::default());
    let handled = state
        .edge
        .handle(with_cookie(&format!("edge_session={ALICE}")), t0())
        .unwrap();
    let emf: Value =
        serde_json::from_str(handled.metrics.as_deref().expect("first invocation emits")).unwrap();
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "EdgePersist"
    );
    assert_eq!(emf["SessionEntries"], 1);
    assert!(!emf.to_string().contains(ALICE));
    assert!(!format!("{:?}", state.edge.sessions()).contains(ALICE));
}
