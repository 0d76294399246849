//! wasm/lambda-edge/runtime.mjs (the Node.js Runtime API client the local stack runs for
//! `--edge node-wasm`) against a loopback Runtime API: it imports the shipped handler the way
//! Lambda's Node.js runtime does and posts responses and errors in Lambda's shapes.

use std::process::{Child, Stdio};
use std::time::Duration;

use edge_persist_core::EdgeError;
use edge_persist_tests::fixture;
use edge_persist_tests::runtime_api::{Outcome, RuntimeApi};
use edge_persist_tests::wasm::packages;
use serde_json::Value;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Launched as the local stack launches it (`edge_stack::node_runtime`), optionally naming another
/// handler.
fn start(api: &RuntimeApi, handler: Option<&str>) -> Killed {
    xtask::tools::node().unwrap_or_else(|e| panic!("{e}"));
    let spec = edge_stack::node_runtime::node_runtime(&packages().lambda_edge.dir);
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(handler) = handler {
        cmd.env("_HANDLER", handler);
    }
    let child = cmd
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn node runtime.mjs");
    Killed(child)
}

fn header(body: &Value, name: &str) -> String {
    body["headers"][name][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn serves_invocations_with_state_kept_between_them() {
    let api = RuntimeApi::start();
    let _node = start(&api, None);
    let ids = ["a-1", "a-2", "a-3"];
    for id in ids {
        api.invoke(id, fixture("cloudfront-origin-request"));
    }
    api.invoke("a-4", fixture("cloudfront-origin-response"));
    api.invoke("a-5", fixture("cloudfront-viewer-request"));

    let mut responses = Vec::new();
    for _ in 0..5 {
        responses.push(
            api.next_outcome(Duration::from_secs(60))
                .expect("the function answered"),
        );
    }
    let bodies: Vec<&Value> = responses
        .iter()
        .filter_map(|o| match o {
            Outcome::Response { body, .. } => Some(body),
            _ => None,
        })
        .collect();
    assert_eq!(bodies.len(), 4, "{responses:#?}");
    let numbers: Vec<String> = bodies
        .iter()
        .map(|b| header(b, "x-persist-invocation"))
        .collect();
    assert_eq!(
        numbers,
        ["1", "2", "3", "4"],
        "one environment, invoked in order"
    );
    let persisted: std::collections::BTreeSet<String> =
        bodies.iter().map(|b| header(b, "custom_header")).collect();
    assert_eq!(persisted.len(), 1, "{persisted:?}");
    let ids: Vec<&str> = responses
        .iter()
        .map(|o| match o {
            Outcome::Response { request_id, .. } | Outcome::Error { request_id, .. } => {
                request_id.as_str()
            }
            Outcome::InitError { .. } => "init",
        })
        .collect();
    assert_eq!(ids, ["a-1", "a-2", "a-3", "a-4", "a-5"]);
    let Outcome::Error {
        error_type, body, ..
    } = &responses[3]
    else {
        panic!("{responses:#?}")
    };
    // The same errorType and message edge-fn reports for the same event.
    let expected = EdgeError::UnsupportedEventType("origin-response");
    assert_eq!(error_type, expected.kind());
    assert_eq!(body["errorType"], expected.kind());
    assert_eq!(body["errorMessage"], expected.to_string());
}

#[test]
fn a_missing_handler_is_reported_as_an_init_error() {
    let api = RuntimeApi::start();
    let mut node = start(&api, Some("missing.handler"));
    let outcome = api
        .next_outcome(Duration::from_secs(60))
        .expect("init error posted");
    let Outcome::InitError { error_type, body } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(error_type, "Runtime.ImportModuleError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing.mjs"),
        "{body}"
    );
    let status = node.0.wait().expect("node exits after an init error");
    assert!(!status.success());
}
