//! CloudWatch Logs on disk: one file per log stream under `<run dir>/logs/<group>/<stream>`.
//!
//! Each line is `<RFC 3339 time> <message>`. A writer task per stream owns the file and reads the
//! child's pipes before the platform lines (START/END/REPORT), so a function's own output lands
//! between the START and END of the invocation that wrote it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use edge_persist_core::format_time;
use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

/// The Region the local stack pretends to run in (the edge function's group carries it).
pub const REGION: &str = "us-east-1";

/// `/aws/lambda/<name>`, or `/aws/lambda/us-east-1.<name>` for a Lambda@Edge function.
pub fn log_group(function: &str, edge: bool) -> String {
    if edge {
        format!("/aws/lambda/{REGION}.{function}")
    } else {
        format!("/aws/lambda/{function}")
    }
}

/// `YYYY/MM/DD/[$LATEST]<environment id>`, as Lambda names an environment's stream.
pub fn stream_name(created: DateTime<Utc>, environment_id: &str) -> String {
    format!("{}/[$LATEST]{environment_id}", created.format("%Y/%m/%d"))
}

/// Directory holding a group's streams.
pub fn group_dir(logs_root: &Path, group: &str) -> PathBuf {
    logs_root.join(group.trim_start_matches('/'))
}

/// Message a stream writer takes besides the child's output.
enum Message {
    /// A platform line, answered (when asked) once it is on disk.
    Line(String, Option<oneshot::Sender<()>>),
    /// Answered once everything sent before it is on disk.
    Flush(oneshot::Sender<()>),
}

/// Sending side of one stream; cheap to clone.
#[derive(Clone)]
pub struct LogStream {
    tx: mpsc::UnboundedSender<Message>,
    pub group: String,
    pub name: String,
    pub path: PathBuf,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("group", &self.group)
            .field("name", &self.name)
            .finish()
    }
}

impl LogStream {
    /// Create the stream file and start its writer over the child's stdout and stderr.
    pub async fn open(
        logs_root: &Path,
        group: &str,
        name: &str,
        stdout: impl AsyncRead + Unpin + Send + 'static,
        stderr: impl AsyncRead + Unpin + Send + 'static,
    ) -> std::io::Result<Self> {
        let path = group_dir(logs_root, group).join(name);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await?
            .into_std()
            .await;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stream(
            file,
            rx,
            BufReader::new(stdout),
            BufReader::new(stderr),
        ));
        Ok(Self {
            tx,
            group: group.to_owned(),
            name: name.to_owned(),
            path,
        })
    }

    /// A platform line (END, REPORT, timeouts). Output the child wrote before it is written
    /// first. Lost only if the writer already stopped.
    pub fn platform(&self, line: impl Into<String>) {
        let _ = self.tx.send(Message::Line(line.into(), None));
    }

    /// A platform line that must be on disk before the caller goes on: START is written while
    /// the runtime still waits for its event, so none of the invocation's output can precede it.
    pub async fn platform_now(&self, line: impl Into<String>) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Line(line.into(), Some(tx))).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), rx).await;
        }
    }

    /// Wait until every line sent so far, and all output the child wrote before, is on disk.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        }
    }
}

async fn write_stream<O, E>(
    mut file: std::fs::File,
    rx: mpsc::UnboundedReceiver<Message>,
    out: BufReader<O>,
    err: BufReader<E>,
) where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut out = Some(out.lines());
    let mut err = Some(err.lines());
    let mut rx = Some(rx);
    while out.is_some() || err.is_some() || rx.is_some() {
        let message = tokio::select! {
            biased;
            msg = next_message(&mut rx) => msg,
            line = next_line(&mut out) => line.map(|l| Message::Line(l, None)),
            line = next_line(&mut err) => line.map(|l| Message::Line(l, None)),
        };
        let Some(message) = message else { continue };
        // A platform line is sent after the output it must follow was written to the pipes (the
        // runtime logs before it answers): read whatever the pipes hold first.
        loop {
            let pending = tokio::select! {
                biased;
                line = next_line(&mut out) => line,
                line = next_line(&mut err) => line,
                () = std::future::ready(()) => break,
            };
            if let Some(line) = pending {
                if !write_line(&mut file, &line) {
                    return;
                }
            }
        }
        match message {
            Message::Line(line, ack) => {
                if !write_line(&mut file, &line) {
                    return;
                }
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
            }
            Message::Flush(done) => {
                let _ = file.flush();
                let _ = done.send(());
            }
        }
    }
    let _ = file.flush();
}

/// One `<time> <message>` line. A plain write(2) to the page cache: cheaper than the round trip
/// to tokio's blocking pool that `tokio::fs` makes for every call.
fn write_line(file: &mut std::fs::File, line: &str) -> bool {
    let entry = format!(
        "{} {}\n",
        format_time(Utc::now()),
        line.trim_end_matches('\r')
    );
    match file.write_all(entry.as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "log stream write failed");
            false
        }
    }
}

async fn next_message(slot: &mut Option<mpsc::UnboundedReceiver<Message>>) -> Option<Message> {
    let Some(rx) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let msg = rx.recv().await;
    if msg.is_none() {
        *slot = None;
    }
    msg
}

/// Next line of a pipe; a closed pipe turns the slot off and never resolves again.
async fn next_line<R: AsyncRead + Unpin>(
    slot: &mut Option<tokio::io::Lines<BufReader<R>>>,
) -> Option<String> {
    let Some(lines) = slot.as_mut() else {
        return std::future::pending().await;
    };
    match lines.next_line().await {
        Ok(Some(line)) => Some(line),
        _ => {
            *slot = None;
            None
        }
    }
}

/// Peak resident set size of a live process in MB, as Lambda's "Max Memory Used" reports it.
pub fn max_memory_used_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

/// Milliseconds with two decimals, as the REPORT line prints them.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `AWS_LAMBDA_LOG_FORMAT`: the format the functions are told to log in, and the format of the
/// platform lines. `Json` is what the project recommends (one JSON object per line); `Text` is
/// Lambda's own default with the classic START / END / REPORT lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    Text,
    #[default]
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

/// What the REPORT line (or `platform.report` record) says about one invocation.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_mb: u32,
    pub max_used_mb: Option<u64>,
    /// Only on a cold start.
    pub init: Option<Duration>,
    /// `success`, `error`, `timeout` or `failure` (the runtime exited).
    pub status: &'a str,
}

fn round2(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

impl LogFormat {
    /// The value of `AWS_LAMBDA_LOG_FORMAT`.
    pub fn env_value(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Json => "JSON",
        }
    }

    fn record(kind: &str, record: serde_json::Value) -> String {
        serde_json::json!({"time": format_time(Utc::now()), "type": kind, "record": record})
            .to_string()
    }

    pub fn start(self, request_id: &str) -> String {
        match self {
            Self::Text => format!("START RequestId: {request_id} Version: $LATEST"),
            Self::Json => Self::record(
                "platform.start",
                serde_json::json!({"requestId": request_id, "version": "$LATEST"}),
            ),
        }
    }

    /// END in text; in JSON the end of an invocation is the `platform.runtimeDone` record.
    pub fn end(self, request_id: &str, status: &str) -> String {
        match self {
            Self::Text => format!("END RequestId: {request_id}"),
            Self::Json => Self::record(
                "platform.runtimeDone",
                serde_json::json!({"requestId": request_id, "status": status}),
            ),
        }
    }

    pub fn report(self, r: &Report<'_>) -> String {
        match self {
            Self::Text => report_line(r.request_id, r.duration, r.memory_mb, r.max_used_mb, r.init),
            Self::Json => {
                let mut metrics = serde_json::json!({
                    "durationMs": round2(r.duration),
                    "billedDurationMs": billed_ms(r.duration, r.init),
                    "memorySizeMB": r.memory_mb,
                    "maxMemoryUsedMB": r.max_used_mb,
                });
                if let Some(init) = r.init {
                    metrics["initDurationMs"] = serde_json::json!(round2(init));
                }
                Self::record(
                    "platform.report",
                    serde_json::json!({"requestId": r.request_id, "metrics": metrics, "status": r.status}),
                )
            }
        }
    }
}

fn billed_ms(duration: Duration, init: Option<Duration>) -> u128 {
    (duration + init.unwrap_or_default())
        .as_micros()
        .div_ceil(1000)
}

/// The REPORT line. Billed Duration rounds up to the millisecond and, as Lambda has billed since
/// August 2025, includes the init phase of a cold start.
pub fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_used_mb: Option<u64>,
    init: Option<Duration>,
) -> String {
    let billed_ms = billed_ms(duration, init);
    let used = max_used_mb.map_or_else(|| "-".to_owned(), |m| m.to_string());
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {} ms\tBilled Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used} MB\t",
        ms(duration)
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {} ms\t", ms(init)));
    }
    line
}

/// Every stream file of a group, oldest first (by the first line's time, then name).
pub fn streams(logs_root: &Path, group: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect_files(&group_dir(logs_root, group), &mut found)?;
    let mut keyed: Vec<(String, PathBuf)> = found
        .into_iter()
        .map(|p| {
            let first = std::fs::read_to_string(&p).ok().and_then(|s| {
                s.lines()
                    .next()
                    .map(|l| l.split(' ').next().unwrap_or("").to_owned())
            });
            (first.unwrap_or_default(), p)
        })
        .collect();
    keyed.sort();
    Ok(keyed.into_iter().map(|(_, p)| p).collect())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_follow_lambda() {
        assert_eq!(log_group("edge-fn", true), "/aws/lambda/us-east-1.edge-fn");
        assert_eq!(log_group("alb-fn", false), "/aws/lambda/alb-fn");
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 1, 2, 3).unwrap();
        assert_eq!(stream_name(t, "abc"), "2026/11/27/[$LATEST]abc");
    }

    #[test]
    fn report_has_init_only_when_cold() {
        let warm = report_line("r", Duration::from_micros(1_234), 128, Some(20), None);
        assert_eq!(
            warm,
            "REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"
        );
        let cold = report_line(
            "r",
            Duration::from_millis(2),
            128,
            Some(20),
            Some(Duration::from_micros(15_500)),
        );
        assert!(cold.ends_with("Billed Duration: 18 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 15.50 ms\t"), "{cold}");
    }

    #[test]
    fn json_records_carry_the_same_metrics() {
        let r = Report {
            request_id: "r",
            duration: Duration::from_micros(1_234),
            memory_mb: 128,
            max_used_mb: Some(20),
            init: Some(Duration::from_micros(15_500)),
            status: "success",
        };
        let v: serde_json::Value = serde_json::from_str(&LogFormat::Json.report(&r)).unwrap();
        assert_eq!(v["type"], "platform.report");
        let m = &v["record"]["metrics"];
        assert_eq!(
            (
                m["durationMs"].as_f64(),
                m["billedDurationMs"].as_u64(),
                m["initDurationMs"].as_f64()
            ),
            (Some(1.23), Some(17), Some(15.5))
        );
        let warm = LogFormat::Json.report(&Report { init: None, ..r });
        assert!(!warm.contains("initDurationMs"), "{warm}");
        assert_eq!("TEXT".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn reads_own_peak_rss() {
        assert!(max_memory_used_mb(std::process::id()).is_some_and(|m| m > 0));
        assert_eq!(max_memory_used_mb(u32::MAX), None);
    }
}
