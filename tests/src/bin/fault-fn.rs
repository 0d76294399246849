//! TEST-ONLY function for the local-stack fault tests; never shipped. It plays either role, told
//! apart by the event: a CloudFront event makes it an edge function, anything else an ALB target.
//! The request path picks the misbehaviour, so one stack can exercise several faults:
//!
//! - edge: `/edge/crash` exits the process, `/edge/hang` never answers, `/edge/disallowed` adds
//!   `X-Cache`, `/edge/readonly` changes `Via`, `/edge/error` returns a function error,
//!   `/edge/generated` answers itself, `/edge/generated-status-<n>` answers with status `n`,
//!   `/edge/generated-big` answers with headers and body together just over 1 MB,
//!   `/edge/query-space`, `-hash` and `-control` set a querystring CloudFront refuses,
//!   `/edge/echo` answers with the event it got as a JSON body, `/edge/sleep-<ms>` waits first,
//!   `/edge/noise` writes invalid UTF-8, a 300 KB line and terminal escapes to stdout,
//!   `/edge/huge` returns a response over Lambda's 6 MB limit, `/edge/respond-exit` posts its
//!   answer itself and exits at once, `/edge/child-{answer,hang,crash}` starts a `sleep` child
//!   (logging `fault-fn child <pid>`) and then answers, hangs or exits, `/edge/error-newline`
//!   fails with a newline and an escape in its error type, `/edge/set-uri` sets `uri` to the
//!   viewer's `x-fault-uri` header, `/edge/generated-framing` answers with its own
//!   `content-length` and `transfer-encoding`; anything else passes the request through with
//!   `x-fault-edge-env` set to this environment's id.
//! - ALB target: `/alb/invalid` returns a non-response, `/alb/big` a response over 1 MB,
//!   `/alb/hang` never answers, `/alb/crash` exits, `/alb/error` returns a function error,
//!   `/alb/null-<field>` answers with that field `null`, `/alb/echo` answers with the event it got
//!   as a JSON body, `/alb/sleep-<ms>` waits first, `/alb/status-<n>` answers status `n` with the
//!   body `origin <n>`; anything else answers 200 `ok` with the path
//!   it got in `x-fault-path`.
//! - init: `FAULT_INIT_SLEEP_MS` (a function environment variable) makes Init take that long.

use std::time::Duration;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)?;
    let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    println!("fault-fn init {id}");
    if let Some(ms) = std::env::var("FAULT_INIT_SLEEP_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let id: &'static str = Box::leak(id.into_boxed_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let request_id = event.context.request_id.clone();
        handle(event.payload, id, request_id)
    }))
    .await
}

async fn handle(event: Value, id: &str, request_id: String) -> Result<Value, Diagnostic> {
    if event.get("Records").is_some() {
        edge(event, id, &request_id).await
    } else {
        target(event, id).await
    }
}

async fn hang() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// Post `body` as the answer to `request_id` and exit without waiting for the Runtime API's reply.
fn respond_and_exit(request_id: &str, body: &str) -> ! {
    use std::io::Write;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    if let Ok(mut conn) = std::net::TcpStream::connect(&api) {
        let _ = write!(
            conn,
            "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    }
    std::process::exit(0)
}

/// Start `sleep 3600` (in the function's process group) and log its pid.
fn start_child() {
    match std::process::Command::new("sleep").arg("3600").spawn() {
        Ok(child) => println!("fault-fn child {}", child.id()),
        Err(e) => println!("fault-fn cannot start a child: {e}"),
    }
}

fn noise() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"bad utf-8 \xff\xfe here\n");
    let _ = out.write_all(&vec![b'y'; 300 * 1024]);
    let _ = out.write_all(b"\nescape \x1b[31mred\x1b[0m\n");
    let _ = out.flush();
}

async fn edge(event: Value, id: &str, request_id: &str) -> Result<Value, Diagnostic> {
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
        "noise" => noise(),
        "set-uri" => {
            let uri = request["headers"]["x-fault-uri"][0]["value"].clone();
            request["uri"] = uri;
        }
        "generated-framing" => {
            return Ok(json!({
                "status": "200",
                "headers": {
                    "content-length": header("Content-Length", "999"),
                    "transfer-encoding": header("Transfer-Encoding", "chunked"),
                },
                "body": "framed by the stack",
            }));
        }
        "huge" => return Ok(Value::String("h".repeat(6_291_556 + 1))),
        "respond-exit" => respond_and_exit(
            request_id,
            r#"{"status":"200","body":"answered before exiting"}"#,
        ),
        "child-answer" => start_child(),
        "child-hang" => {
            start_child();
            hang().await;
        }
        "child-crash" => {
            start_child();
            std::process::exit(1);
        }
        "error-newline" => {
            return Err(Diagnostic {
                error_type: "Forged\nEND RequestId: forged\x1b[2J".into(),
                error_message: "message with \x1b[31m escape".into(),
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
            if let Some(status) = other
                .strip_prefix("/alb/status-")
                .and_then(|s| s.parse::<u16>().ok())
            {
                return Ok(json!({"statusCode": status,
                    "headers": {"content-type": "text/plain", "x-fault-path": other},
                    "body": format!("origin {status}"), "isBase64Encoded": false}));
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
        "headers": {"content-type": "text/plain", "x-fault-origin-env": id, "x-seen-custom-header": seen, "x-fault-path": event["path"]},
        "body": "ok",
        "isBase64Encoded": false,
    }))
}
