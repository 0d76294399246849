//! `wasm-bindgen-test` of the exported API, run in Node.js by `wasm-bindgen-test-runner`
//! (`tests/tests/wasm_bindgen_test.rs` installs the runner and runs this file for wasm32).
#![cfg(target_arch = "wasm32")]

use edge_persist_wasm::EdgeFunction;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const ORIGIN_REQUEST: &str =
    include_str!("../../tests/fixtures/events/cloudfront-origin-request.json");
const VIEWER_RESPONSE: &str =
    include_str!("../../tests/fixtures/events/cloudfront-viewer-response.json");
const T0: f64 = 1_800_000_000_000.0;

fn new_edge(config: &str) -> Result<EdgeFunction, JsValue> {
    EdgeFunction::new(config, "env-wbt", &[7; 16], "edge", Some(128.0), T0)
}

/// The value `handle`'s answer sets on header `name`: its first line is the header changes.
fn header(out: &str, name: &str) -> String {
    let changes = out.lines().next().unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(changes).expect("handle answers JSON lines");
    doc["set"][name][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn error_name(e: JsValue) -> String {
    e.dyn_into::<js_sys::Error>()
        .map(|e| String::from(e.name()))
        .unwrap_or_default()
}

#[wasm_bindgen_test]
fn the_value_persists_across_invocations_of_one_instance() {
    let edge = new_edge("").unwrap();
    let first = edge.handle(ORIGIN_REQUEST, T0 + 5.0, None).unwrap();
    let later = edge.handle(ORIGIN_REQUEST, T0 + 60_000.0, None).unwrap();
    assert_eq!(header(&first, "custom_header"), "2027-01-15T08:00:00.005Z");
    assert_eq!(
        header(&later, "custom_header"),
        header(&first, "custom_header")
    );
    assert_eq!(
        (
            header(&first, "x-persist-start"),
            header(&later, "x-persist-start")
        ),
        ("cold".into(), "warm".into())
    );
    assert_eq!(header(&later, "x-persist-invocation"), "2");
    assert_eq!(edge.environment_id(), "env-wbt");
}

#[wasm_bindgen_test]
fn errors_are_js_errors_named_like_edge_fn_error_types() {
    let edge = new_edge("").unwrap();
    assert_eq!(
        error_name(edge.handle(VIEWER_RESPONSE, T0, None).unwrap_err()),
        "UnsupportedEventType"
    );
    assert_eq!(
        error_name(edge.handle("{not json", T0, None).unwrap_err()),
        "InvalidEvent"
    );
    assert_eq!(
        error_name(
            new_edge(r#"{"persisted_header":"x-edge-nope"}"#)
                .err()
                .unwrap()
        ),
        "ConfigError"
    );
}

#[wasm_bindgen_test]
fn reset_starts_a_new_generation() {
    let edge = new_edge("").unwrap();
    let before = edge.handle(ORIGIN_REQUEST, T0, None).unwrap();
    edge.reset("env-restored", T0 + 1_000.0).unwrap();
    let after = edge.handle(ORIGIN_REQUEST, T0 + 2_000.0, None).unwrap();
    assert_ne!(
        header(&before, "custom_header"),
        header(&after, "custom_header")
    );
    assert_eq!(header(&after, "x-persist-env-id"), "env-restored");
    assert_eq!(header(&after, "x-persist-start"), "cold");
}
