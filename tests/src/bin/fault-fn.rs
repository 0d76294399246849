//! TEST-ONLY function for the local-stack fault tests; never shipped. It plays either role, told
//! apart by the event: a CloudFront event makes it an edge function, anything else an ALB target.
//! The request path picks the misbehaviour, so one stack can exercise several faults:
//!
//! - edge: `/edge/crash` exits the process, `/edge/hang` never answers, `/edge/disallowed` adds
//!   `X-Cache`, `/edge/readonly` changes `Via`, `/edge/error` returns a function error,
//!   `/edge/generated` answers itself, `/edge/generated-status-<n>` answers with status `n`,
//!   `/edge/generated-big` answers with headers and body together just over 1 MB,
//!   `/edge/query-space`, `-hash` and `-control` set a querystring CloudFront refuses,
//!   `/edge/echo` answers with the event it got as a JSON body, `/edge/sleep-<ms>` waits first;
//!   anything else passes the request through with `x-fault-edge-env` set to this environment's
//!   id.
//! - ALB target: `/alb/invalid` returns a non-response, `/alb/big` a response over 1 MB,
//!   `/alb/hang` never answers, `/alb/crash` exits, `/alb/error` returns a function error,
//!   `/alb/null-<field>` answers with that field `null`, `/alb/echo` answers with the event it got
//!   as a JSON body, `/alb/sleep-<ms>` waits first; anything else answers 200 `ok`.

use std::time::Duration;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)?;
    let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    println!("fault-fn init {id}");
    let id: &'static str = Box::leak(id.into_boxed_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(event.payload, id)
    }))
    .await
}

async fn handle(event: Value, id: &str) -> Result<Value, Diagnostic> {
    if event.get("Records").is_some() {
        edge(event, id).await
    } else {
        target(event, id).await
    }
}

async fn hang() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

async fn edge(event: Value, id: &str) -> Result<Value, Diagnostic> {
    let mut request = event["Records"][0]["cf"]["request"].clone();
    let uri = request["uri"].as_str().unwrap_or("").to_owned();
    let header = |name: &str, value: &str| json!([{"key": name, "value": value}]);
    match uri.strip_prefix("/edge/").unwrap_or("") {
        "crash" => std::process::exit(1),
        "hang" => hang().await,
        "disallowed" => request["headers"]["x-cache"] = header("X-Cache", "Hit from fault-fn"),
        "readonly" => request["headers"]["via"] = header("Via", "1.1 fault-fn"),
        "error" => {
            return Err(Diagnostic {
                error_type: "FaultError".into(),
                error_message: "asked to fail".into(),
            });
        }
        "generated" => {
            return Ok(json!({
                "status": "201",
                "statusDescription": "Created",
                "headers": {"content-type": header("Content-Type", "text/plain")},
                "body": "generated at the edge",
            }));
        }
        "generated-big" => {
            // Body under 1 MB on its own; with the header it is over.
            return Ok(json!({
                "status": "200",
                "headers": {"x-padding": header("X-Padding", &"p".repeat(2048))},
                "body": "b".repeat(1024 * 1024 - 1024),
            }));
        }
        "echo" => {
            return Ok(json!({
                "status": "200",
                "headers": {"content-type": header("Content-Type", "application/json")},
                "body": event.to_string(),
            }));
        }
        "query-space" => request["querystring"] = json!("a=b c"),
        "query-hash" => request["querystring"] = json!("a=b#c"),
        "query-control" => request["querystring"] = json!("a=b\u{1}c"),
        other => {
            if let Some(status) = other.strip_prefix("generated-status-") {
                return Ok(
                    json!({"status": status, "statusDescription": "Fine Indeed", "body": "x"}),
                );
            }
            if let Some(ms) = other.strip_prefix("sleep-").and_then(|ms| ms.parse().ok()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }
    request["headers"]["x-fault-edge-env"] = header("x-fault-edge-env", id);
    Ok(request)
}

async fn target(event: Value, id: &str) -> Result<Value, Diagnostic> {
    let path = event["path"].as_str().unwrap_or("").to_owned();
    match path.as_str() {
        "/alb/crash" => std::process::exit(1),
        "/alb/hang" => hang().await,
        "/alb/invalid" => return Ok(json!({"hello": "not an ALB response"})),
        "/alb/big" => return Ok(json!({"statusCode": 200, "body": "x".repeat(1024 * 1024 + 1)})),
        "/alb/error" => {
            return Err(Diagnostic {
                error_type: "FaultError".into(),
                error_message: "asked to fail".into(),
            });
        }
        "/alb/echo" => {
            return Ok(json!({
                "statusCode": 200,
                "statusDescription": "200 OK",
                "headers": {"content-type": "application/json"},
                "body": event.to_string(),
                "isBase64Encoded": false,
            }));
        }
        other => {
            if let Some(field) = other.strip_prefix("/alb/null-") {
                let mut answer = json!({"statusCode": 200, "statusDescription": "200 OK",
                    "headers": {"content-type": "text/plain"}, "body": "ok", "isBase64Encoded": false});
                answer[field] = Value::Null;
                return Ok(answer);
            }
            if let Some(ms) = other
                .strip_prefix("/alb/sleep-")
                .and_then(|ms| ms.parse().ok())
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }
    let seen = event["headers"]["custom_header"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    Ok(json!({
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"content-type": "text/plain", "x-fault-origin-env": id, "x-seen-custom-header": seen},
        "body": "ok",
        "isBase64Encoded": false,
    }))
}
