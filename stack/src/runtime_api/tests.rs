//! The Runtime API over real HTTP: one invocation's round trip, error reports, late answers.

use super::*;

#[test]
fn error_type_falls_back_to_the_header() {
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-function-error-type",
        HeaderValue::from_static("Runtime.Custom"),
    );
    let e = parse_error(&h, br#"{"errorType":"InBody","errorMessage":"boom"}"#);
    assert_eq!(e.error_type, "InBody", "the body's own type first");
    let e = parse_error(&h, br#"{"errorMessage":"boom"}"#);
    assert_eq!(
        e,
        FunctionError {
            error_type: "Runtime.Custom".into(),
            error_message: "boom".into()
        }
    );
    let any = parse_error(&h, b"not json at all");
    assert_eq!(
        (any.error_type.as_str(), any.error_message.as_str()),
        ("Runtime.Custom", "not json at all")
    );
    let bare = parse_error(&HeaderMap::new(), b"");
    assert_eq!(bare.error_type, "Unhandled");
}

/// The API over real HTTP: one invocation's round trip, then the error shapes.
#[tokio::test]
async fn next_response_and_error_shapes() {
    let api = RuntimeApi::start("arn:aws:lambda:us-east-1:123456789012:function:f".into())
        .await
        .unwrap();
    // This test process is the runtime: its own group owns the API.
    // SAFETY: getpgrp takes nothing and cannot fail.
    api.set_owner(unsafe { libc::getpgrp() });
    let base = format!("http://{}/2018-06-01/runtime", api.addr);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (dispatched, _dispatched_rx) = oneshot::channel();
    let (reply, reply_rx) = oneshot::channel();
    api.inbox
        .send(Invocation {
            request_id: "req-1".into(),
            payload: Bytes::from_static(b"{\"k\":1}"),
            timeout: Duration::from_secs(3),
            trace_id: "Root=1-00000000-000000000000000000000000".into(),
            dispatched,
            start_log: None,
            reply,
        })
        .unwrap();
    let next = client
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    let h = next.headers().clone();
    assert_eq!(h["lambda-runtime-aws-request-id"], "req-1");
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    let deadline: i64 = h["lambda-runtime-deadline-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = deadline - chrono::Utc::now().timestamp_millis();
    assert!(
        (2_000..=3_000).contains(&left),
        "deadline is epoch ms of now + timeout: {left}"
    );
    assert!(h.contains_key("lambda-runtime-trace-id"));
    assert_eq!(next.text().await.unwrap(), "{\"k\":1}");
    assert!(api.init_done.borrow().is_some(), "the first next ends init");

    let ok = client
        .post(format!("{base}/invocation/req-1/response"))
        .body("\"done\"")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    assert_eq!(
        reply_rx.await.unwrap(),
        Reply::Response(Bytes::from_static(b"\"done\""))
    );

    let shape = |v: serde_json::Value| {
        (
            v["errorType"].as_str().unwrap_or("").to_owned(),
            v["errorMessage"].is_string(),
        )
    };
    let again = client
        .post(format!("{base}/invocation/req-1/response"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        410,
        "a second answer to a finished invocation"
    );
    assert_eq!(
        shape(again.json().await.unwrap()),
        ("InvocationFinished".into(), true)
    );
    let unknown_id = client
        .post(format!("{base}/invocation/req-2/error"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_id.status(), 400);
    assert_eq!(
        shape(unknown_id.json().await.unwrap()),
        ("InvalidRequestID".into(), true)
    );
    let unknown = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        shape(unknown.json().await.unwrap()),
        ("InvalidRoute".into(), true)
    );
    let wrong_method = client
        .delete(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 404);
    let init = client
        .post(format!("{base}/init/error"))
        .body(r#"{"errorType":"Boom","errorMessage":"no config"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 202);
    assert_eq!(
        api.init_error
            .borrow()
            .as_ref()
            .map(|e| e.error_type.clone()),
        Some("Boom".into())
    );
}
