//! CloudWatch Logs on disk: one file per log stream under `<run dir>/logs/<group>/<stream>`.
//!
//! Each line is `<RFC 3339 time> <message>`. Every line of a stream is written after what the
//! child's pipes hold at that moment (see [`LogStream`]), so a function's own output lands between
//! the START and END of the invocation that wrote it.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use edge_persist_core::format_time;
use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::Notify;

mod lines;
pub use lines::{MAX_LINE_BYTES, Splitter, sanitize};

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

/// One log stream: its file and the child's two pipes, behind one lock. Whoever writes a line
/// (a platform line from the stack, or the watcher task with the child's output) first takes
/// everything the pipes hold, under that lock, so a function's output lands between the START
/// and END of the invocation that wrote it, with no hand-off to another task.
#[derive(Clone)]
pub struct LogStream {
    shared: Arc<Shared>,
    pub group: String,
    pub name: String,
    pub path: PathBuf,
}

struct Shared {
    sink: Mutex<Sink>,
    /// Wakes the watcher for platform lines left to it ([`LogStream::platform`]).
    queued: Notify,
}

struct Sink {
    file: Writer,
    /// The child's stdout and stderr, until each is closed.
    pipes: [Option<Pipe>; 2],
    /// Platform lines not written yet: the watcher writes them after what the pipes hold.
    queue: Vec<String>,
}

struct Pipe {
    fd: Arc<AsyncFd<File>>,
    lines: Splitter,
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
    /// Create the stream file and start its watcher over the child's stdout and stderr.
    /// `first` lines are written before anything the child printed (INIT_START).
    pub async fn open(
        logs_root: &Path,
        group: &str,
        name: &str,
        first: &[String],
        stdout: ChildStdout,
        stderr: ChildStderr,
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
        let fds = [
            pipe(stdout.into_owned_fd()?)?,
            pipe(stderr.into_owned_fd()?)?,
        ];
        let shared = Arc::new(Shared {
            sink: Mutex::new(Sink {
                file,
                pipes: fds.clone().map(|fd| {
                    Some(Pipe {
                        fd,
                        lines: Splitter::default(),
                    })
                }),
                queue: Vec::new(),
            }),
            queued: Notify::new(),
        });
        tokio::spawn(watch(Arc::clone(&shared), fds));
        Ok(Self {
            shared,
            group: group.to_owned(),
            name: name.to_owned(),
            path,
        })
    }

    /// A platform line (END, REPORT, timeouts), written off the caller's path by the watcher,
    /// after the output the child wrote before it. Lost only if the file cannot be written.
    pub fn platform(&self, line: impl Into<String>) {
        let mut sink = self.shared.lock();
        if sink.pipes.iter().all(Option::is_none) {
            // The child closed both pipes: the watcher is gone, and nothing can come before.
            sink.file.line(&line.into());
            return;
        }
        sink.queue.push(line.into());
        drop(sink);
        self.shared.queued.notify_one();
    }

    /// A platform line written now, by the caller, after what the pipes hold and the lines
    /// queued before it: START is on disk while the runtime still waits for its event, so none
    /// of the invocation's output can precede it.
    pub fn platform_now(&self, line: &str) {
        let mut sink = self.shared.lock();
        sink.catch_up();
        sink.file.line(line);
    }

    /// Everything the child wrote so far and every line sent so far, on disk.
    pub fn flush(&self) {
        let mut sink = self.shared.lock();
        sink.catch_up();
        let _ = sink.file.file.flush();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink {
    /// Write what the pipes hold now, then the queued platform lines.
    fn catch_up(&mut self) {
        let Self { file, pipes, queue } = self;
        let mut buf = [0u8; 16 * 1024];
        for slot in pipes.iter_mut() {
            let Some(pipe) = slot else { continue };
            // A child that writes without pause cannot hold its caller here: at most this much
            // per call (a pipe holds 64 KiB), the rest is the watcher's.
            for _ in 0..CATCH_UP_READS {
                match pipe.fd.get_ref().read(&mut buf) {
                    Ok(0) => {
                        // Closed: what is left of a line without `\n` is a line too.
                        if let Some(last) = pipe.lines.finish() {
                            file.line(&last);
                        }
                        *slot = None;
                        break;
                    }
                    Ok(n) => pipe.lines.feed(&buf[..n], |line| file.line(&line)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        if let Some(last) = pipe.lines.finish() {
                            file.line(&last);
                        }
                        *slot = None;
                        break;
                    }
                }
            }
        }
        for line in queue.drain(..) {
            file.line(&line);
        }
    }
}

/// Reads of one pipe per [`Sink::catch_up`] (of up to 16 KiB each).
const CATCH_UP_READS: usize = 64;

/// A child's pipe, non-blocking, registered with tokio's reactor for readiness only: the reads
/// are plain `read(2)` calls under the stream's lock.
fn pipe(fd: std::os::fd::OwnedFd) -> std::io::Result<Arc<AsyncFd<File>>> {
    let file = File::from(fd);
    // SAFETY: fcntl on a descriptor this function owns; no memory is passed.
    let nonblocking = unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if !nonblocking {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the `File` owns its descriptor and the `AsyncFd` owns the `File`: it stays open,
    // the same descriptor, for as long as the registration lives.
    let registered = unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) };
    Ok(Arc::new(registered.map_err(std::io::Error::from)?))
}

/// The stream's watcher: writes the child's output as it comes and the platform lines queued
/// for it, for as long as the child keeps a pipe open. A failed write is reported once and the
/// line is lost, but the pipes are read on: they are never closed under the function (it would
/// die on a broken pipe).
async fn watch(shared: Arc<Shared>, fds: [Arc<AsyncFd<File>>; 2]) {
    let [out, err] = fds;
    let (mut out, mut err) = (Some(out), Some(err));
    while out.is_some() || err.is_some() {
        let ready = tokio::select! {
            biased;
            () = shared.queued.notified() => None,
            guard = readable(out.as_deref()) => guard,
            guard = readable(err.as_deref()) => guard,
        };
        let open = {
            let mut sink = shared.lock();
            sink.catch_up();
            sink.pipes.each_ref().map(Option::is_some)
        };
        // Read to `WouldBlock` above: wait for the next edge. (A read that happened after this
        // guard was taken leaves the readiness set, so no edge is lost.)
        if let Some(mut guard) = ready {
            guard.clear_ready();
        }
        if !open[0] {
            out = None;
        }
        if !open[1] {
            err = None;
        }
    }
    // Lines queued after the last read: `platform` writes directly from now on.
    shared.lock().catch_up();
}

/// The pipe's next readiness; never, once it is closed.
async fn readable(fd: Option<&AsyncFd<File>>) -> Option<AsyncFdReadyGuard<'_, File>> {
    match fd {
        Some(fd) => fd.readable().await.ok(),
        None => std::future::pending().await,
    }
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

    /// The messages of a stream file, in order (the time before the first space dropped).
    fn messages(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect()
    }

    /// `sh -c script` (stdin piped) with its output on a new stream under a temporary root.
    async fn sh_stream(
        name: &str,
        script: &str,
        first: &[String],
    ) -> (PathBuf, tokio::process::Child, LogStream) {
        let root = std::env::temp_dir().join(format!("edge-stack-{name}-{}", std::process::id()));
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let log = LogStream::open(&root, "/g", "s", first, out, err)
            .await
            .unwrap();
        (root, child, log)
    }

    /// What the child wrote before a line written now goes before it, what it writes after goes
    /// after it, queued lines keep their place, and a last line without `\n` is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_line_lands_after_what_the_pipes_held_before_it() {
        use tokio::io::AsyncWriteExt;
        let (root, mut child, log) = sh_stream(
            "order",
            "echo one; echo two >&2; read x; echo three; printf partial",
            &["INIT".into()],
        )
        .await;
        // Both lines are in the pipes (or already written) once the child waits on stdin.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        log.platform("QUEUED");
        log.platform_now("START");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").await.unwrap();
        drop(stdin);
        child.wait().await.unwrap();
        log.platform("END");
        log.flush();
        let lines = messages(&log.path);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(lines[0], "INIT");
        let mut before: Vec<&str> = lines[1..3].iter().map(String::as_str).collect();
        before.sort_unstable();
        assert_eq!(before, ["one", "two"], "{lines:?}");
        assert_eq!(lines[3..], ["QUEUED", "START", "three", "partial", "END"]);
    }

    /// A platform line sent while the child prints on is written, and nothing is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_child_loses_no_line() {
        let (root, mut child, log) = sh_stream(
            "busy",
            "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done",
            &[],
        )
        .await;
        for i in 0..50 {
            log.platform_now(&format!("P{i}"));
            tokio::task::yield_now().await;
        }
        child.wait().await.unwrap();
        log.flush();
        let lines = messages(&log.path);
        let _ = std::fs::remove_dir_all(&root);
        let child_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("line-")).collect();
        let expected: Vec<String> = (0..3000).map(|i| format!("line-{i}")).collect();
        assert_eq!(child_lines, expected.iter().collect::<Vec<_>>());
        assert_eq!(lines.len(), 3050);
    }

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
