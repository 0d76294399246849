//! Harness for the local-stack tests: builds the real binaries once per test process, starts a
//! stack on loopback with its own run directory, and reads what the stack wrote.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use edge_stack::environment::FunctionSpec;
use edge_stack::logs::LogFormat;
use edge_stack::{
    AlbOptions, EdgeAssociation, EventType, PoolSettings, Runtime, Stack, StackConfig,
};
use reqwest::header::HeaderMap;

/// The executables the stack tests run.
#[derive(Debug)]
pub struct Bins {
    pub edge_fn: PathBuf,
    pub alb_fn: PathBuf,
    pub fault_fn: PathBuf,
    pub edge_stack: PathBuf,
}

/// `cargo build` of the function binaries, the test-only fault function and the CLI (debug
/// profile, so it shares the test build's artifacts). Once per test process.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let wanted = ["edge-fn", "alb-fn", "fault-fn", "edge-stack"];
        let built = edge_stack::binaries::cargo_build(
            &["edge-fn", "alb-fn", "edge-persist-tests", "edge-stack"],
            false,
            &wanted,
        )
        .unwrap_or_else(|e| panic!("building the stack binaries: {e}"));
        Bins {
            edge_fn: built["edge-fn"].clone(),
            alb_fn: built["alb-fn"].clone(),
            fault_fn: built["fault-fn"].clone(),
            edge_stack: built["edge-stack"].clone(),
        }
    })
}

/// A fresh run directory under the system temp dir.
pub fn run_dir(tag: &str) -> PathBuf {
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).unwrap_or_else(|e| panic!("no OS randomness: {e}"));
    let suffix: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("edge-stack-test-{tag}-{suffix}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// A native binary (a custom runtime, `provided.al2023`) as a function.
pub fn function(name: &str, program: &Path, timeout: Duration, edge: bool) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        program: program.to_path_buf(),
        args: vec![],
        runtime: Runtime::ProvidedAl2023,
        env: vec![],
        memory_mb: 128,
        timeout,
        log_format: LogFormat::Json,
        freeze: true,
        edge,
    }
}

/// The pool settings of the test stacks: generous.
pub fn pool_settings() -> PoolSettings {
    PoolSettings {
        concurrency_limit: 4,
        idle_timeout: Duration::from_secs(600),
        max_lifetime: Duration::from_secs(3600),
        per_environment_concurrency: 1,
    }
}

/// A stack of edge-fn (on the origin-request trigger, as the project deploys it) and alb-fn on
/// an ephemeral loopback port with generous defaults.
pub fn config(tag: &str, edge: &Path, origin: &Path) -> StackConfig {
    let settings = pool_settings();
    StackConfig {
        bind: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        associations: vec![EdgeAssociation::new(
            EventType::OriginRequest,
            function("edge-fn", edge, Duration::from_secs(5), true),
            settings.clone(),
        )],
        origin: function("alb-fn", origin, Duration::from_secs(5), false),
        origin_pool: settings,
        alb: AlbOptions::default(),
        persisted_header: "custom_header".into(),
        run_dir: run_dir(tag),
        origin_read_timeout: Duration::from_secs(30),
        listener: edge_stack::serve::ListenerLimits::PUBLIC,
        policies: edge_stack::cloudfront::Policies::default(),
        // The native edge-fn and fault-fn are custom runtimes: the native test mode.
        edge_native_test: true,
        error_responses: Vec::new(),
    }
}

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The persisted value alb-fn copies back (`x-persist-value`).
    pub fn persisted(&self) -> String {
        self.header("x-persist-value")
            .unwrap_or_else(|| panic!("no x-persist-value in {self:?}"))
            .to_owned()
    }

    /// The edge environment id alb-fn copies back (`x-persist-edge-env`).
    pub fn edge_env(&self) -> String {
        self.header("x-persist-edge-env")
            .unwrap_or_else(|| panic!("no x-persist-edge-env in {self:?}"))
            .to_owned()
    }
}

/// A running stack and a loopback client.
pub struct TestStack {
    pub stack: Stack,
    pub run_dir: PathBuf,
    pub client: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

impl TestStack {
    pub async fn start(config: StackConfig) -> Self {
        let run_dir = config.run_dir.clone();
        let stack = Stack::start(config)
            .await
            .unwrap_or_else(|e| panic!("starting the stack: {e}"));
        Self {
            stack,
            run_dir,
            client: client(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        fetch(
            &self.client,
            &format!("{}{path}", self.stack.url()),
            headers,
        )
        .await
    }

    /// `GET /status` of the control endpoint.
    pub async fn status(&self) -> serde_json::Value {
        let url = format!("http://{}/status", self.stack.control);
        let resp = self
            .client
            .get(url)
            .bearer_auth(&self.stack.control_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("control /status: {e}"));
        serde_json::from_str(&resp.text().await.unwrap_or_default())
            .unwrap_or_else(|e| panic!("control /status is not JSON: {e}"))
    }

    /// `POST /recycle` of the control endpoint.
    pub async fn recycle(&self, function: Option<&str>) -> serde_json::Value {
        let query = function
            .map(|f| format!("?function={f}"))
            .unwrap_or_default();
        let url = format!("http://{}/recycle{query}", self.stack.control);
        let resp = self
            .client
            .post(url)
            .bearer_auth(&self.stack.control_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("control /recycle: {e}"));
        serde_json::from_str(&resp.text().await.unwrap_or_default())
            .unwrap_or_else(|e| panic!("control /recycle is not JSON: {e}"))
    }

    /// Each log stream of `group` as (stream file, content), oldest first.
    pub async fn logs(&self, group: &str) -> Vec<(PathBuf, String)> {
        // Platform lines are written by a task: give it a moment after the last answer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        read_logs(&self.stack.logs_root, group)
    }

    pub async fn stop(self) {
        self.stack.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// `GET url` asking alb-fn for JSON with the header `x-repeat` sent twice (`a`, `b`): the
/// document alb-fn answers (what the origin received), for the ALB attribute tests.
pub async fn what_the_origin_received(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let answer = fetch(
        client,
        url,
        &[
            ("accept", "application/json"),
            ("x-repeat", "a"),
            ("x-repeat", "b"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

pub async fn fetch(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading {url}: {e}"));
    Answer {
        status,
        headers,
        body,
    }
}

pub fn read_logs(logs_root: &Path, group: &str) -> Vec<(PathBuf, String)> {
    edge_stack::logs::streams(logs_root, group)
        .unwrap_or_else(|e| panic!("listing log group {group}: {e}"))
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

/// A log line without its leading timestamp.
pub fn message(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(_, m)| m)
}

/// Whether a JSON log line holds `key: value` at any depth (alb-fn's tracing fields nest).
pub fn has_field(line: &str, key: &str, value: &str) -> bool {
    fn walk(v: &serde_json::Value, key: &str, value: &str) -> bool {
        match v {
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(k, v)| (k == key && v == value) || walk(v, key, value)),
            serde_json::Value::Array(items) => items.iter().any(|v| walk(v, key, value)),
            _ => false,
        }
    }
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| walk(&v, key, value))
}

/// The real Python executable (not a version-manager shim, which needs variables Lambda does
/// not set) and the test-only raw runtime it runs (`tests/fixtures/runtimes/raw-runtime.py`).
pub fn raw_runtime() -> (PathBuf, Vec<String>) {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap_or_else(|e| panic!("the raw-runtime tests need python3 on PATH: {e}"));
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    });
    let script = crate::fixtures_dir()
        .parent()
        .map(|f| f.join("runtimes/raw-runtime.py"))
        .unwrap_or_default();
    (python.clone(), vec![script.display().to_string()])
}

/// Run the `edge-stack` CLI with `--dir dir` to its end: (success, stdout, stderr).
pub fn cli(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(&bins().edge_stack)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("edge-stack {args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stack's next access-log record (from `stack.stack.subscribe()`) within 30 s, or the test
/// fails.
pub async fn next_record(
    records: &mut tokio::sync::broadcast::Receiver<edge_stack::RequestRecord>,
) -> edge_stack::RequestRecord {
    tokio::time::timeout(Duration::from_secs(30), records.recv())
        .await
        .unwrap_or_else(|_| panic!("no access-log record within 30 s"))
        .unwrap_or_else(|e| panic!("no record: {e}"))
}

/// `edge-stack up` running as a user runs it (`--port 0`, its own run directory), its stdout
/// read line by line. Dropping it kills the stack (its functions die with it).
pub struct Running {
    pub child: std::process::Child,
    pub url: String,
    pub port: u16,
    pub dir: PathBuf,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    /// A failed assertion must not leave the stack running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `edge-stack --dir <fresh> up --port 0 ARGS...` and wait (at most `ready_within`) for
/// the line with its URL; stderr goes to the test's. The run directory is given relative to the
/// stack's working directory, as the default (`target/edge-stack`) is.
pub fn up_cli(tag: &str, args: &[&str], ready_within: Duration) -> Running {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = run_dir(tag);
    let (Some(parent), Some(relative)) = (dir.parent(), dir.file_name()) else {
        panic!("{} has no parent", dir.display());
    };
    let mut child = Command::new(&bins().edge_stack)
        .current_dir(parent)
        .arg("--dir")
        .arg(relative)
        .args(["up", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting edge-stack: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + ready_within;
    let url = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("edge-stack printed no URL: {e}"));
        if let Some(url) = line.strip_prefix("edge-stack is up: ") {
            break url.trim().to_owned();
        }
    };
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));
    Running {
        child,
        url,
        port,
        dir,
        lines,
    }
}
