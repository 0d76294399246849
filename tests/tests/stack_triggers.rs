//! All four Lambda@Edge triggers through the real stack, with small third-party-style handlers
//! (`tests/fixtures/lambda-edge/`: Node.js ES module and CommonJS, Python) run as Lambda's
//! managed runtimes run them, and fault-fn as the ALB target: the events each trigger gets, the
//! order, what each may change or generate and what CloudFront refuses
//! (docs/AWS-BEHAVIOUR.md, "The four Lambda@Edge triggers").

use std::collections::BTreeSet;
use std::path::PathBuf;

use edge_persist_tests::stack::{
    Answer, TestStack, bins, config, message, next_record, pool_settings,
};
use edge_persist_tests::{fixture, fixtures_dir};
use edge_stack::environment::FunctionSpec;
use edge_stack::node_runtime::edge_function;
use edge_stack::{EdgeAssociation, EventType, Runtime, Stack, StackConfig, StackError};
use serde_json::Value;

fn handlers(dir: &str) -> PathBuf {
    fixtures_dir()
        .parent()
        .map(|f| f.join("lambda-edge").join(dir))
        .unwrap_or_default()
}

/// A Node.js function of the ES-module fixture: `index.<export>`.
fn esm(name: &str, export: &str) -> FunctionSpec {
    edge_function(
        name,
        Runtime::Nodejs(22),
        &handlers("esm"),
        &format!("index.{export}"),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

const TRIGGERS: [(EventType, &str, &str); 4] = [
    (EventType::ViewerRequest, "vr-fn", "viewerRequest"),
    (EventType::OriginRequest, "or-fn", "originRequest"),
    (EventType::OriginResponse, "oresp-fn", "originResponse"),
    (EventType::ViewerResponse, "vresp-fn", "viewerResponse"),
];

/// fault-fn as the ALB target (`/alb/echo` answers with the event it got, `/alb/error` makes the
/// ALB answer 502) and the given associations; every viewer header and query string forwarded.
fn with_associations(tag: &str, associations: Vec<EdgeAssociation>) -> StackConfig {
    let b = bins();
    let mut cfg = config(tag, &b.fault_fn, &b.fault_fn);
    cfg.associations = associations;
    cfg.edge_native_test = false;
    cfg.policies = edge_stack::cloudfront::Policies::by_name("CachingDisabled", "AllViewer")
        .unwrap_or_else(|e| panic!("{e}"));
    cfg
}

fn all_four(tag: &str) -> StackConfig {
    with_associations(
        tag,
        TRIGGERS
            .iter()
            .map(|(event, name, export)| {
                EdgeAssociation::new(*event, esm(name, export), pool_settings())
            })
            .collect(),
    )
}

/// The events function `name` logged (`EVENT <json>`) whose query string holds `marker`; none
/// when the function never started.
async fn events(stack: &TestStack, name: &str, marker: &str) -> Vec<Value> {
    // Platform lines and output are written by a task: give it a moment after the last answer.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let group = format!("/aws/lambda/us-east-1.{name}");
    edge_stack::logs::streams(&stack.stack.logs_root, &group)
        .unwrap_or_default()
        .iter()
        .filter_map(|stream| std::fs::read_to_string(stream).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| {
            let json = message(&line).strip_prefix("EVENT ")?.to_owned();
            serde_json::from_str::<Value>(&json).ok()
        })
        .filter(|e| {
            e["Records"][0]["cf"]["request"]["querystring"]
                .as_str()
                .is_some_and(|q| q.contains(marker))
        })
        .collect()
}

/// A stack with one association: the handler `handler` of fixture directory `dir`.
async fn one_trigger(
    event: EventType,
    (name, runtime): (&str, Runtime),
    dir: &str,
    handler: &str,
) -> TestStack {
    let function = edge_function(name, runtime, &handlers(dir), handler)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    TestStack::start(with_associations(
        &format!("triggers-{name}"),
        vec![EdgeAssociation::new(event, function, pool_settings())],
    ))
    .await
}

/// Everything function `name` logged.
async fn log_text(stack: &TestStack, name: &str) -> String {
    stack
        .logs(&format!("/aws/lambda/us-east-1.{name}"))
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

/// The field paths of an event, header maps as one leaf (their names vary by request).
fn shape(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !(path.ends_with(".headers") || path.ends_with("customHeaders")) => {
            for (k, v) in map {
                shape(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) if path == ".Records" => {
            for v in items {
                shape(v, &format!("{path}[]"), out);
            }
        }
        _ => {
            out.insert(path.to_owned());
        }
    }
}

fn shape_of(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(value, "", &mut out);
    out
}

fn x_cache(answer: &Answer) -> &str {
    answer.header("x-cache").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_triggers_run_in_order_and_each_gets_the_documented_event() {
    let stack = TestStack::start(all_four("triggers-order")).await;
    let answer = stack
        .get_with("/alb/echo?order=1", &[("Accept", "*/*")])
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Each handler appended its mark: viewer-request, origin-request, origin-response,
    // viewer-response, in CloudFront's order.
    assert_eq!(
        answer.header("x-trace"),
        Some("vr,or,oresp,vresp"),
        "{answer:?}"
    );
    // A header origin-response added reaches the viewer.
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=63072000")
    );
    assert_eq!(x_cache(&answer), "Miss from cloudfront");
    // What the request triggers set reached the origin.
    let origin: Value = serde_json::from_str(&answer.body).unwrap_or_default();
    assert_eq!(origin["headers"]["x-trace"], "vr,or", "{origin:#}");

    for (event, name, _) in TRIGGERS {
        let got = events(&stack, name, "order=1").await;
        assert_eq!(got.len(), 1, "{name} ran once: {got:#?}");
        let got = &got[0];
        assert_eq!(
            got["Records"][0]["cf"]["config"]["eventType"],
            event.as_str()
        );
        // The same fields as AWS's documented example of this event type.
        let documented = fixture(&format!("cloudfront-{}", event.as_str()));
        assert_eq!(shape_of(got), shape_of(&documented), "{name}: {got:#}");
        insta::assert_json_snapshot!(format!("event-{}", event.as_str()), got, {
            ".Records[0].cf.config.requestId" => "[request id]",
            ".Records[0].cf.request.headers.host[0].value" => "[host]",
            ".Records[0].cf.request.headers.via[0].value" => "[via]",
            ".Records[0].cf.request.origin.custom.port" => "[port]",
            ".Records[0].cf.response.headers.date[0].value" => "[date]",
            // The echo's length varies with the ports and ids it holds.
            ".Records[0].cf.response.headers[\"content-length\"][0].value" => "[length]",
        });
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_responses_and_replaced_responses_skip_what_aws_documents() {
    let stack = TestStack::start(all_four("triggers-generated")).await;
    let ran = |answer: &Answer| answer.header("x-trace").unwrap_or_default().to_owned();

    // Generated at viewer-request: straight to the viewer, no other trigger runs.
    let vr = stack.get("/alb/echo?gen=viewer-request&m=a").await;
    assert_eq!(
        (vr.status, vr.body.as_str()),
        (401, "sign in first"),
        "{vr:?}"
    );
    assert_eq!(vr.header("www-authenticate"), Some("Basic"));
    assert_eq!(ran(&vr), "vr");
    assert_eq!(x_cache(&vr), "LambdaGeneratedResponse from cloudfront");
    for name in ["or-fn", "oresp-fn", "vresp-fn"] {
        assert!(events(&stack, name, "m=a").await.is_empty(), "{name} ran");
    }

    // Generated at origin-request: no origin, no origin-response; viewer-response runs.
    let or = stack.get("/alb/echo?gen=origin-request&m=b").await;
    assert_eq!(
        (or.status, or.body.as_str()),
        (200, "generated at origin-request")
    );
    assert_eq!(ran(&or), "vr,or,vresp");
    assert_eq!(x_cache(&or), "LambdaGeneratedResponse from cloudfront");
    assert!(events(&stack, "oresp-fn", "m=b").await.is_empty());

    // The origin answers 502: origin-response runs (and replaces it), viewer-response does not.
    let failed = stack.get("/alb/error?m=c").await;
    assert_eq!(failed.status, 200, "{failed:?}");
    assert_eq!(failed.body, "the origin failed; origin-response answers");
    assert_eq!(ran(&failed), "vr,or,oresp");
    assert!(events(&stack, "vresp-fn", "m=c").await.is_empty());

    // origin-response replaces the body; the status and the origin's headers stay.
    let replaced = stack.get("/alb/ok?body=origin-response&m=d").await;
    assert_eq!(
        (replaced.status, replaced.body.as_str()),
        (200, "replaced at origin-response")
    );
    assert_eq!(replaced.header("x-fault-path"), Some("/alb/ok"));
    assert_eq!(ran(&replaced), "vr,or,oresp,vresp");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_body_exposes_truncates_and_replaces_the_request_body() {
    let body_on = |event, name, export| EdgeAssociation {
        include_body: true,
        ..EdgeAssociation::new(event, esm(name, export), pool_settings())
    };
    let stack = TestStack::start(with_associations(
        "triggers-body",
        vec![
            body_on(EventType::ViewerRequest, "vr-fn", "viewerRequest"),
            body_on(EventType::OriginRequest, "or-fn", "originRequest"),
        ],
    ))
    .await;
    let post = |query: &str, body: Vec<u8>| {
        let url = format!("{}/alb/echo?{query}", stack.stack.url());
        let client = stack.client.clone();
        async move {
            let resp = client
                .post(url)
                .header("content-type", "text/plain")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST: {e}"));
            let status = resp.status().as_u16();
            let echo: Value =
                serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
            (status, echo)
        }
    };
    // Over the viewer-request quota (40 KB): that function sees it truncated, the origin gets
    // it whole (read-only access).
    let big = vec![b'a'; 41 * 1024];
    let (status, echo) = post("m=big", big.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(echo["body"].as_str().map(str::len), Some(big.len()));
    let seen = &events(&stack, "vr-fn", "m=big").await[0]["Records"][0]["cf"]["request"]["body"];
    assert_eq!(seen["inputTruncated"], true, "{seen}");
    assert_eq!(seen["action"], "read-only");
    assert_eq!(seen["encoding"], "base64");
    let data = seen["data"].as_str().unwrap_or_default();
    assert_eq!(
        data.len(),
        (40 * 1024usize).div_ceil(3) * 4,
        "40 KB, base64"
    );
    let seen = &events(&stack, "or-fn", "m=big").await[0]["Records"][0]["cf"]["request"]["body"];
    assert_eq!(
        seen["inputTruncated"], false,
        "under the origin-request quota"
    );

    // Replaced at origin-request (`action: replace`, text): the origin gets the new body.
    let (status, echo) = post("m=replace&body=origin-request", b"hello".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(echo["body"], "replaced at origin-request", "{echo:#}");
    let seen =
        &events(&stack, "vr-fn", "m=replace").await[0]["Records"][0]["cf"]["request"]["body"];
    assert_eq!(seen["data"], "aGVsbG8=");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_headers_and_the_viewer_response_status_are_validation_errors() {
    let stack = TestStack::start(all_four("triggers-readonly")).await;
    let mut records = stack.stack.subscribe();
    for (query, trigger) in [
        ("readonly=viewer-request", "viewer-request"),
        ("readonly=origin-request", "origin-request"),
        ("readonly=origin-response", "origin-response"),
        ("readonly=viewer-response", "viewer-response"),
        ("status=viewer-response", "viewer-response"),
    ] {
        let answer = stack.get(&format!("/alb/ok?{query}")).await;
        assert_eq!(answer.status, 502, "{query}: {answer:?}");
        assert_eq!(
            x_cache(&answer),
            "LambdaValidationError from cloudfront",
            "{query}"
        );
        let record = next_record(&mut records).await;
        let detail = record.detail.unwrap_or_default();
        assert!(
            detail.starts_with(&format!("{trigger} function:")),
            "{query}: {detail}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_function_on_two_triggers_shares_its_environments() {
    let shared = esm("shared-fn", "viewerResponse");
    let stack = TestStack::start(with_associations(
        "triggers-shared",
        vec![
            EdgeAssociation::new(EventType::OriginResponse, shared.clone(), pool_settings()),
            EdgeAssociation::new(EventType::ViewerResponse, shared, pool_settings()),
        ],
    ))
    .await;
    assert_eq!(stack.stack.edge.len(), 1);
    let answer = stack.get("/alb/ok?m=shared").await;
    assert_eq!(answer.header("x-trace"), Some(",vresp,vresp"), "{answer:?}");
    let got = events(&stack, "shared-fn", "m=shared").await;
    let types: Vec<&str> = got
        .iter()
        .filter_map(|e| e["Records"][0]["cf"]["config"]["eventType"].as_str())
        .collect();
    assert_eq!(types, ["origin-response", "viewer-response"]);
    // One environment served both (a warm start for the second).
    let streams = stack.logs("/aws/lambda/us-east-1.shared-fn").await;
    assert_eq!(streams.len(), 1, "{streams:#?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commonjs_callback_handler_in_a_subdirectory_runs_as_lambdas_node_runtime_runs_it() {
    let stack = one_trigger(
        EventType::OriginResponse,
        ("cjs-fn", Runtime::Nodejs(22)),
        "cjs",
        "src/app.handler",
    )
    .await;
    let mut records = stack.stack.subscribe();
    let answer = stack.get("/alb/ok").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    // CommonJS (`module` is defined) and the replica's name in the context.
    assert_eq!(answer.header("x-runtime"), Some("us-east-1.cjs-fn object"));
    let _ = next_record(&mut records).await;
    for (query, error) in [
        (
            "fail=1",
            "function error RefusedError: origin-response refused",
        ),
        ("throw=1", "function error string: thrown string"),
    ] {
        let failed = stack.get(&format!("/alb/ok?{query}")).await;
        assert_eq!(failed.status, 503, "{query}: {failed:?}");
        assert_eq!(x_cache(&failed), "LambdaExecutionError from cloudfront");
        let detail = next_record(&mut records).await.detail.unwrap_or_default();
        assert!(detail.contains(error), "{query}: {detail}");
    }
    let logs = log_text(&stack, "cjs-fn").await;
    assert!(
        logs.contains("nodejs:22.v1"),
        "INIT_START names the runtime: {logs}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_handler_runs_under_awss_runtime_interface_client() {
    let stack = one_trigger(
        EventType::ViewerResponse,
        ("py-fn", Runtime::Python(13)),
        "python",
        "app.handler",
    )
    .await;
    let answer = stack.get("/alb/ok").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-python"), Some("us-east-1.py-fn"));
    let failed = stack.get("/alb/ok?fail=1").await;
    assert_eq!(failed.status, 503, "{failed:?}");
    assert_eq!(x_cache(&failed), "LambdaExecutionError from cloudfront");
    let logs = log_text(&stack, "py-fn").await;
    assert!(logs.contains("python:3.13.v1"), "{logs}");
    stack.stop().await;
}

#[tokio::test]
async fn associations_cloudfront_or_lambda_edge_refuse_start_nothing() {
    let heavy = FunctionSpec {
        memory_mb: 256,
        ..esm("heavy-fn", "viewerRequest")
    };
    let cases = [
        (
            "memory 256 MB: viewer-request triggers allow at most 128 MB",
            vec![EdgeAssociation::new(
                EventType::ViewerRequest,
                heavy.clone(),
                pool_settings(),
            )],
        ),
        (
            "two associations on origin-request",
            vec![
                EdgeAssociation::new(
                    EventType::OriginRequest,
                    esm("a", "originRequest"),
                    pool_settings(),
                ),
                EdgeAssociation::new(
                    EventType::OriginRequest,
                    esm("b", "originRequest"),
                    pool_settings(),
                ),
            ],
        ),
        (
            "include body on origin-response",
            vec![EdgeAssociation {
                include_body: true,
                ..EdgeAssociation::new(
                    EventType::OriginResponse,
                    esm("c", "originResponse"),
                    pool_settings(),
                )
            }],
        ),
        (
            "function heavy-fn is associated with viewer-request and origin-request with different settings",
            vec![
                EdgeAssociation::new(
                    EventType::ViewerRequest,
                    esm("heavy-fn", "viewerRequest"),
                    pool_settings(),
                ),
                EdgeAssociation::new(EventType::OriginRequest, heavy, pool_settings()),
            ],
        ),
    ];
    for (expected, associations) in cases {
        let cfg = with_associations("triggers-refused", associations);
        let run_dir = cfg.run_dir.clone();
        match Stack::start(cfg).await {
            Err(e @ (StackError::EdgeRefused(_) | StackError::Associations(_))) => {
                assert!(e.to_string().contains(expected), "{e}")
            }
            Err(other) => panic!("{expected}: {other}"),
            Ok(stack) => {
                stack.shutdown().await;
                panic!("{expected}: the stack started");
            }
        }
        assert!(
            std::fs::read_dir(run_dir.join("logs")).map_or(true, |mut d| d.next().is_none()),
            "nothing started"
        );
    }
}
