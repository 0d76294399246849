//! alb-fn's handler, called directly as Lambda would call it.

use alb_fn::{AlbState, handle_at};
use edge_persist_core::Config;
use edge_persist_core::echo::{Echoed, ORIGIN_ENVIRONMENT_HEADER};
use edge_persist_tests::{fixture, fixtures, t0};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};

fn state() -> AlbState {
    AlbState::new(Config::default(), "origin-env".into())
}

fn call(event: Value) -> Result<Value, Diagnostic> {
    handle_at(&state(), LambdaEvent::new(event, Context::default()), t0()).map_err(Diagnostic::from)
}

/// The same request as the edge would forward it: persisted value and environment headers added.
fn from_edge(mut event: Value) -> Value {
    let multi = event.get("multiValueHeaders").is_some();
    let added = [
        ("custom_header", "2026-11-27T09:59:00.000Z"),
        ("x-persist-env-id", "0123456789abcdef0123456789abcdef"),
        ("x-persist-invocation", "7"),
        ("x-persist-start", "warm"),
        ("x-persist-env-age-ms", "60000"),
        ("cookie", "edge_session=0123456789abcdef0123456789abcdef"),
    ];
    for (name, value) in added {
        if multi {
            event["multiValueHeaders"][name] = json!([value]);
        } else {
            event["headers"][name] = json!(value);
        }
    }
    event
}

fn with_accept(mut event: Value, accept: &str) -> Value {
    match event.get("multiValueHeaders").is_some() {
        true => event["multiValueHeaders"]["accept"] = json!([accept]),
        false => event["headers"]["accept"] = json!(accept),
    }
    event
}

#[test]
fn snapshot_per_alb_fixture_text_and_json() {
    for (stem, event) in fixtures("alb-") {
        let text = call(from_edge(event.clone())).unwrap();
        let mut json_answer = call(with_accept(from_edge(event), "application/json")).unwrap();
        // Shown parsed, so the snapshot reads as the document a client gets.
        json_answer["body"] = serde_json::from_str(json_answer["body"].as_str().unwrap()).unwrap();
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(stem.as_str(), json!({"text": text, "json": json_answer}));
        });
    }
}

#[test]
fn every_echoed_edge_header_comes_back_under_its_response_name() {
    let config = Config::default();
    let mut event = fixture("alb-request-headers-only");
    let mut expected = Vec::new();
    for (i, echoed) in Echoed::ALL.iter().enumerate() {
        let value = format!("value-{i}");
        event["headers"][echoed.request_header(&config)] = json!(value);
        expected.push((echoed.response_header(), value));
    }
    let resp = call(event).unwrap();
    for (name, value) in expected {
        assert_eq!(resp["headers"][name], value, "{name}");
    }
    assert_eq!(resp["headers"][ORIGIN_ENVIRONMENT_HEADER], "origin-env");
}

#[test]
fn an_edge_header_that_did_not_come_is_not_echoed() {
    let resp = call(fixture("alb-request-headers-only")).unwrap();
    for echoed in Echoed::ALL {
        assert!(
            resp["headers"].get(echoed.response_header()).is_none(),
            "{} in {resp}",
            echoed.response_header()
        );
    }
}

#[test]
fn text_answer_is_hello_plus_time_and_copies_the_persisted_value() {
    let resp = call(from_edge(fixture("alb-request-headers-only"))).unwrap();
    assert_eq!(resp["statusCode"], 200);
    assert_eq!(resp["statusDescription"], "200 OK");
    assert_eq!(resp["body"], "Hello from Lambda! 2026-11-27T10:00:00.000Z");
    assert_eq!(resp["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        resp["headers"]["x-persist-value"],
        "2026-11-27T09:59:00.000Z"
    );
    assert_eq!(
        resp["headers"]["x-persist-edge-env"],
        "0123456789abcdef0123456789abcdef"
    );
    assert!(
        resp.get("multiValueHeaders").is_none(),
        "single-value mode answers with headers only"
    );
}

#[test]
fn json_answer_carries_persisted_edge_and_headers() {
    let resp = call(with_accept(
        from_edge(fixture("alb-request-headers-only")),
        "application/json",
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["message"], "Hello from Lambda!");
    assert_eq!(doc["persisted"], "2026-11-27T09:59:00.000Z");
    assert_eq!(
        doc["edge"],
        json!({"environment_id": "0123456789abcdef0123456789abcdef", "invocation": "7", "start": "warm", "age_ms": "60000"})
    );
    assert_eq!(doc["headers"]["x-myheader"], "123");
}

#[test]
fn without_the_edge_persisted_is_null_and_no_copy_header() {
    let resp = call(with_accept(
        fixture("alb-request-headers-only"),
        "application/json",
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["persisted"], Value::Null);
    assert_eq!(doc["edge"], json!({}));
    assert!(resp["headers"].get("x-persist-value").is_none());
}

#[test]
fn multi_value_event_gets_a_multi_value_answer() {
    let mut event = from_edge(fixture("alb-request-multivalue-headers"));
    event["multiValueHeaders"]["x-myheader"] = json!(["1", "2"]);
    let resp = call(with_accept(event, "application/json")).unwrap();
    assert!(
        resp.get("headers").is_none(),
        "multi-value mode answers with multiValueHeaders only"
    );
    assert_eq!(
        resp["multiValueHeaders"]["x-persist-value"],
        json!(["2026-11-27T09:59:00.000Z"])
    );
    let doc: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["headers"]["x-myheader"], json!(["1", "2"]));
}

#[test]
fn base64_bodies_are_decoded_and_bad_base64_is_an_error() {
    let mut event = fixture("alb-request-headers-only");
    event["body"] = json!("AAEC/w==");
    event["isBase64Encoded"] = json!(true);
    let resp = call(with_accept(event.clone(), "application/json")).unwrap();
    let doc: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["request_body_bytes"], 4);
    event["body"] = json!("not base64!");
    assert_eq!(call(event).unwrap_err().error_type, "InvalidBody");
}

#[test]
fn odd_input_is_an_error_not_a_panic() {
    let mut bad_header = fixture("alb-request-headers-only");
    bad_header["headers"]["x-evil"] = json!("a\r\nb");
    let mut no_method = fixture("alb-request-headers-only");
    no_method.as_object_mut().unwrap().remove("httpMethod");
    let mut number_headers = fixture("alb-request-headers-only");
    number_headers["headers"] = json!(42);
    for event in [
        json!(null),
        json!([]),
        json!({}),
        bad_header,
        no_method,
        number_headers,
    ] {
        let err = call(event.clone()).expect_err(&event.to_string());
        assert_eq!(err.error_type, "InvalidEvent", "{event}");
    }
}

#[test]
fn non_utf8_obs_text_header_values_do_not_break_the_answer() {
    let mut event = fixture("alb-request-headers-only");
    event["headers"]["x-latin"] = json!("caf\u{e9}");
    let resp = call(with_accept(event, "application/json")).unwrap();
    let doc: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(doc["headers"]["x-latin"], "caf\u{e9}");
}

#[test]
fn issues_a_session_cookie_only_when_the_request_has_none() {
    let resp = call(fixture("alb-request-headers-only")).unwrap();
    let cookie = resp["headers"]["set-cookie"]
        .as_str()
        .expect("a new visitor gets a cookie");
    let (pair, attributes) = cookie.split_once("; ").unwrap();
    let token = pair.strip_prefix("edge_session=").unwrap();
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    assert_eq!(attributes, "Path=/; HttpOnly; Secure; SameSite=Lax");
    let second = call(fixture("alb-request-headers-only")).unwrap();
    assert_ne!(
        second["headers"]["set-cookie"], resp["headers"]["set-cookie"],
        "128 random bits each time"
    );

    let mut returning = fixture("alb-request-headers-only");
    returning["headers"]["cookie"] = json!(format!("a=b; edge_session={token}"));
    let resp = call(returning).unwrap();
    assert!(resp["headers"].get("set-cookie").is_none());
}
