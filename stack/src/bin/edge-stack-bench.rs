//! Benchmark of the local stack (not a test: numbers go to docs/PERFORMANCE.md).
//!
//! (a) Cold start of alb-fn (spawn -> first response, and peak RSS) against a Node.js handler
//!     doing the same work (`stack/bench/alb-handler.js`) under the same emulator, same run.
//! (b) Warm end-to-end latency and throughput through CloudFront -> edge-fn -> ALB -> alb-fn
//!     against a plain loopback HTTP hello server, same client, same run.
//!
//! `cargo run --release -p edge-stack --bin edge-stack-bench [-- --runs 5 --cold 10 --requests 2000]`

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use clap::Parser;
use edge_persist_core::cloudfront::EventType;
use edge_stack::environment::FunctionSpec;
use edge_stack::{
    AlbOptions, EdgeAssociation, Pool, PoolSettings, Runtime, Stack, StackConfig, binaries, logs,
};

#[derive(Parser)]
struct Opts {
    /// Repetitions of the whole measurement; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Cold starts per runtime per run.
    #[arg(long, default_value_t = 10)]
    cold: usize,
    /// Sequential warm requests per target per run.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Node.js executable for the baseline.
    #[arg(long, default_value = "node")]
    node: PathBuf,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn alb_event() -> Bytes {
    let event = serde_json::json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench/0"}},
        "httpMethod": "GET", "path": "/", "queryStringParameters": {},
        "headers": {"custom_header": "2026-11-27T00:00:00.000Z", "user-agent": "bench", "x-forwarded-for": "127.0.0.1"},
        "body": "", "isBase64Encoded": false
    });
    Bytes::from(event.to_string())
}

struct Cold {
    first_response_ms: f64,
    init_ms: f64,
    rss_mb: f64,
}

/// Cold starts of one function: each from a new process, spawn -> first response.
async fn cold_starts(
    spec: FunctionSpec,
    n: usize,
    logs_root: PathBuf,
) -> Result<Vec<Cold>, Box<dyn std::error::Error>> {
    let settings = PoolSettings {
        concurrency_limit: 1,
        ..PoolSettings::default()
    };
    let pool = Pool::new(spec, settings, logs_root);
    let mut out = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let outcome = pool.invoke(alb_event()).await?;
        let first_response_ms = started.elapsed().as_secs_f64() * 1000.0;
        let pid = pool
            .status()
            .first()
            .map(|e| e.pid)
            .ok_or("no environment after an invocation")?;
        let rss_mb = logs::max_memory_used_mb(pid).ok_or("no RSS")? as f64;
        let init_ms = outcome
            .served
            .init
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        out.push(Cold {
            first_response_ms,
            init_ms,
            rss_mb,
        });
        pool.shutdown().await;
    }
    Ok(out)
}

struct Warm {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
}

async fn warm(client: &reqwest::Client, url: &str, n: usize) -> Result<Warm, reqwest::Error> {
    for _ in 0..100 {
        client.get(url).send().await?.bytes().await?;
    }
    let mut lat = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let resp = client.get(url).send().await?;
        resp.bytes().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let total = all.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    Ok(Warm {
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        rps: n as f64 / total,
    })
}

/// Warm invocations straight through a pool: the Runtime API round trip alone.
async fn invoke_only(
    pool: &std::sync::Arc<Pool>,
    n: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        pool.invoke(alb_event()).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    Ok(percentile(&lat, 0.5))
}

async fn hello_server() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { "Hello from a plain server!" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn spec(name: &str, program: PathBuf, args: Vec<String>) -> FunctionSpec {
    // The Node.js baseline is a script that serves the Runtime API itself.
    let runtime = if args.is_empty() {
        Runtime::ProvidedAl2023
    } else {
        Runtime::Nodejs(20)
    };
    FunctionSpec {
        name: name.into(),
        program,
        args,
        runtime,
        env: vec![],
        memory_mb: 128,
        timeout: Duration::from_secs(10),
        log_format: logs::LogFormat::Json,
        freeze: true,
        edge: false,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = Opts::parse();
    let node_version = std::process::Command::new(&opts.node)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "the Node.js baseline needs node 20 ({e}); install it with `apt-get install nodejs`"
            )
        })?;
    let node_version = String::from_utf8_lossy(&node_version.stdout)
        .trim()
        .to_owned();
    eprintln!("building release binaries (cargo build --release -p edge-fn -p alb-fn)");
    let bins = binaries::cargo_build(&["edge-fn", "alb-fn"], true, &["edge-fn", "alb-fn"])?;
    let script = binaries::workspace_root().join("stack/bench/alb-handler.js");
    let dir = std::env::temp_dir().join(format!("edge-stack-bench-{}", std::process::id()));

    let (mut rust_cold, mut rust_init, mut rust_rss, mut node_cold, mut node_init, mut node_rss) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut stack_p50, mut stack_p99, mut stack_rps, mut plain_p50, mut plain_p99, mut plain_rps) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut alb_p50, mut invoke_p50, mut unfrozen_p50) = (vec![], vec![], vec![]);
    let client = reqwest::Client::builder().no_proxy().build()?;
    let plain = format!("http://{}/", hello_server().await?);
    for run in 0..opts.runs {
        eprintln!("run {}/{}", run + 1, opts.runs);
        // Interleaved in each run so both see the same machine load.
        let rust = cold_starts(
            spec("alb-fn", bins["alb-fn"].clone(), vec![]),
            opts.cold,
            dir.join("logs"),
        )
        .await?;
        let node = cold_starts(
            spec(
                "alb-node",
                opts.node.clone(),
                vec![script.display().to_string()],
            ),
            opts.cold,
            dir.join("logs"),
        )
        .await?;
        rust_cold.push(median(rust.iter().map(|c| c.first_response_ms).collect()));
        rust_init.push(median(rust.iter().map(|c| c.init_ms).collect()));
        rust_rss.push(median(rust.iter().map(|c| c.rss_mb).collect()));
        node_cold.push(median(node.iter().map(|c| c.first_response_ms).collect()));
        node_init.push(median(node.iter().map(|c| c.init_ms).collect()));
        node_rss.push(median(node.iter().map(|c| c.rss_mb).collect()));

        let config = StackConfig {
            bind: Ipv4Addr::LOCALHOST.into(),
            port: 0,
            associations: vec![EdgeAssociation::new(
                EventType::OriginRequest,
                FunctionSpec {
                    edge: true,
                    ..spec("edge-fn", bins["edge-fn"].clone(), vec![])
                },
                PoolSettings::default(),
            )],
            origin: spec("alb-fn", bins["alb-fn"].clone(), vec![]),
            origin_pool: PoolSettings::default(),
            alb: AlbOptions::default(),
            persisted_header: "custom_header".into(),
            run_dir: dir.join(format!("stack-{run}")),
            origin_read_timeout: Duration::from_secs(30),
            listener: edge_stack::serve::ListenerLimits::PUBLIC,
            policies: edge_stack::cloudfront::Policies::default(),
            edge_native_test: true,
        };
        // The same stack with environments never frozen: what SIGSTOP / SIGCONT costs.
        let mut unfrozen = config.clone();
        for a in &mut unfrozen.associations {
            a.function.freeze = false;
        }
        unfrozen.origin.freeze = false;
        unfrozen.run_dir = dir.join(format!("stack-unfrozen-{run}"));
        let stack = Stack::start(unfrozen).await?;
        unfrozen_p50.push(
            warm(&client, &format!("{}/", stack.url()), opts.requests)
                .await?
                .p50_ms,
        );
        stack.shutdown().await;
        let stack = Stack::start(config).await?;
        let s = warm(&client, &format!("{}/", stack.url()), opts.requests).await?;
        let p = warm(&client, &plain, opts.requests).await?;
        let a = warm(&client, &format!("http://{}/", stack.alb), opts.requests).await?;
        alb_p50.push(a.p50_ms);
        invoke_p50.push(invoke_only(&stack.origin, opts.requests).await?);
        stack.shutdown().await;
        stack_p50.push(s.p50_ms);
        stack_p99.push(s.p99_ms);
        stack_rps.push(s.rps);
        plain_p50.push(p.p50_ms);
        plain_p99.push(p.p99_ms);
        plain_rps.push(p.rps);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let (rc, nc) = (median(rust_cold), median(node_cold));
    let (ri, ni) = (median(rust_init), median(node_init));
    let (rr, nr) = (median(rust_rss), median(node_rss));
    println!(
        "Medians of {} runs ({} cold starts per runtime per run, {} warm requests per target per run); node {node_version}\n",
        opts.runs, opts.cold, opts.requests
    );
    println!(
        "| cold start (spawn -> first response) | alb-fn (Rust) | Node.js handler | Rust / Node |"
    );
    println!("|---|---|---|---|");
    println!(
        "| first response | {rc:.1} ms | {nc:.1} ms | {:.2} |",
        rc / nc
    );
    println!(
        "| Init Duration (spawn -> first `next`) | {ri:.1} ms | {ni:.1} ms | {:.2} |",
        ri / ni
    );
    println!(
        "| Max Memory Used (peak RSS) | {rr:.0} MB | {nr:.0} MB | {:.2} |\n",
        rr / nr
    );
    let (sp50, pp50, sp99, pp99, srps, prps) = (
        median(stack_p50),
        median(plain_p50),
        median(stack_p99),
        median(plain_p99),
        median(stack_rps),
        median(plain_rps),
    );
    println!("| warm, sequential, keep-alive | whole stack | plain hello server | stack / plain |");
    println!("|---|---|---|---|");
    println!("| p50 | {sp50:.3} ms | {pp50:.3} ms | {:.1} |", sp50 / pp50);
    println!("| p99 | {sp99:.3} ms | {pp99:.3} ms | {:.1} |", sp99 / pp99);
    let up50 = median(unfrozen_p50);
    println!(
        "| p50, environments not frozen (`--no-freeze`) | {up50:.3} ms | | frozen / not: {:.2} |",
        sp50 / up50
    );
    println!(
        "| p50 of parts: ALB -> alb-fn alone | {:.3} ms | | |",
        median(alb_p50)
    );
    println!(
        "| p50 of parts: one warm invocation over the Runtime API | {:.3} ms | | |",
        median(invoke_p50)
    );
    println!(
        "| throughput | {srps:.0} req/s | {prps:.0} req/s | {:.2} |",
        srps / prps
    );
    Ok(())
}
