//! Every CloudFront fixture (AWS's examples and events captured from real distributions) through
//! the real edge-fn running in the local stack's Lambda environments, over the Runtime API,
//! against the same insta snapshots (`edge-<fixture>`) as edge-fn called directly
//! (tests/edge_handler.rs) and the Node.js + wasm package (tests/wasm_parity.rs).

use edge_persist_tests::stack::{TestStack, bins, config};
use edge_persist_tests::{fixtures, redact_edge};
use edge_stack::environment::InvokeFailure;
use edge_stack::pool::PoolError;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cloudfront_fixture_through_the_stack_matches_the_edge_fn_snapshot() {
    let b = bins();
    let stack = TestStack::start(config("fixtures", &b.edge_fn, &b.alb_fn)).await;
    for (stem, event) in fixtures("cloudfront-") {
        // A fresh environment per fixture: the snapshots show a cold first invocation.
        stack.stack.edge[0].recycle();
        let payload = serde_json::to_vec(&event).unwrap_or_default().into();
        let value = match stack.stack.edge[0].invoke(payload).await {
            Ok(outcome) => {
                assert!(outcome.cold, "{stem}: not a fresh environment");
                let v: Value = serde_json::from_slice(&outcome.served.payload)
                    .unwrap_or_else(|e| panic!("{stem}: the answer is not JSON: {e}"));
                redact_edge(v)
            }
            Err(PoolError::Invoke {
                failure: InvokeFailure::Function(e),
                ..
            }) => json!({"errorType": e.error_type, "errorMessage": e.error_message}),
            Err(other) => panic!("{stem}: {other}"),
        };
        insta::with_settings!({prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!(format!("edge-{stem}"), value);
        });
    }
    stack.stop().await;
}
