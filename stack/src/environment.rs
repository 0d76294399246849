//! One execution environment: a child process of the function binary, its Runtime API server
//! and its log stream.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::Utc;
use tokio::sync::{oneshot, watch};

pub use crate::function::{EDGE_MAX_TIMEOUT, EDGE_VERSION, FunctionSpec};
use crate::logs::{self, InitStatus, LogStream, Status};
use crate::runtime_api::{FunctionError, Invocation, Reply, RuntimeApi, StartLog};
use crate::sandbox::{Freezer, memory_exceeded, signal_environment, tmp_dir};

/// Lambda's limit on the Init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an answer may still arrive after the runtime exited: a runtime that posts its
/// response and exits at once has written the whole request before it died, and the Runtime
/// API's handler only needs to be scheduled to take it.
const ANSWER_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Why an invocation failed in a way that ends the environment, or how the function failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeFailure {
    #[error("function error {}: {}", .0.error_type, .0.error_message)]
    Function(FunctionError),
    #[error("init failed: {0}")]
    InitFailed(String),
    #[error("task timed out after {:.2} seconds", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("runtime exited: {0}")]
    Exited(String),
    /// A warm environment whose runtime exited between invocations (it answered, then died):
    /// the invocation never reached the function, and another environment may take it.
    #[error("runtime exited before taking the invocation: {0}")]
    Gone(String),
    #[error("Runtime.OutOfMemory: the function used more than its {0} MB")]
    OutOfMemory(u32),
}

impl InvokeFailure {
    /// Whether the environment must be discarded (Lambda keeps it only after a handled error).
    pub fn discards_environment(&self) -> bool {
        !matches!(self, Self::Function(_))
    }
}

/// A successful invocation.
#[derive(Debug, Clone)]
pub struct Served {
    pub payload: Bytes,
    pub duration: Duration,
    /// Present on the environment's first invocation (a cold start).
    pub init: Option<Duration>,
}

/// A running execution environment.
pub struct Environment {
    pub id: String,
    pub pid: u32,
    pub created: Instant,
    pub memory_mb: u32,
    log_format: logs::LogFormat,
    version: &'static str,
    /// The environment's /tmp (TMPDIR), removed with it.
    pub tmp: PathBuf,
    /// Stops the child while its runtime waits in `next` with nothing to do (with freezing on).
    freezer: Arc<Freezer>,
    api: RuntimeApi,
    log: LogStream,
    spawned: Instant,
    exited: watch::Receiver<Option<String>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    cold: AtomicBool,
    invocations: AtomicU64,
    /// The child's `/proc/<pid>/status`, kept open for the peak-memory reads of every invocation.
    memory: Option<logs::MemoryProbe>,
}

/// `bytes` random bytes as lowercase hex (`2 * bytes` digits), like the ids Lambda puts in
/// stream names and trace headers.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Without OS randomness, fall back to the clock: ids must differ, not be secret.
    if getrandom::fill(&mut buf).is_err() {
        let nanos = Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = nanos[i % nanos.len()] ^ (i as u8).wrapping_mul(31);
        }
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes);
    for b in buf {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

impl Environment {
    /// Start the Runtime API server, spawn the child and attach its log stream.
    pub async fn spawn(
        spec: &FunctionSpec,
        logs_root: &Path,
        extra_env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let id = random_hex(16);
        let freezer = Arc::new(Freezer::default());
        let api = RuntimeApi::start_freezing(spec.arn(), Arc::clone(&freezer)).await?;
        let group = logs::log_group(&spec.name, spec.edge);
        let stream = logs::stream_name(Utc::now(), spec.version(), &id);
        // The environment's own /tmp: a directory of its own, kept for its life, named by
        // TMPDIR (docs/AWS-BEHAVIOUR.md, "The Lambda execution environment").
        let tmp = tmp_dir(logs_root, &id);
        std::fs::create_dir_all(&tmp)?;
        // The child may start in its task root (below): a program given by a relative path is
        // the stack's relative path, resolved here. A bare name is looked up in PATH as it is.
        let program = match spec.program.components().count() {
            0 | 1 => spec.program.clone(),
            _ => std::path::absolute(&spec.program)?,
        };
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&spec.args)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
            )
            .env("TZ", ":UTC")
            .env("LANG", "en_US.UTF-8")
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", spec.lambda_name())
            .env("AWS_LAMBDA_FUNCTION_VERSION", spec.version())
            .env("TMPDIR", &tmp)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", &group)
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &stream)
            .env("AWS_LAMBDA_LOG_FORMAT", spec.log_format.env_value())
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", logs::REGION)
            .env("AWS_DEFAULT_REGION", logs::REGION)
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so the function's children die with it (`kill_group`).
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = program.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.env("LAMBDA_TASK_ROOT", dir);
        }
        // A managed runtime starts in the task root (`/var/task`), as Lambda's do: the Python
        // runtime interface client imports the handler's module from its working directory.
        if let Some((_, root)) = spec.env.iter().find(|(k, _)| k == "LAMBDA_TASK_ROOT") {
            cmd.current_dir(root);
        }
        // The function's own variables last: a launcher (Node.js runtime) may set its own
        // `LAMBDA_TASK_ROOT` and `_HANDLER`.
        cmd.envs(spec.env.iter().chain(extra_env).map(|(k, v)| (k, v)));
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent. The child gets
        // SIGKILL when the thread that spawned it ends, so no environment outlives the stack,
        // even a stack killed with SIGKILL; tokio's worker threads live as long as the runtime.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let spawned = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot start {}: {e}", spec.program.display()),
            )
        })?;
        let pid = child.id().unwrap_or_default();
        if spec.freeze {
            freezer.arm(pid);
        }
        let watcher_freezer = Arc::clone(&freezer);
        // The child leads its own group from before its exec: its runtime's connections are let
        // in from now on (one that came first waited for this).
        api.set_owner(libc::pid_t::try_from(pid).unwrap_or_default());
        let memory = logs::MemoryProbe::open(pid);
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(std::io::Error::other("child pipes missing"));
        };
        let init_start = spec.log_format.init_start(
            &spec.lambda_name(),
            spec.version(),
            &spec.runtime_version(),
        );
        let log = LogStream::open(logs_root, &group, &stream, &init_start, stdout, stderr).await?;
        let (exited_tx, exited) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    kill_group(pid);
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // The function's own children outlive it unless they are killed with its group.
            kill_group(pid);
            let text = match status {
                Ok(s) => s.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            watcher_freezer.disarm();
            exited_tx.send_replace(Some(text));
        });
        Ok(Self {
            id,
            pid,
            created: spawned,
            memory_mb: spec.memory_mb,
            log_format: spec.log_format,
            version: spec.version(),
            tmp,
            freezer,
            api,
            log,
            spawned,
            exited,
            kill: Mutex::new(Some(kill_tx)),
            cold: AtomicBool::new(true),
            invocations: AtomicU64::new(0),
            memory,
        })
    }

    pub fn log_stream(&self) -> &LogStream {
        &self.log
    }

    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::Acquire)
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Init duration, once the runtime has asked for its first invocation.
    pub fn init_duration(&self) -> Option<Duration> {
        self.api
            .init_done
            .borrow()
            .map(|t| t.duration_since(self.spawned))
    }

    /// Run one invocation: hand it to the runtime, wait for its answer, write the log lines.
    pub async fn invoke(
        &self,
        request_id: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Served, InvokeFailure> {
        self.invocations.fetch_add(1, Ordering::AcqRel);
        self.freezer.begin();
        let result = self.run(request_id, payload, timeout).await;
        self.freezer.end();
        result
    }

    async fn run(
        &self,
        request_id: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Served, InvokeFailure> {
        let cold = self.cold.swap(false, Ordering::AcqRel);
        let (dispatched_tx, dispatched_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        // One draw for both ids: 24 hex digits of root, 16 of parent.
        let ids = random_hex(20);
        let (root, parent) = ids.split_at(24);
        let trace_id = format!(
            "Root=1-{:08x}-{root};Parent={parent};Sampled=0",
            Utc::now().timestamp(),
        );
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload,
            timeout,
            trace_id,
            dispatched: dispatched_tx,
            start_log: Some(StartLog {
                log: self.log.clone(),
                format: self.log_format,
                start: self.log_format.start(request_id, self.version),
                init_since: cold.then_some(self.spawned),
            }),
            reply: reply_tx,
        };
        if self.api.inbox.send(invocation).is_err() {
            return Err(InvokeFailure::Exited("runtime API closed".into()));
        }
        let dispatched = self.wait_dispatch(dispatched_rx, cold, timeout).await?;
        let init = if cold { self.init_duration() } else { None };
        let mut exited = self.exited.clone();
        let limit_mb = self.memory_mb;
        let mut reply_rx = reply_rx;
        let answer = |reply: Result<Reply, _>| match reply {
            Ok(Reply::Response(body)) => Ok(body),
            Ok(Reply::Error(e)) => Err(InvokeFailure::Function(e)),
            Err(_) => Err(InvokeFailure::Exited("runtime API closed".into())),
        };
        let waited = tokio::select! {
            // An answer wins over an exit seen at the same time.
            biased;
            reply = &mut reply_rx => Ok(answer(reply)),
            status = exited.wait_for(Option::is_some) => Err(exit_text(status.ok().and_then(|s| s.clone()))),
            () = tokio::time::sleep_until((dispatched + timeout).into()) => Ok(Err(InvokeFailure::Timeout(timeout))),
            () = self.memory_exceeded(limit_mb) => Ok(Err(InvokeFailure::OutOfMemory(limit_mb))),
        };
        let outcome = match waited {
            Ok(outcome) => outcome,
            // Posted, then exited: the answer may still be on its way through the API server.
            Err(status) => match tokio::time::timeout(ANSWER_AFTER_EXIT, &mut reply_rx).await {
                Ok(reply @ Ok(_)) => answer(reply),
                _ => Err(InvokeFailure::Exited(status)),
            },
        };
        // A peak between two polls still counts: the high-water mark keeps it.
        let max_used_mb = self
            .memory
            .as_ref()
            .and_then(logs::MemoryProbe::max_used_mb);
        let outcome = match outcome {
            Ok(_) if max_used_mb.is_some_and(|m| m > u64::from(limit_mb)) => {
                Err(InvokeFailure::OutOfMemory(limit_mb))
            }
            other => other,
        };
        if matches!(outcome, Err(InvokeFailure::OutOfMemory(_))) {
            self.kill_now();
        }
        let duration = dispatched.elapsed();
        let status = match &outcome {
            Ok(_) => Status::Success,
            Err(InvokeFailure::Function(e)) => Status::Error(e.error_type.clone()),
            Err(InvokeFailure::Timeout(_)) => Status::Timeout,
            Err(InvokeFailure::OutOfMemory(_)) => {
                Status::Failure("Runtime.OutOfMemory".into(), "signal: killed".into())
            }
            Err(InvokeFailure::Exited(how) | InvokeFailure::Gone(how)) => {
                Status::Failure("Runtime.ExitError".into(), how.clone())
            }
            Err(InvokeFailure::InitFailed(_)) => {
                Status::Failure("Runtime.Unknown".into(), String::new())
            }
        };
        for line in self.log_format.failure(request_id, &status, timeout) {
            self.log.platform(line);
        }
        self.log
            .platform(self.log_format.end(request_id, &status, duration));
        let report = logs::Report {
            request_id,
            duration,
            memory_mb: self.memory_mb,
            max_used_mb,
            init,
            status,
        };
        self.log.platform(self.log_format.report(&report));
        outcome.map(|payload| Served {
            payload,
            duration,
            init,
        })
    }

    /// Resolves once the child's peak memory passes `limit_mb`; never when it cannot be read.
    async fn memory_exceeded(&self, limit_mb: u32) {
        match &self.memory {
            Some(memory) => memory_exceeded(memory, limit_mb).await,
            None => std::future::pending().await,
        }
    }

    /// SIGKILL at once (out of memory): the environment is discarded.
    fn kill_now(&self) {
        signal_environment(self.pid, libc::SIGKILL);
    }

    /// Until the runtime takes the invocation: on a cold start that is the end of Init.
    async fn wait_dispatch(
        &self,
        dispatched: oneshot::Receiver<Instant>,
        cold: bool,
        timeout: Duration,
    ) -> Result<Instant, InvokeFailure> {
        // A warm runtime is already polling `next`, or will be as soon as it posted its last answer.
        let limit = if cold { INIT_TIMEOUT } else { timeout };
        let mut exited = self.exited.clone();
        let mut init_error = self.api.init_error.clone();
        tokio::select! {
            // Taken, then exited at once: the invocation did reach the function.
            biased;
            at = dispatched => at.map_err(|_| InvokeFailure::Exited("runtime API closed".into())),
            err = init_error.wait_for(Option::is_some) => {
                let e = err.ok().and_then(|e| e.clone()).unwrap_or_else(|| FunctionError { error_type: "Runtime.Unknown".into(), error_message: String::new() });
                self.init_failed(&InitStatus::Error(e.error_type.clone()));
                Err(InvokeFailure::InitFailed(format!("{}: {}", e.error_type, e.error_message)))
            }
            status = exited.wait_for(Option::is_some) => {
                let text = exit_text(status.ok().and_then(|s| s.clone()));
                if !cold {
                    return Err(InvokeFailure::Gone(text));
                }
                self.init_failed(&InitStatus::Error("Runtime.ExitError".into()));
                Err(InvokeFailure::InitFailed(format!("runtime exited during init: {text}")))
            }
            () = tokio::time::sleep(limit) => {
                if !cold {
                    return Err(InvokeFailure::Timeout(timeout));
                }
                self.init_failed(&InitStatus::Timeout);
                Err(InvokeFailure::InitFailed(format!("no call to /runtime/invocation/next within {limit:?}")))
            }
        }
    }

    fn init_failed(&self, status: &InitStatus) {
        for line in self.log_format.init_end(self.spawned.elapsed(), status) {
            self.log.platform(line);
        }
    }

    /// Kill the child and wait until it is gone and its log lines are written.
    pub async fn shutdown(&self) {
        let kill = self
            .kill
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(kill) = kill {
            let _ = kill.send(());
        }
        let mut exited = self.exited.clone();
        let _ =
            tokio::time::timeout(Duration::from_secs(5), exited.wait_for(Option::is_some)).await;
        self.log.flush();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

impl Drop for Environment {
    /// Dropped without `shutdown` (the stack itself is dropped): kill what still runs.
    fn drop(&mut self) {
        if !self.has_exited() {
            kill_group(self.pid);
        }
    }
}

/// SIGKILL to the process group the environment's child leads (the child and everything it
/// started that stayed in its group).
fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

fn exit_text(status: Option<String>) -> String {
    status.unwrap_or_else(|| "unknown".into())
}
