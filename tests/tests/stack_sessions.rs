//! Per-session state through the real stack: cookies issued by alb-fn, counted at the edge.

use edge_persist_tests::stack::{Answer, TestStack, bins, config, message};
use serde_json::Value;

/// A hand-held cookie jar: alb-fn's cookie is `Secure`, which cookie stores rightly refuse to
/// send over plain http://127.0.0.1, so the test carries it itself.
#[derive(Default)]
struct Jar(Option<String>);

impl Jar {
    async fn get(&mut self, stack: &TestStack) -> (Answer, Value) {
        let cookie = self.0.clone();
        let mut headers = vec![("accept", "application/json")];
        if let Some(c) = &cookie {
            headers.push(("cookie", c.as_str()));
        }
        let answer = stack.get_with("/", &headers).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        if let Some(set) = answer.header("set-cookie") {
            assert!(
                cookie.is_none(),
                "a cookie was issued although the request had one: {set}"
            );
            self.0 = set.split(';').next().map(str::to_owned);
        }
        let doc: Value =
            serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body));
        (answer, doc)
    }
}

fn session(doc: &Value) -> (Option<&str>, Option<&str>) {
    let h = &doc["headers"];
    (
        h["x-persist-session"].as_str(),
        h["x-persist-session-hits"].as_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cookie_jars_see_independent_counters() {
    let b = bins();
    let stack = TestStack::start(config("sessions", &b.edge_fn, &b.alb_fn)).await;
    let (mut alice, mut bob) = (Jar::default(), Jar::default());
    let (_, first) = alice.get(&stack).await;
    assert_eq!(
        session(&first),
        (None, None),
        "no cookie yet: no session at the edge"
    );
    assert!(alice.0.is_some(), "alb-fn issued a cookie");
    for expected in ["1", "2", "3"] {
        let (_, doc) = alice.get(&stack).await;
        assert_eq!(session(&doc).1, Some(expected), "{doc}");
    }
    bob.get(&stack).await;
    let (_, doc) = bob.get(&stack).await;
    assert_eq!(
        session(&doc),
        (Some("new"), Some("1")),
        "bob does not see alice's count"
    );
    let (_, doc) = alice.get(&stack).await;
    assert_eq!(session(&doc), (Some("known"), Some("4")));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_of_a_few_kb_evicts_and_keeps_serving() {
    let b = bins();
    let mut cfg = config("session-budget", &b.edge_fn, &b.alb_fn);
    cfg.associations[0]
        .function
        .env
        .push(("EDGE_PERSIST_SESSION_BUDGET_BYTES".into(), "2048".into()));
    cfg.associations[0]
        .function
        .env
        .push(("EDGE_PERSIST_METRICS_EVERY_INVOCATIONS".into(), "1".into()));
    let stack = TestStack::start(cfg).await;
    for i in 0..60 {
        let cookie = format!("edge_session=visitor-{i:024}");
        let answer = stack
            .get_with("/", &[("accept", "application/json"), ("cookie", &cookie)])
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let doc: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(session(&doc).1, Some("1"), "{doc}");
    }
    let logs = stack.logs("/aws/lambda/us-east-1.edge-fn").await;
    let metrics: Vec<Value> = logs
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter_map(|l| serde_json::from_str::<Value>(message(l)).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(
        metrics.len(),
        60,
        "one EMF line per invocation as configured"
    );
    assert!(
        metrics
            .iter()
            .all(|m| m["SessionBytes"].as_u64().is_some_and(|b| b <= 2048)),
        "{metrics:?}"
    );
    let evictions: u64 = metrics
        .iter()
        .filter_map(|m| m["SessionEvictions"].as_u64())
        .sum();
    assert!(
        evictions > 0,
        "a 2 KB budget cannot hold 60 sessions: {metrics:?}"
    );
    let text: String = logs.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        !text.contains("visitor-0000"),
        "session tokens never reach the logs"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recycle_loses_the_sessions_and_the_next_request_says_so() {
    let b = bins();
    let stack = TestStack::start(config("session-recycle", &b.edge_fn, &b.alb_fn)).await;
    let mut jar = Jar::default();
    jar.get(&stack).await;
    jar.get(&stack).await;
    let (_, doc) = jar.get(&stack).await;
    assert_eq!(session(&doc), (Some("known"), Some("2")));
    stack.recycle(Some("edge-fn")).await;
    let (_, doc) = jar.get(&stack).await;
    assert_eq!(session(&doc), (Some("new"), Some("1")), "{doc}");
    assert_eq!(
        doc["edge"]["start"], "cold",
        "the environment is new, and says so: {doc}"
    );
    stack.stop().await;
}
