//! Benchmark of the local stack (not a test: numbers go to docs/PERFORMANCE.md).
//!
//! (a) Cold start of alb-fn (spawn -> first response, and peak RSS) against a Node.js handler
//!     doing the same work (`stack/bench/alb-handler.js`) under the same emulator, same run.
//!     and against the floor: `stack/bench/runtime_floor.rs`, a static std-only runtime making
//!     the same Runtime API exchange with blocking I/O (built here with `rustc`).
//! (b) Warm end-to-end latency and throughput through CloudFront -> edge-fn -> ALB -> alb-fn
//!     against a plain loopback HTTP hello server, same client, same run, with the parts of the
//!     pipeline measured alone (per-hop breakdown).
//! (c) The same at 1, 10 and 50 concurrent keep-alive clients (concurrency limits raised to
//!     match), throughput and p50/p99.
//! (d) The peer: one warm invocation of the same alb-fn under `cargo lambda watch` (the PyPI
//!     `cargo-lambda` wheel, pinned, installed into `.tools/cargo-lambda`), same client, same run.
//!
//! `cargo run --release -p edge-stack --bin edge-stack-bench [-- --runs 5 --cold 10 --requests 2000]`

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use clap::Parser;
use edge_persist_core::cloudfront::EventType;
use edge_stack::environment::FunctionSpec;
use edge_stack::{
    AlbOptions, EdgeAssociation, Pool, PoolSettings, Runtime, Stack, StackConfig, binaries, logs,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
struct Opts {
    /// Repetitions of the whole measurement; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Cold starts per runtime per run.
    #[arg(long, default_value_t = 10)]
    cold: usize,
    /// Sequential warm requests per target per run (and requests per concurrency level).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Node.js executable for the baseline.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Concurrent keep-alive clients through the whole pipeline (and the peer), one level each.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    clients: Vec<usize>,
    /// Leave out the peer (`cargo lambda watch`).
    #[arg(long)]
    no_peer: bool,
    /// Take edge-fn and alb-fn from this directory instead of building them: a baseline build
    /// kept aside, run alternately with the current one.
    #[arg(long)]
    bins: Option<PathBuf>,
}

/// The peer emulator, pinned: the PyPI wheel of cargo-lambda ships its binary.
const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";

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

/// The origin-request event of the test fixtures (1.7 KB), for the edge function alone.
fn cloudfront_event() -> Result<Bytes, BoxError> {
    let path =
        binaries::workspace_root().join("tests/fixtures/events/cloudfront-origin-request.json");
    Ok(Bytes::from(
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    ))
}

struct Cold {
    first_response_ms: f64,
    init_ms: f64,
    rss_mb: f64,
}

/// One cold start: a new process, spawn -> first response, then the environment is shut down.
async fn cold_start(pool: &Arc<Pool>) -> Result<Cold, BoxError> {
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
    pool.shutdown().await;
    Ok(Cold {
        first_response_ms,
        init_ms,
        rss_mb,
    })
}

/// `n` cold starts of each function, interleaved start by start (one of each, then the next
/// round), so that a change in the machine's load falls on all of them alike.
async fn cold_starts(
    specs: Vec<FunctionSpec>,
    n: usize,
    logs_root: PathBuf,
) -> Result<Vec<Vec<Cold>>, BoxError> {
    let settings = PoolSettings {
        concurrency_limit: 1,
        ..PoolSettings::default()
    };
    let pools: Vec<Arc<Pool>> = specs
        .into_iter()
        .map(|spec| Pool::new(spec, settings.clone(), logs_root.clone()))
        .collect();
    let mut out: Vec<Vec<Cold>> = pools.iter().map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        for (pool, starts) in pools.iter().zip(&mut out) {
            starts.push(cold_start(pool).await?);
        }
    }
    Ok(out)
}

#[derive(Clone, Copy)]
struct Warm {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
}

impl Warm {
    fn from_latencies(mut lat: Vec<f64>, seconds: f64) -> Self {
        lat.sort_by(f64::total_cmp);
        Self {
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            rps: lat.len() as f64 / seconds,
        }
    }
}

/// A request one client sends, built anew each time.
type Request = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

fn get(url: String) -> Request {
    Arc::new(move |c: &reqwest::Client| c.get(&url))
}

fn post(url: String, body: Bytes) -> Request {
    Arc::new(move |c: &reqwest::Client| c.post(&url).body(body.clone()))
}

async fn send(client: &reqwest::Client, request: &Request) -> Result<(), reqwest::Error> {
    request(client)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok(())
}

/// 100 warm-up requests, then `n` sequential ones over one keep-alive connection.
async fn warm(
    client: &reqwest::Client,
    request: &Request,
    n: usize,
) -> Result<Warm, reqwest::Error> {
    for _ in 0..100 {
        send(client, request).await?;
    }
    let mut lat = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        send(client, request).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Warm::from_latencies(lat, all.elapsed().as_secs_f64()))
}

/// `clients` clients, each with its own keep-alive connection, sending `total` requests between
/// them (after 20 warm-up requests each, which also start the environments they need).
async fn concurrent(request: &Request, clients: usize, total: usize) -> Result<Warm, BoxError> {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients));
    let per = total.div_ceil(clients);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (barrier, request) = (Arc::clone(&barrier), Arc::clone(request));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build()?;
            for _ in 0..20 {
                send(&client, &request).await?;
            }
            barrier.wait().await;
            let start = Instant::now();
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                send(&client, &request).await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, reqwest::Error>((start, Instant::now(), lat))
        }));
    }
    let (mut first, mut last, mut all) = (None::<Instant>, None::<Instant>, Vec::new());
    for task in tasks {
        let (start, end, lat) = task.await??;
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
        all.extend(lat);
    }
    let seconds = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => f64::NAN,
    };
    Ok(Warm::from_latencies(all, seconds))
}

/// Warm invocations straight through a pool: one Runtime API round trip (stack -> function ->
/// stack) each.
async fn invoke_only(pool: &Arc<Pool>, payload: &Bytes, n: usize) -> Result<Warm, BoxError> {
    for _ in 0..100 {
        pool.invoke(payload.clone()).await?;
    }
    let mut lat = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        pool.invoke(payload.clone()).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Warm::from_latencies(lat, all.elapsed().as_secs_f64()))
}

async fn hello_server() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { "Hello from a plain server!" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// The pool of the one edge function the bench runs (origin-request).
fn origin_request_pool(stack: &Stack) -> Result<&Arc<Pool>, BoxError> {
    stack
        .edge_pool(EventType::OriginRequest)
        .ok_or_else(|| "the stack runs no origin-request function".into())
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

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| binaries::workspace_root().join("target"))
}

/// Build the floor runtime (`stack/bench/runtime_floor.rs`) with `rustc`: statically linked
/// (musl where its target is installed, else glibc's static libraries), optimised, stripped.
fn build_floor() -> Result<PathBuf, BoxError> {
    let root = binaries::workspace_root();
    let out = target_dir().join("bench/runtime-floor");
    std::fs::create_dir_all(out.parent().ok_or("no target dir")?)?;
    let musl = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    let mut failures = Vec::new();
    for target in [Some(musl.as_str()), None] {
        let mut cmd = Command::new("rustc");
        cmd.current_dir(&root)
            .args([
                "--edition",
                "2024",
                "-C",
                "opt-level=3",
                "-C",
                "panic=abort",
            ])
            .args([
                "-C",
                "strip=symbols",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(&out)
            .arg(root.join("stack/bench/runtime_floor.rs"));
        if let Some(t) = target {
            cmd.args(["--target", t]);
        }
        let output = cmd.output()?;
        if output.status.success() {
            return Ok(out);
        }
        failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Err(format!("cannot build the floor runtime: {}", failures.join("\n")).into())
}

/// `.tools/cargo-lambda/bin/cargo-lambda`, installed from PyPI ([`CARGO_LAMBDA`]) into a venv of
/// its own on first use.
fn cargo_lambda() -> Result<PathBuf, BoxError> {
    let venv = binaries::workspace_root().join(".tools/cargo-lambda");
    let bin = venv.join("bin/cargo-lambda");
    let stamp = venv.join("installed.txt");
    if bin.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(CARGO_LAMBDA) {
        return Ok(bin);
    }
    eprintln!("installing {CARGO_LAMBDA} into {} (once)", venv.display());
    let ok = |mut cmd: Command| -> Result<(), BoxError> {
        let status = cmd.status()?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?} failed: {status}").into())
        }
    };
    let mut venv_cmd = Command::new("python3");
    venv_cmd.args(["-m", "venv"]).arg(&venv);
    ok(venv_cmd)?;
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        CARGO_LAMBDA,
    ]);
    ok(pip)?;
    std::fs::write(&stamp, CARGO_LAMBDA)?;
    Ok(bin)
}

/// `cargo lambda watch --release` serving alb-fn on a loopback port, until dropped.
struct Peer {
    pid: i32,
    child: std::process::Child,
    url: String,
}

impl Peer {
    async fn start(bin: &Path, concurrency: usize, log: &Path) -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let log = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .args([
                "lambda",
                "watch",
                "--release",
                "--ignore-changes",
                "--quiet",
            ])
            .args(["-A", "127.0.0.1", "-P", &port.to_string()])
            .args(["--concurrency", &concurrency.to_string()])
            .current_dir(binaries::workspace_root().join("alb-fn"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own group: cargo, and the functions it starts, go with it.
            .process_group(0)
            .spawn()?;
        let peer = Self {
            pid: i32::try_from(child.id())?,
            child,
            url: format!("http://127.0.0.1:{port}/2015-03-31/functions/alb-fn/invocations"),
        };
        // The first invocation waits for cargo to build alb-fn (already built: seconds).
        let client = reqwest::Client::builder().no_proxy().build()?;
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let answer = client.post(&peer.url).body(alb_event()).send().await;
            if matches!(&answer, Ok(r) if r.status().is_success()) {
                return Ok(peer);
            }
            if Instant::now() > deadline {
                return Err(format!("cargo lambda watch never answered: {answer:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group the peer leads; no memory is touched.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn config(
    dir: &Path,
    name: &str,
    bins: &std::collections::BTreeMap<String, PathBuf>,
    limit: usize,
) -> StackConfig {
    let pool = PoolSettings {
        concurrency_limit: limit,
        ..PoolSettings::default()
    };
    StackConfig {
        bind: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        associations: vec![EdgeAssociation::new(
            EventType::OriginRequest,
            FunctionSpec {
                edge: true,
                ..spec("edge-fn", bins["edge-fn"].clone(), vec![])
            },
            pool.clone(),
        )],
        origin: spec("alb-fn", bins["alb-fn"].clone(), vec![]),
        origin_pool: pool,
        alb: AlbOptions::default(),
        persisted_header: "custom_header".into(),
        run_dir: dir.join(name),
        origin_read_timeout: Duration::from_secs(30),
        listener: edge_stack::serve::ListenerLimits::PUBLIC,
        policies: edge_stack::cloudfront::Policies::default(),
        edge_native_test: true,
        error_responses: Vec::new(),
    }
}

/// Per-run results, one vector per figure; medians are printed.
#[derive(Default)]
struct Figures(std::collections::BTreeMap<String, Vec<f64>>);

impl Figures {
    fn push(&mut self, key: impl Into<String>, value: f64) {
        self.0.entry(key.into()).or_default().push(value);
    }
    fn warm(&mut self, key: &str, w: Warm) {
        self.push(format!("{key}.p50"), w.p50_ms);
        self.push(format!("{key}.p99"), w.p99_ms);
        self.push(format!("{key}.rps"), w.rps);
    }
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).cloned().map_or(f64::NAN, median)
    }
    fn runs(&self, key: &str) -> String {
        self.0.get(key).map_or(String::new(), |v| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
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
    let bins = match &opts.bins {
        Some(dir) => ["edge-fn", "alb-fn"]
            .map(|b| (b.to_owned(), dir.join(b)))
            .into_iter()
            .collect(),
        None => {
            eprintln!("building the functions (release, static musl: as the stack runs them)");
            binaries::function_binaries(&["edge-fn", "alb-fn"])?
        }
    };
    let floor = build_floor()?;
    let script = binaries::workspace_root().join("stack/bench/alb-handler.js");
    let dir = std::env::temp_dir().join(format!("edge-stack-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let max_clients = opts.clients.iter().copied().max().unwrap_or(1);
    let peer = if opts.no_peer {
        None
    } else {
        eprintln!("starting the peer: cargo lambda watch --release (alb-fn)");
        Some(Peer::start(&cargo_lambda()?, max_clients, &dir.join("cargo-lambda.log")).await?)
    };

    let mut f = Figures::default();
    let client = reqwest::Client::builder().no_proxy().build()?;
    let plain = get(format!("http://{}/", hello_server().await?));
    let cf_event = cloudfront_event()?;
    for run in 0..opts.runs {
        eprintln!("run {}/{}", run + 1, opts.runs);
        // Interleaved start by start so all see the same machine load.
        let logs_root = dir.join("logs");
        let runtimes = [
            ("alb-fn", bins["alb-fn"].clone(), vec![]),
            ("floor", floor.clone(), vec![]),
            (
                "node",
                opts.node.clone(),
                vec![script.display().to_string()],
            ),
        ];
        let specs = runtimes
            .iter()
            .map(|(name, program, args)| spec(name, program.clone(), args.clone()))
            .collect();
        let colds = cold_starts(specs, opts.cold, logs_root).await?;
        for ((name, _, _), cold) in runtimes.iter().zip(&colds) {
            f.push(
                format!("cold.{name}.first"),
                median(cold.iter().map(|c| c.first_response_ms).collect()),
            );
            f.push(
                format!("cold.{name}.init"),
                median(cold.iter().map(|c| c.init_ms).collect()),
            );
            f.push(
                format!("cold.{name}.rss"),
                median(cold.iter().map(|c| c.rss_mb).collect()),
            );
        }
        // alb-fn / floor of each pair started back to back: steadier than a ratio of medians
        // when the load changes within a run.
        f.push(
            "cold.pair-ratio",
            median(
                colds[0]
                    .iter()
                    .zip(&colds[1])
                    .map(|(a, fl)| a.first_response_ms / fl.first_response_ms)
                    .collect(),
            ),
        );

        // The same stack with environments never frozen: what SIGSTOP / SIGCONT costs.
        let mut unfrozen = config(&dir, &format!("stack-unfrozen-{run}"), &bins, 10);
        for a in &mut unfrozen.associations {
            a.function.freeze = false;
        }
        unfrozen.origin.freeze = false;
        let stack = Stack::start(unfrozen).await?;
        let whole = get(format!("{}/", stack.url()));
        f.warm("unfrozen", warm(&client, &whole, opts.requests).await?);
        f.warm(
            "unfrozen.invoke",
            invoke_only(&stack.origin, &alb_event(), opts.requests).await?,
        );
        stack.shutdown().await;

        let stack = Stack::start(config(&dir, &format!("stack-{run}"), &bins, 10)).await?;
        let whole = get(format!("{}/", stack.url()));
        f.warm("stack", warm(&client, &whole, opts.requests).await?);
        f.warm("plain", warm(&client, &plain, opts.requests).await?);
        if let Some(peer) = &peer {
            let one = post(peer.url.clone(), alb_event());
            f.warm("peer", warm(&client, &one, opts.requests).await?);
        }
        let alb = get(format!("http://{}/", stack.alb));
        f.warm("alb", warm(&client, &alb, opts.requests).await?);
        f.warm(
            "invoke.origin",
            invoke_only(&stack.origin, &alb_event(), opts.requests).await?,
        );
        f.warm(
            "invoke.edge",
            invoke_only(origin_request_pool(&stack)?, &cf_event, opts.requests).await?,
        );
        stack.shutdown().await;

        // Concurrent clients, with the functions' concurrency raised to match.
        let stack = Stack::start(config(
            &dir,
            &format!("stack-concurrent-{run}"),
            &bins,
            max_clients,
        ))
        .await?;
        let whole = get(format!("{}/", stack.url()));
        for &n in &opts.clients {
            f.warm(
                &format!("c{n}.stack"),
                concurrent(&whole, n, opts.requests).await?,
            );
            f.push(
                format!("c{n}.envs.edge"),
                origin_request_pool(&stack)?.status().len() as f64,
            );
            f.push(
                format!("c{n}.envs.origin"),
                stack.origin.status().len() as f64,
            );
            f.warm(
                &format!("c{n}.plain"),
                concurrent(&plain, n, opts.requests).await?,
            );
            if let Some(peer) = &peer {
                let one = post(peer.url.clone(), alb_event());
                f.warm(
                    &format!("c{n}.peer"),
                    concurrent(&one, n, opts.requests).await?,
                );
            }
        }
        stack.shutdown().await;
    }
    drop(peer);
    let _ = std::fs::remove_dir_all(&dir);
    report(&opts, &f, &node_version);
    Ok(())
}

fn report(opts: &Opts, f: &Figures, node_version: &str) {
    println!(
        "Medians of {} runs ({} cold starts per runtime per run, {} warm requests per target per run); node {node_version}; peer {}\n",
        opts.runs,
        opts.cold,
        opts.requests,
        if opts.no_peer {
            "left out"
        } else {
            CARGO_LAMBDA
        }
    );
    println!(
        "| cold start | alb-fn (Rust) | floor (static, blocking std) | Node.js handler | alb-fn / floor | alb-fn / Node |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, key, unit, digits) in [
        ("first response (spawn -> answer)", "first", "ms", 2),
        ("Init Duration (spawn -> first `next`)", "init", "ms", 2),
        ("Max Memory Used (peak RSS)", "rss", "MB", 0),
    ] {
        let (r, fl, n) = (
            f.get(&format!("cold.alb-fn.{key}")),
            f.get(&format!("cold.floor.{key}")),
            f.get(&format!("cold.node.{key}")),
        );
        println!(
            "| {label} | {r:.digits$} {unit} | {fl:.digits$} {unit} | {n:.digits$} {unit} | {:.2} | {:.2} |",
            r / fl,
            r / n
        );
    }
    println!(
        "| first response, alb-fn / floor of each back-to-back pair (median) | | | | {:.2} | |",
        f.get("cold.pair-ratio")
    );
    let (s, p, q) = (f.get("stack.p50"), f.get("plain.p50"), f.get("peer.p50"));
    println!(
        "\n| warm, sequential, one keep-alive client | whole stack | plain hello server | peer: one warm `cargo lambda watch` invocation of alb-fn | stack / plain | stack / peer |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, key) in [("p50", "p50"), ("p99", "p99")] {
        let (s, p, q) = (
            f.get(&format!("stack.{key}")),
            f.get(&format!("plain.{key}")),
            f.get(&format!("peer.{key}")),
        );
        println!(
            "| {label} | {s:.3} ms | {p:.3} ms | {q:.3} ms | {:.2} | {:.2} |",
            s / p,
            s / q
        );
    }
    let (sr, pr, qr) = (f.get("stack.rps"), f.get("plain.rps"), f.get("peer.rps"));
    println!(
        "| throughput | {sr:.0} req/s | {pr:.0} req/s | {qr:.0} req/s | {:.2} | {:.2} |",
        sr / pr,
        sr / qr
    );
    println!(
        "| stack p99 / stack p50 | {:.2} | | | | |",
        f.get("stack.p99") / s
    );
    let u = f.get("unfrozen.p50");
    println!(
        "| p50, environments not frozen (`--no-freeze`) | {u:.3} ms | | | frozen / not: {:.2} | |",
        s / u
    );

    let (alb, origin, edge) = (
        f.get("alb.p50"),
        f.get("invoke.origin.p50"),
        f.get("invoke.edge.p50"),
    );
    println!(
        "\n| where the time goes (p50, each measured alone, same run) | ms | share of the whole |"
    );
    println!("|---|---|---|");
    let row = |label: &str, v: f64| println!("| {label} | {v:.3} | {:.0} % |", 100.0 * v / s);
    row(
        "whole: client -> CloudFront -> edge-fn -> ALB -> alb-fn -> back",
        s,
    );
    row("one HTTP hop on loopback (the plain hello server)", p);
    row(
        "edge-fn invocation over the Runtime API (pool -> function -> pool)",
        edge,
    );
    row(
        "alb-fn invocation over the Runtime API (pool -> function -> pool)",
        origin,
    );
    row("ALB -> alb-fn (client hop + ALB + invocation)", alb);
    row(
        "  of which ALB's own work (ALB - invocation - one hop)",
        alb - origin - p,
    );
    row(
        "CloudFront's own work + its client hop (whole - ALB path - edge invocation)",
        s - alb - edge,
    );
    println!(
        "| alb-fn invocation, environment not frozen | {:.3} | frozen / not: {:.2} |",
        f.get("unfrozen.invoke.p50"),
        origin / f.get("unfrozen.invoke.p50")
    );
    println!(
        "| peer: one invocation under `cargo lambda watch` (HTTP hop included) | {q:.3} | {:.0} % |",
        100.0 * q / s
    );

    println!(
        "\n| concurrent keep-alive clients (limit raised to match) | stack req/s | stack p50 | stack p99 | plain req/s | plain p50 | peer req/s | peer p50 | peer p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in &opts.clients {
        let g = |k: &str| f.get(&format!("c{n}.{k}"));
        println!(
            "| {n} | {:.0} | {:.3} ms | {:.3} ms | {:.0} | {:.3} ms | {:.0} | {:.3} ms | {:.3} ms |",
            g("stack.rps"),
            g("stack.p50"),
            g("stack.p99"),
            g("plain.rps"),
            g("plain.p50"),
            g("peer.rps"),
            g("peer.p50"),
            g("peer.p99")
        );
    }
    println!("\nper-run values (ms; req/s for .rps):");
    for key in f.0.keys() {
        println!("  {key}: {}", f.runs(key));
    }
}
