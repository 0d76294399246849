//! Shared test support: the fixture corpus and the redactions every snapshot uses.

pub mod deploy;
pub mod http;
pub mod localstack;
pub mod pytools;
pub mod stack;
pub mod wasm;
pub mod workerd;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/fixtures/events/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("events")
}

/// One fixture by file stem, e.g. `cloudfront-origin-request`.
pub fn fixture(stem: &str) -> Value {
    let path = fixtures_dir().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every fixture whose stem starts with `prefix`, sorted by stem, as (stem, event).
pub fn fixtures(prefix: &str) -> Vec<(String, Value)> {
    let mut stems: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .filter(|stem| stem.starts_with(prefix))
        .collect();
    stems.sort();
    assert!(!stems.is_empty(), "no fixtures start with {prefix:?}");
    stems
        .into_iter()
        .map(|stem| (stem.clone(), fixture(&stem)))
        .collect()
}

/// Default names of the headers whose values change per run (see `edge_persist_core::Config`).
const VOLATILE_EDGE_HEADERS: &[(&str, &str)] = &[
    ("custom_header", "[persisted time]"),
    ("x-persist-env-id", "[environment id]"),
    ("x-persist-env-age-ms", "[age ms]"),
];

/// Replace times and ids in what the edge function returns (a CloudFront request, or an error
/// object), so native and wasm results compare equal and snapshots are stable. The persisted value
/// is checked to be RFC 3339 UTC with milliseconds before it is hidden.
pub fn redact_edge(mut value: Value) -> Value {
    if let Some(headers) = value.get_mut("headers").and_then(Value::as_object_mut) {
        for (name, placeholder) in VOLATILE_EDGE_HEADERS {
            for entry in headers
                .get_mut(*name)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if *name == "custom_header" {
                    let v = entry["value"].as_str().unwrap_or_default();
                    assert!(
                        is_rfc3339_millis_utc(v),
                        "persisted value {v:?} is not RFC 3339 UTC with ms"
                    );
                }
                entry["value"] = Value::from(*placeholder);
            }
        }
    }
    value
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_rfc3339_millis_utc(v: &str) -> bool {
    let shape =
        v.len() == 24 && v.ends_with('Z') && v.as_bytes()[10] == b'T' && v.as_bytes()[19] == b'.';
    shape && chrono::DateTime::parse_from_rfc3339(v).is_ok()
}

/// CloudFront events that are not well formed: each must be an `InvalidEvent` error, never a
/// panic, and the same error natively and in wasm.
pub fn malformed_cloudfront_events() -> Vec<Value> {
    use serde_json::json;
    let base = fixture("cloudfront-origin-request");
    let mut two_records = base.clone();
    let record = two_records["Records"][0].clone();
    if let Some(records) = two_records["Records"].as_array_mut() {
        records.push(record);
    }
    let mut bad_event_type = base.clone();
    bad_event_type["Records"][0]["cf"]["config"]["eventType"] = json!("origin-sideways");
    let mut bad_headers = base.clone();
    bad_headers["Records"][0]["cf"]["request"]["headers"]["host"] = json!("not-a-list");
    let mut no_uri = base;
    if let Some(request) = no_uri["Records"][0]["cf"]["request"].as_object_mut() {
        request.remove("uri");
    }
    vec![
        json!(null),
        json!("text"),
        json!(42),
        json!({}),
        json!({"Records": []}),
        json!({"Records": [{"cf": {}}]}),
        two_records,
        bad_event_type,
        bad_headers,
        no_uri,
    ]
}

/// The fixed clock of the handler tests: 2026-11-27T10:00:00Z.
pub fn t0() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("a valid fixed time"))
}

/// The edge function's identity in tests: a fixed session secret and 128 MB, the given
/// environment id (it shows in `x-persist-env-id`) and clock.
pub fn init(environment_id: &str, now: chrono::DateTime<chrono::Utc>) -> edge_persist_core::Init {
    edge_persist_core::Init {
        function_name: "edge-fn".into(),
        environment_id: environment_id.into(),
        session_secret: [7; 16],
        memory_mb: Some(128),
        now,
    }
}
