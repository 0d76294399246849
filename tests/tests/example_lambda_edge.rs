//! The README's "Test your own Lambda@Edge function locally": the third-party-style example in
//! `examples/lambda-edge/` (a viewer-request redirect function, an origin-response security
//! headers function, both Node.js handler directories) through the real stack. The stack is
//! configured here as `examples/lambda-edge/template.yaml` describes it (runtime, handler, code
//! directory, memory, timeout, event types, CachingDisabled without an origin request policy);
//! alb-fn stands in for the template's own HTTP origin.

use std::path::PathBuf;
use std::time::Duration;

use edge_persist_tests::stack::{TestStack, bins, config, pool_settings};
use edge_stack::node_runtime::edge_function;
use edge_stack::{EdgeAssociation, EventType, Runtime};

fn example(dir: &str) -> PathBuf {
    edge_stack::binaries::workspace_root()
        .join("examples/lambda-edge")
        .join(dir)
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_redirects_at_the_viewer_and_adds_security_headers_at_the_origin() {
    let b = bins();
    let mut cfg = config("example-lambda-edge", &b.alb_fn, &b.alb_fn);
    // Template: RedirectFunction / SecurityHeadersFunction, nodejs22.x, index.handler, 128 MB, 5 s.
    let function = |name: &str, dir: &str| {
        let mut f = edge_function(name, Runtime::Nodejs(22), &example(dir), "index.handler")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        f.memory_mb = 128;
        f.timeout = Duration::from_secs(5);
        f
    };
    cfg.associations = vec![
        EdgeAssociation::new(
            EventType::ViewerRequest,
            function("RedirectFunction", "redirect"),
            pool_settings(),
        ),
        EdgeAssociation::new(
            EventType::OriginResponse,
            function("SecurityHeadersFunction", "security-headers"),
            pool_settings(),
        ),
    ];
    cfg.policies = edge_stack::cloudfront::Policies::by_name("CachingDisabled", "none")
        .unwrap_or_else(|e| panic!("{e}"));
    // Deployable as it is: no native test mode.
    cfg.edge_native_test = false;
    let stack = TestStack::start(cfg).await;
    let client = no_redirects();

    let moved = client
        .get(format!("{}/old?ref=mail", stack.stack.url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /old: {e}"));
    assert_eq!(moved.status().as_u16(), 301);
    assert_eq!(moved.headers()["location"], "/new?ref=mail");
    assert_eq!(
        moved.headers()["x-cache"],
        "LambdaGeneratedResponse from cloudfront"
    );
    // Generated at viewer-request: no security headers (origin-response never ran).
    assert!(moved.headers().get("x-frame-options").is_none());

    let page = stack.get("/").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("Hello"), "{page:?}");
    for (name, value) in [
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains; preload",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(page.header(name), Some(value), "{name}: {page:?}");
    }
    // Each function logs to its replica's log group, as at AWS.
    for group in [
        "/aws/lambda/us-east-1.RedirectFunction",
        "/aws/lambda/us-east-1.SecurityHeadersFunction",
    ] {
        assert!(!stack.logs(group).await.is_empty(), "{group}");
    }
    stack.stop().await;
}

/// The same example as the README runs it: `edge-stack up --template
/// examples/lambda-edge/template.yaml`. The template has no load balancer, so alb-fn stands in
/// for its origin (given here as a debug binary, to spare a release build).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_template_runs_with_up_template() {
    let b = bins();
    let template = example("template.yaml");
    let r = edge_persist_tests::stack::up_cli(
        "example-lambda-edge-template",
        &[
            "--template",
            &template.display().to_string(),
            "--alb-bin",
            &b.alb_fn.display().to_string(),
        ],
        Duration::from_secs(120),
    );
    let client = no_redirects();
    let moved = client
        .get(format!("{}/old", r.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /old: {e}"));
    assert_eq!(moved.status().as_u16(), 301);
    assert_eq!(moved.headers()["location"], "/new");
    let page = client
        .get(format!("{}/", r.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /: {e}"));
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    // Each function writes its own log group, named as Lambda@Edge names it.
    for name in ["RedirectFunction", "SecurityHeadersFunction"] {
        let group = r
            .dir
            .join(format!("logs/aws/lambda/us-east-1.edge-persist-{name}"));
        assert!(group.is_dir(), "no log group {}", group.display());
    }
}
