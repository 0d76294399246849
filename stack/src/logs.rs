//! CloudWatch Logs on disk: one file per log stream under `<run dir>/logs/<group>/<stream>`.
//!
//! Each line is `<RFC 3339 time> <message>`. A writer task per stream owns the file and reads the
//! child's pipes before the platform lines (START/END/REPORT), so a function's own output lands
//! between the START and END of the invocation that wrote it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use edge_persist_core::format_time;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// The Region the local stack pretends to run in (the edge function's group carries it).
pub const REGION: &str = "us-east-1";

/// `/aws/lambda/<name>`, or `/aws/lambda/us-east-1.<name>` for a Lambda@Edge function.
pub fn log_group(function: &str, edge: bool) -> String {
    if edge { format!("/aws/lambda/{REGION}.{function}") } else { format!("/aws/lambda/{function}") }
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
    Line(String),
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
        let file = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stream(file, rx, BufReader::new(stdout), BufReader::new(stderr)));
        Ok(Self { tx, group: group.to_owned(), name: name.to_owned(), path })
    }

    /// A platform line (START, END, REPORT, timeouts). Lost only if the writer already stopped.
    pub fn platform(&self, line: impl Into<String>) {
        let _ = self.tx.send(Message::Line(line.into()));
    }

    /// Wait until every line sent so far, and all output the child wrote before, is on disk.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        }
    }
}

async fn write_stream<O, E>(mut file: tokio::fs::File, rx: mpsc::UnboundedReceiver<Message>, out: BufReader<O>, err: BufReader<E>)
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut out = Some(out.lines());
    let mut err = Some(err.lines());
    let mut rx = Some(rx);
    while out.is_some() || err.is_some() || rx.is_some() {
        // Biased: output already in the pipes is read before a platform line, which the stack
        // only sends after the runtime answered (and so after it wrote its own lines).
        let message = tokio::select! {
            biased;
            line = next_line(&mut out) => line.map(Message::Line),
            line = next_line(&mut err) => line.map(Message::Line),
            msg = next_message(&mut rx) => msg,
        };
        match message {
            Some(Message::Line(line)) => {
                let entry = format!("{} {}\n", format_time(Utc::now()), line.trim_end_matches('\r'));
                if let Err(e) = file.write_all(entry.as_bytes()).await {
                    tracing::warn!(error = %e, "log stream write failed");
                    return;
                }
            }
            Some(Message::Flush(done)) => {
                let _ = file.flush().await;
                let _ = done.send(());
            }
            None => {}
        }
    }
    let _ = file.flush().await;
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
async fn next_line<R: AsyncRead + Unpin>(slot: &mut Option<tokio::io::Lines<BufReader<R>>>) -> Option<String> {
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
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb.div_ceil(1024))
}

/// Milliseconds with two decimals, as the REPORT line prints them.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The REPORT line. Billed Duration rounds up to the millisecond and, as Lambda has billed since
/// August 2025, includes the init phase of a cold start.
pub fn report_line(request_id: &str, duration: Duration, memory_mb: u32, max_used_mb: Option<u64>, init: Option<Duration>) -> String {
    let billed_ms = (duration + init.unwrap_or_default()).as_micros().div_ceil(1000);
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
            let first = std::fs::read_to_string(&p).ok().and_then(|s| s.lines().next().map(|l| l.split(' ').next().unwrap_or("").to_owned()));
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
        assert_eq!(warm, "REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t");
        let cold = report_line("r", Duration::from_millis(2), 128, Some(20), Some(Duration::from_micros(15_500)));
        assert!(cold.ends_with("Billed Duration: 18 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 15.50 ms\t"), "{cold}");
    }

    #[test]
    fn reads_own_peak_rss() {
        assert!(max_memory_used_mb(std::process::id()).is_some_and(|m| m > 0));
        assert_eq!(max_memory_used_mb(u32::MAX), None);
    }
}
