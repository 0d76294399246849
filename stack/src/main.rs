//! `edge-stack`: run the local CloudFront -> Lambda@Edge -> ALB -> Lambda stack, recycle its
//! environments, read its logs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use edge_stack::binaries;
use edge_stack::environment::FunctionSpec;
use edge_stack::{AlbOptions, PoolSettings, Stack, StackConfig};

#[derive(Parser)]
#[command(
    name = "edge-stack",
    version,
    about = "Local CloudFront -> Lambda@Edge -> ALB -> Lambda, with the real function binaries"
)]
struct Cli {
    /// Run directory: log streams and the running stacks' state files.
    #[arg(
        long,
        global = true,
        default_value = "target/edge-stack",
        env = "EDGE_STACK_DIR"
    )]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the functions if needed and run the stack until Ctrl-C.
    Up(Box<Up>),
    /// Retire the execution environments of a running stack (all functions, or one).
    Recycle {
        /// CloudFront port of the running stack.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// `edge-fn` or `alb-fn`; both when left out.
        function: Option<String>,
    },
    /// Print a function's log streams (`edge-fn` or `alb-fn`).
    Logs {
        function: String,
        /// Keep printing new lines.
        #[arg(long, short)]
        follow: bool,
    },
}

/// Which edge function the stack runs.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EdgeRuntime {
    /// edge-fn, the native Rust binary.
    Native,
    /// The Lambda@Edge package (Node.js + wasm) as Lambda's managed Node.js runtime runs it.
    NodeWasm,
}

#[derive(Args)]
struct Up {
    /// Edge function: the native edge-fn, or the deployable Node.js + wasm package.
    #[arg(long, value_enum, default_value_t = EdgeRuntime::Native)]
    edge: EdgeRuntime,
    /// CloudFront listener port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Listen address of CloudFront. Anything but loopback exposes the stack: see --allow-non-loopback.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Required to bind a non-loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Edge function binary (default: build edge-fn with cargo --release).
    #[arg(long)]
    edge_bin: Option<PathBuf>,
    /// Origin function binary (default: build alb-fn with cargo --release).
    #[arg(long)]
    alb_bin: Option<PathBuf>,
    /// Reclaim an environment idle this long (e.g. 30s, 10m).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Retire an environment this old after its current invocation.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    max_lifetime: Duration,
    /// Environments per function at most; more concurrent requests are throttled.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Invocations one environment serves at once (Lambda Managed Instances; sets
    /// AWS_LAMBDA_MAX_CONCURRENCY). 1 is classic Lambda.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    per_environment_concurrency: u16,
    /// Edge function timeout (origin-request triggers allow up to 30 s).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    edge_timeout: Duration,
    /// Origin function timeout (Lambda's default is 3 s).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    alb_timeout: Duration,
    /// Memory size both functions are told (MB).
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// ALB target group attribute lambda.multi_value_headers.enabled.
    #[arg(long)]
    multi_value_headers: bool,
    /// ALB attribute routing.http.drop_invalid_header_fields.enabled (drops `custom_header`!).
    #[arg(long)]
    drop_invalid_header_fields: bool,
    /// AWS_LAMBDA_LOG_FORMAT of the functions and format of the platform lines: json or text.
    #[arg(long, default_value = "json")]
    log_format: edge_stack::logs::LogFormat,
    /// Header carrying the persisted value (EDGE_PERSIST_HEADER of both functions).
    #[arg(long, default_value = "custom_header")]
    persisted_header: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(up) => run_up(*up, &cli.dir),
        Command::Recycle { port, function } => recycle(&cli.dir, port, function.as_deref()),
        Command::Logs { function, follow } => logs(&cli.dir, &function, follow),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge-stack: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Lambda's memory sizes (docs/AWS-BEHAVIOUR.md).
const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Longest timeout of an origin-request Lambda@Edge function, and of a Lambda function.
const MAX_EDGE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_LAMBDA_TIMEOUT: Duration = Duration::from_secs(900);

/// Values with which every request would fail are refused before anything starts.
fn check_up(up: &Up) -> Result<()> {
    if up.concurrency == 0 {
        return Err("--concurrency 0 would throttle every request; use 1 or more".into());
    }
    if up.per_environment_concurrency == 0 {
        return Err("--per-environment-concurrency must be at least 1".into());
    }
    if !MEMORY_MB.contains(&up.memory) {
        return Err(format!(
            "--memory {} MB: Lambda takes {} to {} MB",
            up.memory,
            MEMORY_MB.start(),
            MEMORY_MB.end()
        )
        .into());
    }
    for (flag, timeout, max, what) in [
        (
            "--edge-timeout",
            up.edge_timeout,
            MAX_EDGE_TIMEOUT,
            "an origin-request trigger",
        ),
        (
            "--alb-timeout",
            up.alb_timeout,
            MAX_LAMBDA_TIMEOUT,
            "a Lambda function",
        ),
    ] {
        if timeout.is_zero() || timeout > max {
            return Err(format!(
                "{flag} {}: the timeout of {what} is more than 0 and at most {}",
                humantime::format_duration(timeout),
                humantime::format_duration(max)
            )
            .into());
        }
    }
    edge_persist_core::headers::validate_settable_name(&up.persisted_header).map_err(|e| {
        format!(
            "--persisted-header {:?}: CloudFront refuses it ({e})",
            up.persisted_header
        )
    })?;
    Ok(())
}

fn run_up(up: Up, dir: &Path) -> Result<()> {
    check_up(&up)?;
    if !up.bind.is_loopback() {
        if !up.allow_non_loopback {
            return Err(format!("refusing to listen on {} without --allow-non-loopback: the stack has no authentication", up.bind).into());
        }
        eprintln!(
            "WARNING: listening on {}: anyone who can reach this address can invoke the functions",
            up.bind
        );
    }
    let (edge_bin, alb_bin) = match (up.edge_bin.clone(), up.alb_bin.clone()) {
        (Some(e), Some(a)) => (e, a),
        (edge, alb) => {
            eprintln!("edge-stack: cargo build --release -p edge-fn -p alb-fn");
            let built =
                binaries::cargo_build(&["edge-fn", "alb-fn"], true, &["edge-fn", "alb-fn"])?;
            (
                edge.unwrap_or_else(|| built["edge-fn"].clone()),
                alb.unwrap_or_else(|| built["alb-fn"].clone()),
            )
        }
    };
    let (edge_program, edge_args, edge_env) = match up.edge {
        EdgeRuntime::Native => (edge_bin, vec![], vec![]),
        EdgeRuntime::NodeWasm => {
            eprintln!("edge-stack: building the Lambda@Edge package (xtask)");
            let built =
                xtask::build(None).map_err(|e| format!("building the Lambda@Edge package: {e}"))?;
            let node = xtask::node_runtime(&built.lambda_edge);
            (node.program, node.args, node.env)
        }
    };
    let logs = dir.join("logs");
    // One run, one fresh set of log groups, like a new account: the streams of earlier runs go,
    // nothing else in the directory does.
    edge_stack::logs::clear_streams(
        &logs,
        &[
            edge_stack::logs::log_group("edge-fn", true),
            edge_stack::logs::log_group("alb-fn", false),
        ],
    )
    .map_err(|e| {
        format!(
            "cannot clear the old log streams in {}: {e}",
            logs.display()
        )
    })?;
    let function_env = vec![(
        "EDGE_PERSIST_HEADER".to_owned(),
        up.persisted_header.clone(),
    )];
    let settings = PoolSettings {
        concurrency_limit: up.concurrency,
        idle_timeout: up.idle_timeout,
        max_lifetime: up.max_lifetime,
        per_environment_concurrency: usize::from(up.per_environment_concurrency),
    };
    let spec = |name: &str, program: PathBuf, timeout: Duration, edge: bool| FunctionSpec {
        name: name.into(),
        program,
        args: vec![],
        env: function_env.clone(),
        memory_mb: up.memory,
        timeout,
        log_format: up.log_format,
        edge,
    };
    let config = StackConfig {
        bind: up.bind,
        port: up.port,
        edge: FunctionSpec {
            args: edge_args,
            env: function_env.iter().cloned().chain(edge_env).collect(),
            ..spec("edge-fn", edge_program, up.edge_timeout, true)
        },
        edge_pool: settings.clone(),
        origin: spec("alb-fn", alb_bin, up.alb_timeout, false),
        origin_pool: settings,
        alb: AlbOptions {
            multi_value_headers: up.multi_value_headers,
            drop_invalid_header_fields: up.drop_invalid_header_fields,
        },
        persisted_header: up.persisted_header,
        run_dir: dir.to_path_buf(),
        origin_read_timeout: Duration::from_secs(30),
        listener: edge_stack::serve::ListenerLimits::PUBLIC,
    };
    // Warnings of the stack itself (502s and their reasons) go to stderr; requests to stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(config))
}

async fn serve(config: StackConfig) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let (idle, life, limit) = (
        config.edge_pool.idle_timeout,
        config.edge_pool.max_lifetime,
        config.edge_pool.concurrency_limit,
    );
    let header = config.persisted_header.clone();
    let stack = Stack::start(config).await?;
    let url = stack.url();
    println!("edge-stack is up: {url}\n");
    println!("  curl ──▶ CloudFront {url}");
    println!("             │ origin-request event");
    println!("             ▼");
    println!("           edge-fn  (Lambda@Edge, log group /aws/lambda/us-east-1.edge-fn)");
    println!("             │ request + custom_header");
    println!("             ▼");
    println!("           ALB http://{}", stack.alb);
    println!("             │ target event");
    println!("             ▼");
    println!("           alb-fn   (Lambda, log group /aws/lambda/alb-fn)\n");
    println!(
        "  environments: up to {limit} per function, idle {}, lifetime {}",
        humantime::format_duration(idle),
        humantime::format_duration(life)
    );
    println!(
        "  recycle: edge-stack recycle --port {}   logs: edge-stack logs edge-fn   stop: Ctrl-C\n",
        stack.cloudfront.port()
    );
    let mut records = stack.subscribe();
    let printer = tokio::spawn(async move {
        loop {
            match records.recv().await {
                Ok(r) => {
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
                    let detail = r.detail.map(|d| format!(" ({d})")).unwrap_or_default();
                    println!(
                        "{} {} {} {} {header}={} edge-stream={env} {temp} {:.1} ms{detail}",
                        r.status,
                        r.method,
                        r.uri,
                        r.result,
                        r.persisted.as_deref().unwrap_or("-"),
                        r.elapsed.as_secs_f64() * 1000.0
                    );
                    let _ = std::io::stdout().flush();
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("({n} requests not shown)")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    tokio::select! {
        _ = sigint.recv() => eprintln!("\nedge-stack: SIGINT, stopping every environment"),
        _ = sigterm.recv() => eprintln!("edge-stack: SIGTERM, stopping every environment"),
    }
    printer.abort();
    stack.shutdown().await;
    Ok(())
}

/// The control address of the stack on `port` and its token, from its state file.
fn control_url(dir: &Path, port: u16) -> Result<(String, String)> {
    let path = edge_stack::stack::state_file(dir, port);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no stack on port {port} ({}: {e}); start one with `edge-stack up --port {port}`",
            path.display()
        )
    })?;
    let state: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a stack state file: {e}", path.display()))?;
    match (state["control"].as_str(), state["token"].as_str()) {
        (Some(url), Some(token)) => Ok((url.to_owned(), token.to_owned())),
        _ => Err(format!("{} has no control address or token", path.display()).into()),
    }
}

fn recycle(dir: &Path, port: u16, function: Option<&str>) -> Result<()> {
    if let Some(f) = function {
        check_function_name(f)?;
    }
    let (control, token) = control_url(dir, port)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let body = runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let query = function
            .map(|f| format!("?function={f}"))
            .unwrap_or_default();
        let resp = client
            .post(format!("{control}/recycle{query}"))
            .bearer_auth(&token)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    });
    let (status, text) = body
        .map_err(|e| format!("stack on port {port} did not answer ({e}); is it still running?"))?;
    if !status.is_success() {
        return Err(format!("recycle failed ({status}): {text}").into());
    }
    println!("{text}");
    Ok(())
}

/// Lambda function names: letters, digits, `-` and `_` (so a name is never a path).
fn check_function_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("{name:?} is not a function name (letters, digits, - and _)").into());
    }
    Ok(())
}

fn logs(dir: &Path, function: &str, follow: bool) -> Result<()> {
    check_function_name(function)?;
    let root = dir.join("logs");
    let groups = [
        edge_stack::logs::log_group(function, true),
        edge_stack::logs::log_group(function, false),
    ];
    let Some(group) = groups
        .iter()
        .find(|g| edge_stack::logs::group_dir(&root, g).is_dir())
    else {
        return Err(format!(
            "no log group for {function:?} under {} (functions: edge-fn, alb-fn; is the stack up?)",
            root.display()
        )
        .into());
    };
    let mut offsets: Vec<(PathBuf, u64)> = Vec::new();
    loop {
        for stream in edge_stack::logs::streams(&root, group)? {
            if !offsets.iter().any(|(p, _)| *p == stream) {
                offsets.push((stream, 0));
            }
        }
        for (path, offset) in &mut offsets {
            let mut file = std::fs::File::open(&*path)?;
            file.seek(SeekFrom::Start(*offset))?;
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            // Print whole lines only; a line being written is printed next round.
            let complete = text.rfind('\n').map_or(0, |i| i + 1);
            if complete == 0 {
                continue;
            }
            let name = path
                .strip_prefix(edge_stack::logs::group_dir(&root, group))
                .unwrap_or(path)
                .display()
                .to_string();
            let mut out = std::io::stdout().lock();
            for line in text[..complete].lines() {
                // A closed pipe (`| head`) ends the command quietly.
                if writeln!(out, "{group} {name} {line}").is_err() {
                    return Ok(());
                }
            }
            *offset += complete as u64;
        }
        if !follow {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
