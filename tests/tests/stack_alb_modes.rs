//! ALB attributes that change what the target sees: multi-value headers, and dropping header
//! names outside `[-A-Za-z0-9]` (which drops the article's `custom_header`).

use edge_persist_tests::stack::{TestStack, bins, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_value_mode_passes_repeated_headers_and_the_answer_comes_back() {
    let b = bins();
    let mut cfg = config("multi", &b.edge_fn, &b.alb_fn);
    cfg.alb.multi_value_headers = true;
    // The viewer's own headers reach the ALB only with a policy that forwards them.
    cfg.policies = edge_stack::cloudfront::Policies::by_name("CachingDisabled", "AllViewer")
        .unwrap_or_else(|e| panic!("{e}"));
    let stack = TestStack::start(cfg).await;
    let answer = stack
        .get_with(
            "/?k=1&k=2",
            &[
                ("accept", "application/json"),
                ("x-repeat", "a"),
                ("x-repeat", "b"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body));
    assert_eq!(
        doc["headers"]["x-repeat"],
        serde_json::json!(["a", "b"]),
        "multi-value headers: {doc}"
    );
    assert_eq!(
        answer.header("x-persist-value"),
        doc["persisted"].as_str(),
        "the multiValueHeaders answer was converted"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_invalid_header_fields_drops_custom_header_as_aws_does() {
    let b = bins();
    let mut cfg = config("drop", &b.edge_fn, &b.alb_fn);
    cfg.alb.drop_invalid_header_fields = true;
    let stack = TestStack::start(cfg).await;
    let answer = stack.get_with("/", &[("accept", "application/json")]).await;
    assert_eq!(answer.status, 200);
    let doc: serde_json::Value =
        serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body));
    assert!(doc["headers"].get("custom_header").is_none(), "{doc}");
    assert!(
        doc["headers"].get("x-persist-env-id").is_some(),
        "dash names pass: {doc}"
    );
    assert!(answer.header("x-persist-value").is_none());
    stack.stop().await;
}
