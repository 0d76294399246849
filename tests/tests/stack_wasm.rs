//! The deployable Lambda@Edge package (Node.js + wasm) as the stack's edge function, launched the
//! way `edge-stack up --edge node-wasm` launches it: the value persists per environment there too.

use edge_persist_tests::stack::{TestStack, bins, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_wasm_edge_persists_its_value_and_recycling_renews_it() {
    let b = bins();
    // Built as `up --edge node-wasm` builds it: `cargo xtask lambda-edge` as a child process.
    let package = edge_stack::node_runtime::build_lambda_edge().expect("cargo xtask lambda-edge");
    let node = edge_stack::node_runtime::node_runtime(&package);
    let mut cfg = config("node-wasm", &node.program, &b.alb_fn);
    cfg.associations[0].function.args = node.args.clone();
    cfg.associations[0].function.env = node.env.clone();
    cfg.associations[0].function.runtime = edge_stack::node_runtime::NODEJS;
    let stack = TestStack::start(cfg).await;
    let first = stack.get("/").await;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(
        edge_persist_tests::is_rfc3339_millis_utc(&first.persisted()),
        "{first:?}"
    );
    for _ in 0..3 {
        assert_eq!(stack.get("/").await.persisted(), first.persisted());
    }
    stack.recycle(Some("edge-fn")).await;
    let after = stack.get("/").await;
    assert_ne!(after.persisted(), first.persisted());
    let reports = stack.logs("/aws/lambda/us-east-1.edge-fn").await;
    let all: String = reports.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        all.matches("\"type\":\"platform.report\"").count(),
        5,
        "{all}"
    );
    stack.stop().await;
}
