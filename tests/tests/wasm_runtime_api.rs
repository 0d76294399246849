//! wasm/lambda-edge/runtime.mjs (the Node.js Runtime API client the local stack runs for
//! `--edge node-wasm`) against the stack's own Runtime API server: it imports the shipped handler
//! the way Lambda's Node.js runtime does and posts responses and errors in Lambda's shapes.

use std::process::{Child, Stdio};
use std::time::Duration;

use edge_persist_core::EdgeError;
use edge_persist_tests::fixture;
use edge_persist_tests::wasm::packages;
use edge_stack::runtime_api::{Reply, RuntimeApi};
use serde_json::Value;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1";

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
    let child = api
        .spawn_runtime(cmd.stdout(Stdio::null()))
        .expect("spawn node runtime.mjs");
    Killed(child)
}

fn header(body: &Value, name: &str) -> String {
    body["headers"][name][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The next answer posted for one invocation, or the test fails.
async fn answer(reply: tokio::sync::oneshot::Receiver<Reply>) -> Reply {
    tokio::time::timeout(Duration::from_secs(60), reply)
        .await
        .expect("the function answered within 60 s")
        .expect("the Runtime API is up")
}

#[tokio::test]
async fn serves_invocations_with_state_kept_between_them() {
    let api = RuntimeApi::start(ARN.into()).await.unwrap();
    let _node = start(&api, None);
    let events = [
        ("a-1", "cloudfront-origin-request"),
        ("a-2", "cloudfront-origin-request"),
        ("a-3", "cloudfront-origin-request"),
        ("a-4", "cloudfront-origin-response"),
        ("a-5", "cloudfront-viewer-request"),
    ];
    // All queued at once: the runtime takes them one after the other.
    let replies: Vec<_> = events
        .iter()
        .map(|(id, name)| {
            let payload = serde_json::to_vec(&fixture(name)).unwrap();
            api.invoke(id, payload.into(), Duration::from_secs(5))
        })
        .collect();
    let mut responses = Vec::new();
    for reply in replies {
        responses.push(answer(reply).await);
    }
    let bodies: Vec<Value> = responses
        .iter()
        .filter_map(|r| match r {
            Reply::Response(body) => Some(serde_json::from_slice(body).expect("a JSON response")),
            Reply::Error(_) => None,
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
    // Each answer came for its own request id (the server matched the posted id), the error for
    // the origin-response event.
    let Reply::Error(error) = &responses[3] else {
        panic!("{responses:#?}")
    };
    // The same errorType and message edge-fn reports for the same event.
    let expected = EdgeError::UnsupportedEventType("origin-response");
    assert_eq!(error.error_type, expected.kind());
    assert_eq!(error.error_message, expected.to_string());
}

#[tokio::test]
async fn a_missing_handler_is_reported_as_an_init_error() {
    let api = RuntimeApi::start(ARN.into()).await.unwrap();
    let mut node = start(&api, Some("missing.handler"));
    let error = api
        .init_error_within(Duration::from_secs(60))
        .await
        .expect("init error posted");
    assert_eq!(error.error_type, "Runtime.ImportModuleError");
    assert!(error.error_message.contains("missing.mjs"), "{error:?}");
    let status = node.0.wait().expect("node exits after an init error");
    assert!(!status.success());
}
