//! edge-fn's handler, called directly as Lambda would call it.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use edge_fn::{EdgeState, handle_at};
use edge_persist_core::headers::{
    self, DISALLOWED, HeaderError, READ_ONLY_ORIGIN_REQUEST, READ_ONLY_VIEWER_REQUEST,
};
use edge_persist_core::{Config, ConfigError, Environment};
use edge_persist_tests::{fixture, fixtures, init, redact_edge, t0};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};

fn state() -> EdgeState {
    state_with(Config::default())
}

fn state_with(config: Config) -> EdgeState {
    EdgeState::new(config, init("env-a", t0())).unwrap()
}

fn call(state: &EdgeState, event: Value, now: DateTime<Utc>) -> Result<Value, Diagnostic> {
    handle_at(state, LambdaEvent::new(event, Context::default()), now)
        .map(|req| serde_json::to_value(req).unwrap())
        .map_err(Diagnostic::from)
}

/// What the function returns for a fixture: the request, or the error Lambda would report.
pub fn outcome(result: Result<Value, Diagnostic>) -> Value {
    match result {
        Ok(request) => redact_edge(request),
        Err(d) => json!({"errorType": d.error_type, "errorMessage": d.error_message}),
    }
}

#[test]
fn snapshot_per_cloudfront_fixture() {
    for (stem, event) in fixtures("cloudfront-") {
        let value = outcome(call(&state(), event, t0()));
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(format!("edge-{stem}"), value);
        });
    }
}

#[test]
fn same_value_across_100_invocations_while_the_clock_moves_on() {
    let state = state();
    let mut seen = Vec::new();
    for i in 0..100 {
        let now = t0() + Duration::milliseconds(1234 * i);
        let request = call(&state, fixture("cloudfront-origin-request"), now).unwrap();
        seen.push((
            request["headers"]["custom_header"][0]["value"]
                .as_str()
                .unwrap()
                .to_owned(),
            request["headers"]["x-persist-invocation"][0]["value"]
                .as_str()
                .unwrap()
                .to_owned(),
            request["headers"]["x-persist-start"][0]["value"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    assert!(
        seen.iter().all(|(v, _, _)| v == "2026-11-27T10:00:00.000Z"),
        "{seen:?}"
    );
    let numbers: Vec<String> = (1..=100).map(|n| n.to_string()).collect();
    assert_eq!(
        seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        numbers
    );
    assert_eq!(seen[0].2, "cold");
    assert!(seen[1..].iter().all(|s| s.2 == "warm"));
}

#[test]
fn new_state_new_value() {
    let first = call(&state(), fixture("cloudfront-origin-request"), t0()).unwrap();
    let later = t0() + Duration::seconds(7);
    let second = call(&state(), fixture("cloudfront-origin-request"), later).unwrap();
    assert_ne!(
        first["headers"]["custom_header"],
        second["headers"]["custom_header"]
    );
    assert_eq!(
        second["headers"]["custom_header"][0]["value"],
        "2026-11-27T10:00:07.000Z"
    );
}

#[test]
fn concurrent_first_invocations_agree_on_one_value() {
    for _round in 0..20 {
        let state = Arc::new(state());
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (state, barrier) = (Arc::clone(&state), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    // Each thread's clock differs, so a race would show as different values.
                    let now = t0() + Duration::milliseconds(i);
                    call(&state, fixture("cloudfront-origin-request"), now).unwrap()
                })
            })
            .collect();
        let results: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let values: std::collections::BTreeSet<_> = results
            .iter()
            .map(|r| r["headers"]["custom_header"][0]["value"].to_string())
            .collect();
        assert_eq!(values.len(), 1, "{values:?}");
        let colds = results
            .iter()
            .filter(|r| r["headers"]["x-persist-start"][0]["value"] == "cold")
            .count();
        assert_eq!(colds, 1, "exactly one invocation is the cold one");
    }
}

#[test]
fn client_sent_custom_header_in_any_case_is_replaced() {
    let mut event = fixture("cloudfront-origin-request");
    let headers = &mut event["Records"][0]["cf"]["request"]["headers"];
    headers["custom_header"] = json!([{"key": "custom_header", "value": "spoofed-1"}]);
    headers["Custom_Header"] =
        json!([{"key": "CUSTOM_HEADER", "value": "spoofed-2"}, {"value": "spoofed-3"}]);
    headers["x-persist-env-id"] = json!([{"key": "X-Persist-Env-Id", "value": "spoofed-4"}]);
    let request = call(&state(), event, t0()).unwrap();
    let text = request.to_string();
    assert!(!text.contains("spoofed"), "{text}");
    assert_eq!(
        request["headers"]["custom_header"],
        json!([{"key": "custom_header", "value": "2026-11-27T10:00:00.000Z"}])
    );
    assert_eq!(request["headers"]["x-persist-env-id"][0]["value"], "env-a");
}

#[test]
fn every_disallowed_and_read_only_name_is_refused_in_config() {
    let prefixed = [
        "X-Amz-Cf-Pop",
        "x-amz-cf-anything",
        "X-Edge-Location",
        "x-edge-x",
    ];
    let names = DISALLOWED
        .iter()
        .chain(READ_ONLY_ORIGIN_REQUEST)
        .chain(READ_ONLY_VIEWER_REQUEST)
        .copied();
    for name in names.chain(prefixed) {
        for field in ["persisted_header", "age_header"] {
            for spelled in [name.to_owned(), name.to_ascii_uppercase()] {
                let mut config = Config::default();
                match field {
                    "persisted_header" => config.persisted_header = spelled.clone(),
                    _ => config.age_header = spelled.clone(),
                }
                let err = config.validate().expect_err(&spelled);
                let ConfigError::Header { source, .. } = err else {
                    panic!("{spelled}: {err}")
                };
                assert!(
                    matches!(
                        source,
                        HeaderError::Disallowed(_) | HeaderError::ReadOnly { .. }
                    ),
                    "{spelled}: {source}"
                );
            }
        }
    }
}

#[test]
fn names_that_are_not_tokens_are_refused_in_config() {
    for bad in [
        "",
        "custom header",
        "custom:header",
        "x\r\ny",
        "x\0",
        "héader",
    ] {
        let config = Config {
            persisted_header: bad.into(),
            ..Config::default()
        };
        assert!(
            matches!(
                config.validate(),
                Err(ConfigError::Header {
                    source: HeaderError::InvalidName(_),
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn cr_lf_and_nul_values_are_refused() {
    for bad in ["a\r\nx-injected: 1", "a\nb", "a\rb", "a\0b"] {
        assert!(
            matches!(
                headers::validate_value("custom_header", bad),
                Err(HeaderError::InvalidValue(_))
            ),
            "{bad:?}"
        );
    }
    // The emulator's check of a returned request refuses them as well.
    let sent: edge_persist_core::cloudfront::CloudFrontEvent =
        serde_json::from_value(fixture("cloudfront-origin-request")).unwrap();
    let sent = &sent.records[0].cf.request;
    let mut returned = sent.clone();
    returned.headers.insert(
        "x-ok".into(),
        edge_persist_core::cloudfront::smallvec![edge_persist_core::cloudfront::HeaderEntry::new(
            "X-Ok", "a\r\nb",
        )],
    );
    let event = edge_persist_core::cloudfront::EventType::OriginRequest;
    assert!(matches!(
        headers::check_returned_request(event, sent, &returned),
        Err(HeaderError::InvalidValue(_))
    ));
}

#[test]
fn malformed_events_are_errors_not_panics() {
    let cases = edge_persist_tests::malformed_cloudfront_events();
    let state = state();
    for event in cases {
        let err = call(&state, event.clone(), t0()).expect_err(&event.to_string());
        assert_eq!(
            err.error_type, "InvalidEvent",
            "{event}: {}",
            err.error_message
        );
        assert!(
            err.error_message.starts_with("malformed CloudFront event"),
            "{}",
            err.error_message
        );
    }
    assert_eq!(
        state.edge.environment().invocations(),
        0,
        "a malformed event is not an invocation"
    );
}

#[test]
fn oversized_request_is_a_clear_error() {
    let mut event = fixture("cloudfront-origin-request");
    event["Records"][0]["cf"]["request"]["headers"]["x-big"] =
        json!([{"key": "X-Big", "value": "v".repeat(20_400)}]);
    let err = call(&state(), event, t0()).unwrap_err();
    assert_eq!(err.error_type, "RequestTooLarge", "{}", err.error_message);
}

#[test]
fn snapstart_reset_gives_a_new_identity_and_value() {
    let env = Environment::new("snap", t0());
    let before = env.invoke(t0());
    env.reset("restored", t0() + Duration::seconds(30));
    let after = env.invoke(t0() + Duration::seconds(31));
    assert_ne!(before.persisted, after.persisted);
    assert_eq!((&*after.environment_id, after.cold), ("restored", true));
}

/// The handler as the runtime calls it now: the event's text, parsed straight into the typed
/// event.
fn call_text(state: &EdgeState, text: &str, now: DateTime<Utc>) -> Result<Value, Diagnostic> {
    let raw = serde_json::value::RawValue::from_string(text.to_owned()).unwrap();
    handle_at(state, LambdaEvent::new(raw, Context::default()), now)
        .map(|req| serde_json::to_value(req).unwrap())
        .map_err(Diagnostic::from)
}

#[test]
fn the_event_text_gives_what_the_parsed_event_gives_answers_and_errors_alike() {
    let record = |cf: Value| json!({"Records": [{"cf": cf}]});
    let request = fixture("cloudfront-origin-request");
    let cf = request["Records"][0]["cf"].clone();
    let mut texts: Vec<String> = fixtures("cloudfront-")
        .into_iter()
        .map(|(_, event)| event.to_string())
        .collect();
    texts.extend([
        // Two records, none, the wrong shapes, a header list that is not a list.
        json!({"Records": [{"cf": cf.clone()}, {"cf": cf.clone()}]}).to_string(),
        json!({"Records": []}).to_string(),
        json!({}).to_string(),
        json!([1, 2]).to_string(),
        record(json!({"config": cf["config"].clone()})).to_string(),
        record(json!({"config": cf["config"].clone(), "request": {"uri": 7}})).to_string(),
        {
            let mut bad = cf.clone();
            bad["request"]["headers"]["host"] = json!("not a list");
            record(bad).to_string()
        },
        // Pretty-printed, with unknown fields kept.
        {
            let mut extra = request.clone();
            extra["Records"][0]["cf"]["request"]["future"] = json!({"field": [1, 2.5, null]});
            serde_json::to_string_pretty(&extra).unwrap()
        },
    ]);
    // Two environments fed the same events in step: one by value, one by text. The answers are
    // the same; an error is the same error, and a parse error's message also says where.
    let (by_value, by_text) = (state(), state());
    for text in &texts {
        let value: Value = serde_json::from_str(text).unwrap();
        match (
            call(&by_value, value, t0()),
            call_text(&by_text, text, t0()),
        ) {
            (Err(expected), Err(got)) => {
                assert_eq!(got.error_type, expected.error_type, "for the event {text}");
                let same = got.error_message == expected.error_message;
                let placed = got.error_message.starts_with(&expected.error_message)
                    && got.error_message.contains(" at line ");
                assert!(
                    same || placed,
                    "for the event {text}: {} against {}",
                    got.error_message,
                    expected.error_message
                );
            }
            (expected, got) => {
                assert_eq!(outcome(got), outcome(expected), "for the event {text}")
            }
        }
    }
}

/// A field given twice: the parsed JSON keeps the last one, the event text is refused (the typed
/// parse sees both). CloudFront never sends one; refusing is the safer reading of such text.
#[test]
fn a_field_given_twice_in_the_event_text_is_an_invalid_event() {
    let text = fixture("cloudfront-origin-request").to_string().replacen(
        "\"uri\":",
        "\"uri\":\"/first\",\"uri\":",
        1,
    );
    let err = call_text(&state(), &text, t0()).unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(
        err.error_message.contains("duplicate field `uri`"),
        "{}",
        err.error_message
    );
}
