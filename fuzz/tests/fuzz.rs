//! Bounded fuzzing on stable Rust (proptest), in CI: everything that parses outside input must
//! answer with a value or an error, never panic. Seeds are the events of `tests/fixtures`, mutated
//! at random JSON paths with random values; strings include controls, quotes and non-ASCII.
//!
//! Cases per run (over 1M in total, see docs/PERFORMANCE.md for the time): [`CASES`].

use std::sync::OnceLock;

use edge_persist_core::{Config, EdgeFunction};
use edge_persist_tests::{fixtures, init, t0};
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestRunner};
use serde_json::{Value, json};

/// Cases of each harness: token parsing, CloudFront events, ALB events through alb-fn, ALB
/// response conversion, Runtime API requests.
const CASES: [(&str, u32); 5] = [
    ("token", 400_000),
    ("cloudfront", 250_000),
    ("alb-event", 150_000),
    ("alb-response", 150_000),
    ("runtime-api", 100_000),
];

/// `FUZZ_SCALE=0.01` runs a hundredth of the cases (a quick look), `FUZZ_SCALE=10` ten times as
/// many (a longer hunt).
fn cases(name: &str) -> u32 {
    let scale: f64 = std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let base = CASES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| panic!("no case count for {name}"));
    ((f64::from(base) * scale) as u32).max(1)
}

fn runner(name: &str) -> TestRunner {
    TestRunner::new(RunConfig {
        cases: cases(name),
        // A failure is shrunk and reported with its input; it then becomes a regression test
        // below by hand, so no persistence file is written.
        failure_persistence: None,
        ..RunConfig::default()
    })
}

/// Characters a hostile client or function might send: controls, quotes, separators,
/// non-ASCII (a C1 control, a replacement character, an emoji), and token characters.
const NASTY: &[char] = &[
    '\0',
    '\t',
    '\n',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{9b}',
    '"',
    '\\',
    '/',
    '%',
    '@',
    ';',
    '=',
    ',',
    ' ',
    ':',
    '?',
    '#',
    '.',
    '~',
    '\u{e9}',
    '\u{fffd}',
    '\u{1f600}',
    'a',
    'Z',
    '0',
    '9',
    '_',
    '-',
];

/// Text a hostile client or function might send (char vectors: much cheaper than regexes).
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(NASTY), 0..40),
        prop::collection::vec(any::<char>(), 0..12),
        prop::collection::vec(prop::sample::select(&NASTY[24..]), 14..130),
    ]
    .prop_map(String::from_iter)
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_string().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(nasty_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

/// Fixture events of `prefix` with up to three random nodes replaced or removed.
fn mutated(prefix: &str) -> impl Strategy<Value = Value> + use<> {
    let seeds: Vec<(Value, Vec<String>)> = fixtures(prefix)
        .into_iter()
        .map(|(_, v)| {
            let mut paths = Vec::new();
            pointers(&v, String::new(), &mut paths);
            (v, paths)
        })
        .collect();
    assert!(!seeds.is_empty(), "no fixtures {prefix}*");
    let n = seeds.len();
    (
        0..n,
        prop::collection::vec(
            (any::<usize>(), prop::option::weighted(0.9, json_value())),
            0..4,
        ),
    )
        .prop_map(move |(i, edits)| {
            let (seed, paths) = &seeds[i];
            let mut event = seed.clone();
            for (at, value) in edits {
                let path = &paths[at % paths.len()];
                match value {
                    Some(v) => {
                        if let Some(slot) = event.pointer_mut(path) {
                            *slot = v;
                        }
                    }
                    None => {
                        let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
                        if let Some(Value::Object(map)) = event.pointer_mut(parent) {
                            map.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                    }
                }
            }
            event
        })
}

#[test]
fn session_tokens() {
    runner("token")
        .run(
            &(prop::collection::vec(nasty_string(), 0..4), nasty_string()),
            |(headers, name)| {
                let found = edge_persist_core::token::from_cookies(
                    headers.iter().map(String::as_str),
                    &name,
                );
                if let Some(token) = found {
                    prop_assert!(edge_persist_core::token::is_well_formed(token));
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

fn edge() -> &'static EdgeFunction {
    static EDGE: OnceLock<EdgeFunction> = OnceLock::new();
    EDGE.get_or_init(|| {
        let init = init("0123456789abcdef0123456789abcdef", t0());
        EdgeFunction::new(Config::default(), init).unwrap_or_else(|e| panic!("edge function: {e}"))
    })
}

#[test]
fn cloudfront_events_parsed_and_injected() {
    runner("cloudfront")
        .run(&mutated("cloudfront-"), |event| {
            // Any answer is fine; a returned request must still pass CloudFront's own checks
            // when the event was a well-formed origin request.
            let _ = edge().handle(event, t0());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn alb_events_through_alb_fn() {
    let state = alb_fn::AlbState::new(Config::default(), "origin-env".into());
    runner("alb-event")
        .run(&mutated("alb-"), |event| {
            if let Ok(answer) =
                alb_fn::handle_at(&state, LambdaEvent::new(event, Context::default()), t0())
            {
                prop_assert!(answer["statusCode"].is_u64(), "{answer}");
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Target responses: well-formed ones with random fields, and random bytes.
fn target_response() -> impl Strategy<Value = Vec<u8>> {
    let shaped = (
        json_value(),
        prop::option::of(prop::collection::btree_map(
            nasty_string(),
            nasty_string(),
            0..4,
        )),
        prop::option::of(nasty_string()),
        any::<Option<bool>>(),
        any::<u16>(),
    )
        .prop_map(|(extra, headers, body, b64, status)| {
            let mut v = json!({"statusCode": status, "headers": headers, "body": body,
                "isBase64Encoded": b64, "multiValueHeaders": {"set-cookie": ["a=b", "c"]}});
            v["extra"] = extra;
            v.to_string().into_bytes()
        });
    prop_oneof![shaped, prop::collection::vec(any::<u8>(), 0..64)]
}

#[test]
fn alb_response_conversion() {
    runner("alb-response")
        .run(&(target_response(), any::<bool>()), |(payload, multi)| {
            let options = edge_stack::AlbOptions {
                multi_value_headers: multi,
                drop_invalid_header_fields: false,
            };
            if let Ok(resp) = edge_stack::alb::convert_response(&payload, options) {
                prop_assert!(!resp.headers().contains_key("content-length"));
                prop_assert!(!resp.headers().contains_key("transfer-encoding"));
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn runtime_api_requests() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let router = edge_stack::runtime_api::unfed_router(
        "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
    );
    let method = prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")];
    let path = prop_oneof![
        Just("/2018-06-01/runtime/invocation/next".to_owned()),
        "[a-zA-Z0-9%._~-]{0,40}"
            .prop_map(|id| format!("/2018-06-01/runtime/invocation/{id}/response")),
        "[a-zA-Z0-9%._~-]{0,40}"
            .prop_map(|id| format!("/2018-06-01/runtime/invocation/{id}/error")),
        Just("/2018-06-01/runtime/init/error".to_owned()),
        "/[ -~]{0,40}",
    ];
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ];
    runner("runtime-api")
        .run(
            &(method, path, prop::option::of("[ -~]{0,30}"), body),
            |(method, path, error_type, body)| {
                let mut req = http::Request::builder().method(method).uri(path.as_str());
                if let Some(t) = &error_type {
                    req = req.header("lambda-runtime-function-error-type", t.as_str());
                }
                let Ok(req) = req.body(axum::body::Body::from(body)) else {
                    return Ok(()); // not an HTTP request hyper would have parsed
                };
                let status = rt.block_on(async {
                    use tower::ServiceExt;
                    router
                        .clone()
                        .oneshot(req)
                        .await
                        .map(|r| r.status().as_u16())
                });
                let status = status.unwrap_or_else(|e| match e {});
                prop_assert!(
                    [200, 202, 400, 404, 405, 410, 413, 500].contains(&status),
                    "{status}"
                );
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}
