//! `edge-stack up`: build the functions if needed, start the stack, print the banner and the
//! access log until SIGINT or SIGTERM.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use edge_persist_core::cloudfront::EventType;
use edge_stack::binaries;
use edge_stack::environment::{EDGE_MAX_TIMEOUT, FunctionSpec};
use edge_stack::{AlbOptions, EdgeAssociation, PoolSettings, Runtime, Stack, StackConfig};

use super::{Result, console};

/// Which edge function the stack runs.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EdgeRuntime {
    /// edge-fn, the native Rust binary: a native test mode for speed (Lambda@Edge itself would
    /// refuse a custom runtime and environment variables).
    Native,
    /// The Lambda@Edge package (Node.js + wasm) as Lambda's managed Node.js runtime runs it.
    NodeWasm,
}

#[derive(Args)]
pub struct Up {
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
    /// Keep environments running between invocations (Lambda freezes them; freezing is on by
    /// default).
    #[arg(long)]
    no_freeze: bool,
    /// ALB target group attribute lambda.multi_value_headers.enabled.
    #[arg(long)]
    multi_value_headers: bool,
    /// ALB attribute routing.http.drop_invalid_header_fields.enabled (drops `custom_header`!).
    #[arg(long)]
    drop_invalid_header_fields: bool,
    /// AWS_LAMBDA_LOG_FORMAT of the functions and format of the platform lines: json or text.
    #[arg(long, default_value = "json")]
    log_format: edge_stack::logs::LogFormat,
    /// Cache policy of the cache behaviour (managed, by name): CachingDisabled, CachingOptimized, ...
    #[arg(long, default_value = "CachingDisabled")]
    cache_policy: String,
    /// Origin request policy: edge-persist (the project's: session cookie, Accept,
    /// Content-Type), a managed one (AllViewer, AllViewerExceptHostHeader, ...) or none.
    #[arg(long, default_value = edge_stack::cloudfront::policy::PROJECT_ORIGIN_REQUEST_POLICY)]
    origin_request_policy: String,
    /// Header carrying the persisted value (EDGE_PERSIST_HEADER of both functions).
    #[arg(long, default_value = "custom_header")]
    persisted_header: String,
}

/// Lambda's memory sizes (docs/AWS-BEHAVIOUR.md, "The Lambda Runtime API and logs").
const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Longest timeout of a Lambda function (an origin-request edge function: `EDGE_MAX_TIMEOUT`).
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
            EDGE_MAX_TIMEOUT,
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

pub fn run(up: Up, dir: &Path) -> Result<()> {
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
            eprintln!("edge-stack: cargo xtask lambda-edge");
            let package = edge_stack::node_runtime::build_lambda_edge()
                .map_err(|e| format!("building the Lambda@Edge package: {e}"))?;
            let node = edge_stack::node_runtime::node_runtime(&package);
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
        runtime: Runtime::ProvidedAl2023,
        env: function_env.clone(),
        memory_mb: up.memory,
        timeout,
        log_format: up.log_format,
        freeze: !up.no_freeze,
        edge,
    };
    let config = StackConfig {
        bind: up.bind,
        port: up.port,
        associations: vec![EdgeAssociation::new(
            EventType::OriginRequest,
            FunctionSpec {
                args: edge_args,
                runtime: match up.edge {
                    EdgeRuntime::Native => Runtime::ProvidedAl2023,
                    EdgeRuntime::NodeWasm => edge_stack::node_runtime::NODEJS,
                },
                // Lambda@Edge has no environment variables: the Node.js package gets only what
                // the launcher sets (its config is compiled in); the native edge-fn reads them.
                env: match up.edge {
                    EdgeRuntime::Native => function_env.iter().cloned().chain(edge_env).collect(),
                    EdgeRuntime::NodeWasm => edge_env,
                },
                ..spec("edge-fn", edge_program, up.edge_timeout, true)
            },
            settings.clone(),
        )],
        origin: spec("alb-fn", alb_bin, up.alb_timeout, false),
        origin_pool: settings,
        alb: AlbOptions {
            multi_value_headers: up.multi_value_headers,
            drop_invalid_header_fields: up.drop_invalid_header_fields,
        },
        persisted_header: up.persisted_header,
        run_dir: dir.to_path_buf(),
        origin_read_timeout: Duration::from_secs(30),
        policies: edge_stack::cloudfront::Policies::by_name(
            &up.cache_policy,
            &up.origin_request_policy,
        )?,
        edge_native_test: up.edge == EdgeRuntime::Native,
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
    let pool = config.origin_pool.clone();
    let header = config.persisted_header.clone();
    let policies = config.policies.describe();
    let stack = Stack::start(config).await?;
    console::print_banner(&console::Banner {
        url: &stack.url(),
        policies: &policies,
        alb: stack.alb,
        port: stack.cloudfront.port(),
        limit: pool.concurrency_limit,
        idle: pool.idle_timeout,
        life: pool.max_lifetime,
    });
    let printer = tokio::spawn(console::print_access_log(stack.subscribe(), header));
    tokio::select! {
        _ = sigint.recv() => eprintln!("\nedge-stack: SIGINT, stopping every environment"),
        _ = sigterm.recv() => eprintln!("edge-stack: SIGTERM, stopping every environment"),
    }
    printer.abort();
    stack.shutdown().await;
    Ok(())
}
