//! Load run of the local stack (not a test, not in CI: numbers go to docs/PERFORMANCE.md).
//!
//! N clients (default 50), each with its own session cookie, send requests for D seconds
//! (default 60) through CloudFront -> edge-fn -> ALB -> alb-fn on loopback. Every answer is
//! checked: status 200, the client's own session (its first-seen time never changes) and a hit
//! counter that advances by exactly one per request. The edge function runs as one environment
//! taking every client at once (Lambda Managed Instances), so one session store sees all of them.
//! RSS of the stack and of every function process is sampled after the warm-up and at the end.
//!
//! `cargo run --release -p edge-stack --bin edge-stack-load [-- --clients 50 --seconds 60]`

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use edge_persist_core::cloudfront::EventType;
use edge_stack::environment::FunctionSpec;
use edge_stack::{
    AlbOptions, EdgeAssociation, PoolSettings, Runtime, Stack, StackConfig, binaries, logs,
};

#[derive(Parser)]
struct Opts {
    #[arg(long, default_value_t = 50)]
    clients: usize,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds of warm-up before the first RSS sample.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Resident set size of a process in KB (`VmRSS`).
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// (process, RSS KB) of the stack and of each function environment.
fn sample(stack: &Stack) -> Vec<(String, u64)> {
    let mut out = vec![("stack".to_owned(), rss_kb(std::process::id()).unwrap_or(0))];
    for pool in stack.edge.iter().chain([&stack.origin]) {
        for env in pool.status() {
            out.push((
                format!("{} {}", pool.name(), &env.id[..8]),
                rss_kb(env.pid).unwrap_or(0),
            ));
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    wrong: AtomicU64,
    lost: AtomicU64,
}

async fn client(url: String, until: Instant, tally: Arc<Tally>) -> Result<(), Error> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    // First request: alb-fn issues the cookie.
    let first = http
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await?;
    let cookie = first
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or("no session cookie issued")?;
    let mut expected_hits = 1u64;
    let mut first_seen: Option<String> = None;
    while Instant::now() < until {
        let answer = http
            .get(&url)
            .header("accept", "application/json")
            .header("cookie", &cookie)
            .send()
            .await;
        let doc: serde_json::Value = match answer {
            Ok(a) if a.status() == 200 => match a.json().await {
                Ok(doc) => doc,
                Err(_) => {
                    tally.lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
            _ => {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let h = &doc["headers"];
        let hits = h["x-persist-session-hits"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok());
        let seen = h["x-persist-session-first-seen"]
            .as_str()
            .map(str::to_owned);
        let own = first_seen.is_none() || seen == first_seen;
        if hits == Some(expected_hits) && own {
            tally.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            tally.wrong.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "wrong answer: hits {hits:?} (expected {expected_hits}), first seen {seen:?} (was {first_seen:?})"
            );
        }
        first_seen = first_seen.or(seen);
        expected_hits = hits.unwrap_or(expected_hits) + 1;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let opts = Opts::parse();
    let bins = binaries::function_binaries(&["edge-fn", "alb-fn"])?;
    let dir = std::env::temp_dir().join(format!("edge-stack-load-{}", std::process::id()));
    let spec = |name: &str, edge: bool| FunctionSpec {
        name: name.into(),
        program: bins[name].clone(),
        args: vec![],
        runtime: Runtime::ProvidedAl2023,
        env: vec![],
        memory_mb: 128,
        timeout: Duration::from_secs(10),
        log_format: logs::LogFormat::Json,
        freeze: true,
        edge,
    };
    let config = StackConfig {
        bind: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        associations: vec![EdgeAssociation::new(
            EventType::OriginRequest,
            spec("edge-fn", true),
            PoolSettings {
                concurrency_limit: 1,
                per_environment_concurrency: opts.clients + 8,
                ..PoolSettings::default()
            },
        )],
        origin: spec("alb-fn", false),
        origin_pool: PoolSettings {
            concurrency_limit: opts.clients + 8,
            ..PoolSettings::default()
        },
        alb: AlbOptions::default(),
        persisted_header: "custom_header".into(),
        run_dir: dir.clone(),
        origin_read_timeout: Duration::from_secs(30),
        listener: edge_stack::serve::ListenerLimits::PUBLIC,
        // The deployment's policies: the session cookie reaches the edge.
        policies: edge_stack::cloudfront::Policies::default(),
        // edge-fn is a custom runtime: the native test mode.
        edge_native_test: true,
        error_responses: Vec::new(),
    };
    let stack = Stack::start(config).await?;
    let url = format!("{}/", stack.url());
    let started = Instant::now();
    let until = started + Duration::from_secs(opts.seconds);
    let tally = Arc::new(Tally::default());
    let tasks: Vec<_> = (0..opts.clients)
        .map(|_| tokio::spawn(client(url.clone(), until, Arc::clone(&tally))))
        .collect();
    tokio::time::sleep(Duration::from_secs(opts.warmup)).await;
    let warm = sample(&stack);
    let ok_at_warm = tally.ok.load(Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let end = sample(&stack);
    let elapsed = started.elapsed().as_secs_f64();
    let (ok, wrong, lost) = (
        tally.ok.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
        tally.lost.load(Ordering::Relaxed),
    );
    println!(
        "{} clients, {:.0} s: {ok} answers checked, {wrong} wrong, {lost} lost; {:.0} req/s ({:.0} req/s after warm-up)",
        opts.clients,
        elapsed,
        ok as f64 / elapsed,
        (ok - ok_at_warm) as f64 / (elapsed - opts.warmup as f64)
    );
    println!(
        "\n| process | RSS after {} s warm-up | RSS at the end | change |",
        opts.warmup
    );
    println!("|---|---|---|---|");
    for (name, before) in &warm {
        let after = end
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, kb)| *kb)
            .unwrap_or(0);
        println!(
            "| {name} | {:.1} MB | {:.1} MB | {:+.1}% |",
            *before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after as f64 - *before as f64) * 100.0 / (*before).max(1) as f64
        );
    }
    let new: Vec<_> = end
        .iter()
        .filter(|(n, _)| !warm.iter().any(|(w, _)| w == n))
        .collect();
    if !new.is_empty() {
        println!("\nstarted after the warm-up: {new:?}");
    }
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    if wrong > 0 || lost > 0 {
        return Err(format!("{wrong} wrong and {lost} lost answers").into());
    }
    Ok(())
}
