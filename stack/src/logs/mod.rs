//! CloudWatch Logs on disk: one file per log stream under `<run dir>/logs/<group>/<stream>`.
//!
//! Each line is `<RFC 3339 time> <message>`. A writer task per stream owns the file and reads the
//! child's pipes before the platform lines (START/END/REPORT), so a function's own output lands
//! between the START and END of the invocation that wrote it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::io::Write;

use chrono::{DateTime, Utc};
use edge_persist_core::format_time;

use tokio::io::AsyncRead;

mod lines;
pub use lines::{LineReader, MAX_LINE_BYTES, sanitize};
use tokio::sync::{mpsc, oneshot};

pub mod format;
pub mod tail;

pub use format::{InitStatus, LogFormat, Report, Status, ms, report_line};
pub use tail::tail;

/// The Region the local stack pretends to run in (the edge function's group carries it).
pub const REGION: &str = "us-east-1";

/// The account the local stack pretends to run in (its ARNs and the template's
/// `AWS::AccountId`).
pub const ACCOUNT_ID: &str = "123456789012";

/// `/aws/lambda/<name>`, or `/aws/lambda/us-east-1.<name>` for a Lambda@Edge function.
pub fn log_group(function: &str, edge: bool) -> String {
    if edge {
        format!("/aws/lambda/{REGION}.{function}")
    } else {
        format!("/aws/lambda/{function}")
    }
}

/// `YYYY/MM/DD/[<version>]<environment id>`, as Lambda names an environment's stream.
pub fn stream_name(created: DateTime<Utc>, version: &str, environment_id: &str) -> String {
    format!("{}/[{version}]{environment_id}", created.format("%Y/%m/%d"))
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
    /// `first` lines are written before anything the child printed (INIT_START).
    pub async fn open(
        logs_root: &Path,
        group: &str,
        name: &str,
        first: &[String],
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
        let mut file = Writer {
            file,
            failed: false,
        };
        for line in first {
            file.line(line);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stream(
            file,
            rx,
            LineReader::new(stdout),
            LineReader::new(stderr),
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

/// The stream's writer. It reads the child's pipes for as long as the child keeps them open,
/// whatever happens to the file: a failed write is reported once and the line is lost, but the
/// pipes are never closed under the function (it would die on a broken pipe).
async fn write_stream<O, E>(
    mut file: Writer,
    rx: mpsc::UnboundedReceiver<Message>,
    out: LineReader<O>,
    err: LineReader<E>,
) where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut out = Some(out);
    let mut err = Some(err);
    let mut rx = Some(rx);
    while out.is_some() || err.is_some() || rx.is_some() {
        let message = tokio::select! {
            biased;
            msg = next_message(&mut rx) => msg,
            // The child's own lines are written as they are read, in order.
            line = next_line(&mut out) => {
                if let Some(line) = line {
                    file.line(&line);
                }
                continue;
            }
            line = next_line(&mut err) => {
                if let Some(line) = line {
                    file.line(&line);
                }
                continue;
            }
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
                file.line(&line);
            }
        }
        match message {
            Message::Line(line, ack) => {
                file.line(&line);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
            }
            Message::Flush(done) => {
                let _ = file.file.flush();
                let _ = done.send(());
            }
        }
    }
    let _ = file.file.flush();
}

struct Writer {
    file: std::fs::File,
    /// A write failed already (reported once).
    failed: bool,
}

impl Writer {
    /// One `<time> <message>` line, control characters escaped (see [`sanitize`]). A plain
    /// write(2) to the page cache: cheaper than the round trip to tokio's blocking pool that
    /// `tokio::fs` makes for every call.
    fn line(&mut self, line: &str) {
        let entry = format!(
            "{} {}\n",
            format_time(Utc::now()),
            sanitize(line.trim_end_matches('\r'))
        );
        if let Err(e) = self.file.write_all(entry.as_bytes())
            && !std::mem::replace(&mut self.failed, true)
        {
            tracing::warn!(error = %e, "log stream write failed; lines are lost until it works again");
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
async fn next_line<R: AsyncRead + Unpin>(slot: &mut Option<LineReader<R>>) -> Option<String> {
    let Some(lines) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let line = lines.next_line().await;
    if line.is_none() {
        *slot = None;
    }
    line
}

/// Delete the log streams an earlier run wrote in `groups` (`YYYY/MM/DD/[$LATEST]<hex id>`
/// files) and the date directories they leave empty; any other file stays.
pub fn clear_streams(logs_root: &Path, groups: &[String]) -> std::io::Result<()> {
    for group in groups {
        let dir = group_dir(logs_root, group);
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        collect_files(&dir, &mut files)?;
        for file in files {
            let Ok(relative) = file.strip_prefix(&dir) else {
                continue;
            };
            if is_stream_path(relative) {
                std::fs::remove_file(&file)?;
                // Date directories, deepest first, while empty (remove_dir refuses otherwise).
                for parent in file.ancestors().skip(1).take(3) {
                    if std::fs::remove_dir(parent).is_err() {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

/// `YYYY/MM/DD/[<version>]<hex>` (`$LATEST` or a numbered version), as `stream_name` makes them.
fn is_stream_path(relative: &Path) -> bool {
    let parts: Vec<_> = relative.iter().filter_map(|p| p.to_str()).collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let version =
        |v: &str| v == "$LATEST" || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    matches!(parts.as_slice(), [y, m, d, name]
    if digits(y, 4) && digits(m, 2) && digits(d, 2)
        && name.strip_prefix('[').and_then(|rest| rest.split_once(']')).is_some_and(|(v, id)| {
            version(v) && !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
        }))
}

/// Peak resident set size of a live process in MB, as Lambda's "Max Memory Used" reports it.
pub fn max_memory_used_mb(pid: u32) -> Option<u64> {
    MemoryProbe::open(pid)?.max_used_mb()
}

/// A process's `/proc/<pid>/status`, opened once and read again from its start for each look
/// at the peak (`VmHWM`): the warm path reads it after every invocation, and the open and close
/// of the path were half the cost of a read (docs/PERFORMANCE.md).
#[derive(Debug)]
pub struct MemoryProbe {
    status: std::fs::File,
}

impl MemoryProbe {
    pub fn open(pid: u32) -> Option<Self> {
        let status = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
        Some(Self { status })
    }

    /// Peak RSS in MB, rounded up; `None` once the process is gone.
    pub fn max_used_mb(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        // VmHWM is in the first kilobyte of the file; the whole of it is about 1.5 KB.
        let mut buf = [0u8; 4096];
        let n = self.status.read_at(&mut buf, 0).ok()?;
        let status = std::str::from_utf8(&buf[..n]).ok()?;
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
        assert_eq!(stream_name(t, "$LATEST", "abc"), "2026/11/27/[$LATEST]abc");
        assert_eq!(stream_name(t, "1", "abc"), "2026/11/27/[1]abc");
    }

    #[test]
    fn clearing_removes_old_streams_and_nothing_else() {
        let root = std::env::temp_dir().join(format!("edge-stack-clear-{}", std::process::id()));
        let group = log_group("alb-fn", false);
        let dir = group_dir(&root, &group);
        let stream = dir.join("2026/11/27/[$LATEST]0123abcd");
        let day = dir.join("2026/11/28");
        let kept = [
            root.join("mine.txt"),
            dir.join("notes.txt"),
            day.join("[$LATEST]not-hex"),
            group_dir(&root, "/aws/lambda/other").join("2026/11/27/[$LATEST]00ff"),
        ];
        for f in kept.iter().chain([&stream]) {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "x").unwrap();
        }
        clear_streams(&root, &[group]).unwrap();
        assert!(!stream.exists());
        assert!(
            !dir.join("2026/11/27").exists(),
            "its empty date directory went too"
        );
        for f in &kept {
            assert!(f.exists(), "{} was not the stack's", f.display());
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn reads_own_peak_rss() {
        assert!(max_memory_used_mb(std::process::id()).is_some_and(|m| m > 0));
        assert_eq!(max_memory_used_mb(u32::MAX), None);
    }

    #[test]
    fn a_kept_probe_sees_the_peak_grow_and_the_process_go() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let probe = MemoryProbe::open(child.id()).unwrap();
        assert!(probe.max_used_mb().is_some_and(|m| m > 0));
        // Read again from the start: the same answer, not the end of the file.
        assert!(probe.max_used_mb().is_some_and(|m| m > 0));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(probe.max_used_mb(), None, "a reaped process has no peak");

        let own = MemoryProbe::open(std::process::id()).unwrap();
        let before = own.max_used_mb().unwrap();
        let big = vec![1u8; 64 * 1024 * 1024];
        std::hint::black_box(&big);
        assert!(
            own.max_used_mb().unwrap() >= before + 60,
            "the peak grew by 64 MB"
        );
    }
}
