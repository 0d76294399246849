//! `edge-stack up`: read the template (validated, resolved into the twin's model), build the
//! functions if needed, start the stack, print the banner and the access log until SIGINT or
//! SIGTERM.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use edge_persist_core::cloudfront::EventType;
use edge_stack::binaries;
use edge_stack::environment::{EDGE_MAX_TIMEOUT, FunctionSpec};
use edge_stack::template::code::{self, Launch};
use edge_stack::template::resolve::{DEFAULT_STACK_NAME, Inputs};
use edge_stack::template::twin::{Association, Code, Function, Twin};
use edge_stack::template::{Template, validate};
use edge_stack::{AlbOptions, EdgeAssociation, PoolSettings, Runtime, Stack, StackConfig};

use super::{Result, console};

/// Which code the edge function runs instead of the template's.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EdgeRuntime {
    /// edge-fn, the native Rust binary: a native test mode for speed (Lambda@Edge itself would
    /// refuse a custom runtime and environment variables).
    Native,
    /// The project's Lambda@Edge package (Node.js + wasm) as Lambda's managed Node.js runtime
    /// runs it.
    NodeWasm,
}

/// The flags that override the template are `Option`s: `None` means "as the template says".
#[derive(Args)]
pub struct Up {
    /// CloudFormation template to run (default: the project's infra/template.yaml, the one it
    /// deploys).
    #[arg(long)]
    template: Option<PathBuf>,
    /// A template parameter's value, e.g. --parameter SessionCookie=sid (repeatable).
    #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
    /// AWS::StackName for the template.
    #[arg(long, default_value = DEFAULT_STACK_NAME)]
    stack_name: String,
    /// Run other code as the edge function than the template's: the native edge-fn (a test
    /// mode, not deployable to Lambda@Edge) or the project's Node.js + wasm package.
    #[arg(long, value_enum)]
    edge: Option<EdgeRuntime>,
    /// CloudFront listener port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Listen address of CloudFront. Anything but loopback exposes the stack: see --allow-non-loopback.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Required to bind a non-loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Native edge function binary (implies --edge native; default: build edge-fn).
    #[arg(long)]
    edge_bin: Option<PathBuf>,
    /// Origin function binary instead of the template's code.
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
    /// Edge function timeout (default: the template's; origin-request triggers allow up to 30 s).
    #[arg(long, value_parser = humantime::parse_duration)]
    edge_timeout: Option<Duration>,
    /// Origin function timeout (default: the template's).
    #[arg(long, value_parser = humantime::parse_duration)]
    alb_timeout: Option<Duration>,
    /// Memory size of both functions (MB; default: each function's MemorySize).
    #[arg(long)]
    memory: Option<u32>,
    /// Keep environments running between invocations (Lambda freezes them; freezing is on by
    /// default).
    #[arg(long)]
    no_freeze: bool,
    /// ALB target group attribute lambda.multi_value_headers.enabled (default: the template's).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    multi_value_headers: Option<bool>,
    /// ALB attribute routing.http.drop_invalid_header_fields.enabled (drops `custom_header`!;
    /// default: the template's).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    drop_invalid_header_fields: Option<bool>,
    /// Log format of both functions: json or text (default: each function's LoggingConfig).
    #[arg(long)]
    log_format: Option<edge_stack::logs::LogFormat>,
    /// Cache policy (managed, by name) instead of the template's: CachingDisabled, ...
    #[arg(long)]
    cache_policy: Option<String>,
    /// Origin request policy instead of the template's: edge-persist (the project's), a
    /// managed one (AllViewer, AllViewerExceptHostHeader, ...) or none.
    #[arg(long)]
    origin_request_policy: Option<String>,
    /// Header carrying the persisted value (the access log's column; EDGE_PERSIST_HEADER of
    /// the origin and of the native edge-fn). Default: the functions' default, custom_header.
    #[arg(long)]
    persisted_header: Option<String>,
}

fn parse_parameter(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{s:?}: expected NAME=VALUE")),
    }
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
    if let Some(memory) = up.memory
        && !MEMORY_MB.contains(&memory)
    {
        return Err(format!(
            "--memory {memory} MB: Lambda takes {} to {} MB",
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
        if let Some(timeout) = timeout
            && (timeout.is_zero() || timeout > max)
        {
            return Err(format!(
                "{flag} {}: the timeout of {what} is more than 0 and at most {}",
                humantime::format_duration(timeout),
                humantime::format_duration(max)
            )
            .into());
        }
    }
    if let Some(header) = &up.persisted_header {
        edge_persist_core::headers::validate_settable_name(header)
            .map_err(|e| format!("--persisted-header {header:?}: CloudFront refuses it ({e})"))?;
    }
    Ok(())
}

/// The template `up` runs: the given one or the project's.
fn template_path(up: &Up) -> PathBuf {
    up.template
        .clone()
        .unwrap_or_else(|| binaries::workspace_root().join("infra/template.yaml"))
}

/// Read, validate and resolve the template: everything that can be wrong with it is found here,
/// before anything is built or started.
fn read_twin(up: &Up, path: &Path) -> Result<Twin> {
    let shown = path.display();
    let template = Template::from_file(path).map_err(|e| format!("{shown}: {e}"))?;
    // The same rules as `edge-stack validate`, with its default session cookie.
    let cookie = edge_persist_core::config::Config::default().sessions.cookie;
    let findings = validate(&template, &cookie);
    for f in &findings {
        eprintln!("{shown}: {f}");
    }
    if !findings.is_empty() {
        return Err(format!(
            "{shown}: {} Lambda@Edge rule(s) broken (edge-stack validate); nothing started",
            findings.len()
        )
        .into());
    }
    let inputs = Inputs {
        parameters: up.parameters.iter().cloned().collect(),
        stack_name: up.stack_name.clone(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let twin = Twin::build(&template, &inputs, dir).map_err(|e| format!("{shown}: {e}"))?;
    Ok(twin)
}

/// The template's edge functions, one per association, in CloudFront's order.
fn associations<'t>(twin: &'t Twin, path: &Path) -> Result<Vec<(&'t Association, &'t Function)>> {
    let found: Vec<_> = twin
        .distribution
        .associations
        .iter()
        .filter_map(|a| twin.functions.get(&a.function).map(|f| (a, f)))
        .collect();
    if found.is_empty() {
        return Err(format!(
            "{}: the default cache behaviour has no Lambda@Edge association",
            path.display()
        )
        .into());
    }
    Ok(found)
}

/// The load balancer's target function; for a template without one (a distribution in front
/// of an origin the stack does not emulate), the project's alb-fn with Lambda's defaults stands
/// in, so the template's Lambda@Edge functions can still be tried.
fn origin_function(twin: &Twin) -> Function {
    twin.origin().cloned().unwrap_or_else(|| Function {
        id: "alb-fn".into(),
        name: "alb-fn".into(),
        runtime: Runtime::ProvidedAl2023.id(),
        handler: None,
        code: Code::Dir(PathBuf::new()),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        environment: vec![],
        log_format: edge_stack::logs::LogFormat::Json,
        log_group: None,
        architectures: vec![],
    })
}

/// What the origin-request edge function runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeCode {
    /// The association's function, as the template says.
    Template,
    /// edge-fn (`--edge native` or `--edge-bin`): the native test mode.
    Native,
    /// The project's package (`--edge node-wasm`).
    NodeWasm,
}

/// How to start each edge function (by logical id) and the origin function, whatever runs them.
struct Launches {
    edge: BTreeMap<String, Launch>,
    origin: Launch,
    native_edge: bool,
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
    let path = template_path(&up);
    let twin = read_twin(&up, &path)?;
    let edge_fns = associations(&twin, &path)?;
    if twin.origin().is_none() {
        eprintln!(
            "edge-stack: {}: no load balancer with a Lambda target: the distribution's origin is \
             not emulated, alb-fn (built from this workspace) stands in for it",
            path.display()
        );
    }
    let origin_fn = &origin_function(&twin);
    // What the edge runs: the template's code unless a flag replaces it (--edge-bin: native).
    let edge = match (up.edge, &up.edge_bin) {
        (Some(EdgeRuntime::Native), _) | (None, Some(_)) => EdgeCode::Native,
        (Some(EdgeRuntime::NodeWasm), _) => EdgeCode::NodeWasm,
        (None, None) => EdgeCode::Template,
    };
    for (a, f) in &edge_fns {
        // The flags replace the origin-request function's code only.
        if edge == EdgeCode::Template || a.event_type != EventType::OriginRequest {
            code::check(f).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if up.alb_bin.is_none() && twin.origin().is_some() {
        code::check(origin_fn).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if !twin.ignored.is_empty() {
        let list: Vec<String> = twin
            .ignored
            .iter()
            .map(|(id, kind)| format!("{id} ({kind})"))
            .collect();
        eprintln!("edge-stack: not emulated, ignored: {}", list.join(", "));
    }
    for setting in &twin.ignored_settings {
        eprintln!("edge-stack: not emulated, ignored: {setting}");
    }
    let launches = build(&up, &twin, edge, dir).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = stack_config(&twin, &up, launches, dir)?;
    let logs = dir.join("logs");
    // One run, one fresh set of log groups, like a new account: the streams of earlier runs go,
    // nothing else in the directory does.
    let mut groups: Vec<String> = config
        .associations
        .iter()
        .map(|a| edge_stack::logs::log_group(&a.function.name, true))
        .collect();
    groups.push(edge_stack::logs::log_group(&config.origin.name, false));
    groups.dedup();
    edge_stack::logs::clear_streams(&logs, &groups).map_err(|e| {
        format!(
            "cannot clear the old log streams in {}: {e}",
            logs.display()
        )
    })?;
    // Warnings of the stack itself (502s and their reasons) go to stderr; requests to stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(config))
}

/// Build what runs: the native binaries (cargo build), the project's package (cargo xtask) or
/// the template's code (built if it is the project's, then unpacked).
fn build(
    up: &Up,
    twin: &Twin,
    edge: EdgeCode,
    dir: &Path,
) -> std::result::Result<Launches, String> {
    let mut wanted = Vec::new();
    if edge == EdgeCode::Native && up.edge_bin.is_none() {
        wanted.push("edge-fn");
    }
    if twin.origin().is_none() && up.alb_bin.is_none() {
        wanted.push("alb-fn");
    }
    let built = if wanted.is_empty() {
        Default::default()
    } else {
        eprintln!(
            "edge-stack: cargo build --release (static musl) -p {}",
            wanted.join(" -p ")
        );
        binaries::function_binaries(&wanted).map_err(|e| e.to_string())?
    };
    let origin_fn = &origin_function(twin);
    let native_origin = up.alb_bin.clone().or_else(|| built.get("alb-fn").cloned());
    let origin = match native_origin {
        Some(bin) => Launch {
            program: bin,
            args: vec![],
            env: origin_fn.environment.clone(),
            runtime: Runtime::ProvidedAl2023,
        },
        None => code::prepare(origin_fn, dir)?,
    };
    let mut launches = BTreeMap::new();
    for a in &twin.distribution.associations {
        let Some(f) = twin.functions.get(&a.function) else {
            continue;
        };
        if launches.contains_key(&f.id) {
            continue;
        }
        // The flags replace the code of the origin-request function (the project's own).
        let replaced = a.event_type == EventType::OriginRequest;
        let launch = match edge {
            EdgeCode::Native if replaced => Launch {
                program: up
                    .edge_bin
                    .clone()
                    .or_else(|| built.get("edge-fn").cloned())
                    .ok_or("cargo built no edge-fn")?,
                args: vec![],
                env: vec![],
                runtime: Runtime::ProvidedAl2023,
            },
            EdgeCode::NodeWasm if replaced => {
                eprintln!("edge-stack: cargo xtask lambda-edge");
                let package = edge_stack::node_runtime::build_lambda_edge()
                    .map_err(|e| format!("building the Lambda@Edge package: {e}"))?;
                let node = edge_stack::node_runtime::node_runtime(&package);
                Launch {
                    program: node.program,
                    args: node.args,
                    env: node.env,
                    runtime: edge_stack::node_runtime::NODEJS,
                }
            }
            _ => code::prepare(f, dir)?,
        };
        launches.insert(f.id.clone(), launch);
    }
    Ok(Launches {
        edge: launches,
        origin,
        native_edge: edge == EdgeCode::Native,
    })
}

/// The ONE place the template's model becomes the stack's configuration: each setting is the
/// flag the user gave, else the template's value. Every Lambda@Edge association becomes one of
/// the stack's; a function on several triggers is one function (one pool), as in Lambda.
fn stack_config(twin: &Twin, up: &Up, launches: Launches, dir: &Path) -> Result<StackConfig> {
    let origin_fn = &origin_function(twin);
    let defaults = edge_persist_core::config::Config::default();
    let persisted_header = up
        .persisted_header
        .clone()
        .unwrap_or(defaults.persisted_header);
    // The functions' own variable for the header, only when the user set it (the template's
    // functions run with their defaults otherwise).
    let header_env: Vec<(String, String)> = up
        .persisted_header
        .iter()
        .map(|h| ("EDGE_PERSIST_HEADER".to_owned(), h.clone()))
        .collect();
    let settings = PoolSettings {
        concurrency_limit: up.concurrency,
        idle_timeout: up.idle_timeout,
        max_lifetime: up.max_lifetime,
        per_environment_concurrency: usize::from(up.per_environment_concurrency),
    };
    let spec = |name: &str, f: &Function, launch: Launch, timeout: Option<Duration>, edge: bool| {
        FunctionSpec {
            name: name.into(),
            program: launch.program,
            args: launch.args,
            runtime: launch.runtime,
            env: launch.env,
            memory_mb: up.memory.unwrap_or(f.memory_mb),
            timeout: timeout.unwrap_or(f.timeout),
            log_format: up.log_format.unwrap_or(f.log_format),
            freeze: !up.no_freeze,
            edge,
        }
    };
    let edge_launches = launches.edge;
    let mut distinct: Vec<&str> = twin
        .distribution
        .associations
        .iter()
        .map(|a| a.function.as_str())
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut associations = Vec::new();
    for a in &twin.distribution.associations {
        let (Some(f), Some(launch)) = (
            twin.functions.get(&a.function),
            edge_launches.get(&a.function),
        ) else {
            continue;
        };
        let mut launch = launch.clone();
        if launches.native_edge && a.event_type == EventType::OriginRequest {
            // The native test mode: edge-fn reads its configuration from the environment.
            launch.env.extend(header_env.iter().cloned());
        }
        // One edge function keeps the stack's short name (its log group, `logs edge-fn`,
        // `recycle edge-fn`); several are told apart by their Lambda names.
        let name = if distinct.len() == 1 {
            "edge-fn"
        } else {
            f.name.as_str()
        };
        associations.push(EdgeAssociation {
            event_type: a.event_type,
            include_body: a.include_body,
            function: spec(name, f, launch, up.edge_timeout, true),
            pool: settings.clone(),
        });
    }
    let mut origin_launch = launches.origin;
    origin_launch.env.extend(header_env);
    let template_alb = twin.load_balancer.clone().unwrap_or_default();
    let mut policies = twin.distribution.policies.clone();
    if up.cache_policy.is_some() || up.origin_request_policy.is_some() {
        let cache = up.cache_policy.as_deref().unwrap_or("CachingDisabled");
        let orp = up.origin_request_policy.as_deref().unwrap_or("none");
        let named = edge_stack::cloudfront::Policies::by_name(cache, orp)?;
        if up.cache_policy.is_some() {
            policies.cache = named.cache;
        }
        if up.origin_request_policy.is_some() {
            policies.origin_request = named.origin_request;
        }
    }
    Ok(StackConfig {
        bind: up.bind,
        port: up.port,
        associations,
        origin: spec("alb-fn", origin_fn, origin_launch, up.alb_timeout, false),
        origin_pool: settings,
        alb: AlbOptions {
            multi_value_headers: up
                .multi_value_headers
                .unwrap_or(template_alb.multi_value_headers),
            drop_invalid_header_fields: up
                .drop_invalid_header_fields
                .unwrap_or(template_alb.drop_invalid_header_fields),
        },
        persisted_header,
        run_dir: dir.to_path_buf(),
        origin_read_timeout: Duration::from_secs(30),
        policies,
        edge_native_test: launches.native_edge,
        error_responses: twin.distribution.custom_error_responses.clone(),
        listener: edge_stack::serve::ListenerLimits::PUBLIC,
    })
}

async fn serve(config: StackConfig) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let pool = config.origin_pool.clone();
    let header = config.persisted_header.clone();
    let policies = config.policies.describe();
    let triggers: Vec<(EventType, String)> = config
        .associations
        .iter()
        .map(|a| (a.event_type, a.function.name.clone()))
        .collect();
    let origin = config.origin.name.clone();
    let stack = Stack::start(config).await?;
    console::print_banner(&console::Banner {
        url: &stack.url(),
        policies: &policies,
        triggers: &triggers,
        origin: &origin,
        header: &header,
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
