//! The control endpoint answers only whoever can read the stack's state file.

use std::os::unix::fs::PermissionsExt;

use edge_persist_tests::stack::{TestStack, bins, client, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_endpoint_needs_the_token_of_the_state_file() {
    let b = bins();
    let stack = TestStack::start(config("owner", &b.fault_fn, &b.alb_fn)).await;
    let state_file = edge_stack::stack::state_file(&stack.run_dir, stack.stack.cloudfront.port());
    let mode = std::fs::metadata(&state_file)
        .unwrap_or_else(|e| panic!("{}: {e}", state_file.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner reads the token");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("state file: {e}"));
    assert_eq!(state["token"], stack.stack.control_token.as_str());

    let base = format!("http://{}", stack.stack.control);
    let c = client();
    for (name, auth) in [
        ("no token", None),
        ("wrong token", Some("Bearer 0000")),
        (
            "token without scheme",
            Some(stack.stack.control_token.as_str()),
        ),
    ] {
        for req in [
            c.get(format!("{base}/status")),
            c.post(format!("{base}/recycle")),
        ] {
            let req = match auth {
                Some(a) => req.header("authorization", a),
                None => req,
            };
            let resp = req.send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(resp.status(), 401, "{name}");
        }
    }
    // Nothing was recycled by the refused calls; the owner's call works.
    assert_eq!(stack.get("/ok").await.status, 200);
    let before = stack.status().await;
    assert_eq!(
        before["functions"]["edge-fn"].as_array().map(Vec::len),
        Some(1)
    );
    let recycled = stack.recycle(Some("edge-fn")).await;
    assert_eq!(recycled["recycled"]["edge-fn"], 1, "{recycled}");
    stack.stop().await;
}
