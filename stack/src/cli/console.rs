//! What `edge-stack up` prints: the banner once the stack is up, then one access-log line per
//! request.

use std::io::Write;
use std::time::Duration;

use edge_persist_core::cloudfront::EventType;
use edge_stack::RequestRecord;
use tokio::sync::broadcast::{self, error::RecvError};

/// What the banner says about the running stack.
pub struct Banner<'a> {
    pub url: &'a str,
    /// The cache behaviour's policies, as `Policies::describe` words them.
    pub policies: &'a str,
    /// Each Lambda@Edge association: trigger and function name, in CloudFront's order.
    pub triggers: &'a [(EventType, String)],
    /// The ALB's target function.
    pub origin: &'a str,
    /// The header carrying the persisted value.
    pub header: &'a str,
    pub alb: std::net::SocketAddr,
    pub port: u16,
    pub limit: usize,
    pub idle: Duration,
    pub life: Duration,
}

pub fn print_banner(b: &Banner<'_>) {
    let url = b.url;
    let edge_fn = |event: EventType| {
        b.triggers
            .iter()
            .find(|(e, _)| *e == event)
            .map(|(_, name)| name.as_str())
    };
    let function = |name: &str, what: &str, group: String| {
        println!("           {name}  ({what}, log group {group})");
    };
    let step = |label: &str| {
        println!("             │ {label}");
        println!("             ▼");
    };
    println!("edge-stack is up: {url}\n");
    println!("  curl ──▶ CloudFront {url}  ({})", b.policies);
    for (event, then) in [
        (EventType::ViewerRequest, None),
        (EventType::OriginRequest, Some("request")),
    ] {
        if let Some(name) = edge_fn(event) {
            step(&format!("{} event", event.as_str()));
            function(name, "Lambda@Edge", edge_stack::logs::log_group(name, true));
            if let Some(then) = then {
                let persisted = if b.header.is_empty() || name != "edge-fn" {
                    String::new()
                } else {
                    format!(" + {}", b.header)
                };
                step(&format!("{then}{persisted}"));
            }
        }
    }
    if edge_fn(EventType::OriginRequest).is_none() {
        step("request");
    }
    println!("           ALB http://{}", b.alb);
    step("target event");
    function(
        b.origin,
        "Lambda",
        edge_stack::logs::log_group(b.origin, false),
    );
    for event in [EventType::OriginResponse, EventType::ViewerResponse] {
        if let Some(name) = edge_fn(event) {
            step(&format!("{} event", event.as_str()));
            function(name, "Lambda@Edge", edge_stack::logs::log_group(name, true));
        }
    }
    println!();
    println!(
        "  environments: up to {} per function, idle {}, lifetime {}",
        b.limit,
        humantime::format_duration(b.idle),
        humantime::format_duration(b.life)
    );
    let first = b
        .triggers
        .first()
        .map_or("alb-fn", |(_, name)| name.as_str());
    println!(
        "  recycle: edge-stack recycle --port {}   logs: edge-stack logs {first}   stop: Ctrl-C\n",
        b.port
    );
}

/// One access-log line: status, method, URI, result type, persisted value, edge stream, cold or
/// warm, latency.
pub fn access_line(r: &RequestRecord, header: &str) -> String {
    let env = r
        .edge_environment
        .as_deref()
        .map(|e| &e[..e.len().min(8)])
        .unwrap_or("-");
    let temp = match r.edge_cold {
        Some(true) => "cold",
        Some(false) => "warm",
        None => "-",
    };
    // The record's text fields are sanitized by the stack: one line each.
    let detail = r
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!(
        "{} {} {} {} {header}={} edge-stream={env} {temp} {:.1} ms{detail}",
        r.status,
        r.method,
        r.uri,
        r.result,
        r.persisted.as_deref().unwrap_or("-"),
        r.elapsed.as_secs_f64() * 1000.0
    )
}

/// Print the access log until the stack closes the channel.
pub async fn print_access_log(mut records: broadcast::Receiver<RequestRecord>, header: String) {
    loop {
        match records.recv().await {
            Ok(r) => {
                println!("{}", access_line(&r, &header));
                let _ = std::io::stdout().flush();
            }
            Err(RecvError::Lagged(n)) => println!("({n} requests not shown)"),
            Err(RecvError::Closed) => return,
        }
    }
}
