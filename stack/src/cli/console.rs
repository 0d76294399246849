//! What `edge-stack up` prints: the banner once the stack is up, then one access-log line per
//! request.

use std::io::Write;
use std::time::Duration;

use edge_stack::RequestRecord;
use tokio::sync::broadcast::{self, error::RecvError};

/// What the banner says about the running stack.
pub struct Banner<'a> {
    pub url: &'a str,
    /// The cache behaviour's policies, as `Policies::describe` words them.
    pub policies: &'a str,
    pub alb: std::net::SocketAddr,
    pub port: u16,
    pub limit: usize,
    pub idle: Duration,
    pub life: Duration,
}

pub fn print_banner(b: &Banner<'_>) {
    let url = b.url;
    println!("edge-stack is up: {url}\n");
    println!("  curl ──▶ CloudFront {url}  ({})", b.policies);
    println!("             │ origin-request event");
    println!("             ▼");
    println!("           edge-fn  (Lambda@Edge, log group /aws/lambda/us-east-1.edge-fn)");
    println!("             │ request + custom_header");
    println!("             ▼");
    println!("           ALB http://{}", b.alb);
    println!("             │ target event");
    println!("             ▼");
    println!("           alb-fn   (Lambda, log group /aws/lambda/alb-fn)\n");
    println!(
        "  environments: up to {} per function, idle {}, lifetime {}",
        b.limit,
        humantime::format_duration(b.idle),
        humantime::format_duration(b.life)
    );
    println!(
        "  recycle: edge-stack recycle --port {}   logs: edge-stack logs edge-fn   stop: Ctrl-C\n",
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
