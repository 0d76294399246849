//! How an environment is kept apart and bounded on this machine: its own /tmp, the signals that
//! freeze and thaw it, and the memory check (docs/ARCHITECTURE.md, "stack").

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::logs;

/// `<run dir>/tmp/<environment id>`: the environment's /tmp.
pub fn tmp_dir(logs_root: &Path, environment_id: &str) -> PathBuf {
    logs_root
        .parent()
        .unwrap_or(logs_root)
        .join("tmp")
        .join(environment_id)
}

/// When an environment's processes may run (docs/AWS-BEHAVIOUR.md, "The Lambda execution
/// environment"): Lambda freezes the environment once the runtime has said it is done by asking
/// for its next event (`next`) and no invocation is pending, and thaws it for the next invocation.
/// Freezing at the answer instead would stop a runtime before its `next`, and every following
/// invocation would wait for that request too. Shared by the environment (invocations) and its
/// Runtime API (`next`); the lock orders the signals with the counts.
#[derive(Debug, Default)]
pub struct Freezer {
    state: std::sync::Mutex<FreezeState>,
}

#[derive(Debug, Default)]
struct FreezeState {
    /// The child's pid while freezing is on and the child lives; never signalled otherwise.
    pid: Option<u32>,
    /// Invocations handed to the environment and not over.
    active: usize,
    /// `next` requests the runtime has waiting.
    waiting: usize,
    frozen: bool,
}

impl FreezeState {
    fn settle(&mut self) {
        if let Some(pid) = self.pid
            && !self.frozen
            && self.active == 0
            && self.waiting > 0
        {
            signal_environment(pid, libc::SIGSTOP);
            self.frozen = true;
        }
    }
}

/// The runtime waits in `next` for as long as this lives.
#[derive(Debug)]
pub struct Waiting(std::sync::Arc<Freezer>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

impl Freezer {
    fn lock(&self) -> std::sync::MutexGuard<'_, FreezeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Freeze and thaw `pid` from now on.
    pub fn arm(&self, pid: u32) {
        let mut s = self.lock();
        s.pid = Some(pid);
        s.settle();
    }

    /// The child is gone: its pid is never signalled again.
    pub fn disarm(&self) {
        self.lock().pid = None;
    }

    /// An invocation is handed to the environment: thaw it if it is frozen.
    pub fn begin(&self) {
        let mut s = self.lock();
        s.active += 1;
        if s.frozen {
            if let Some(pid) = s.pid {
                signal_environment(pid, libc::SIGCONT);
            }
            s.frozen = false;
        }
    }

    /// An invocation is over (answered, failed or given up on).
    pub fn end(&self) {
        let mut s = self.lock();
        s.active = s.active.saturating_sub(1);
        s.settle();
    }

    /// The runtime asks for its next event; it waits until the guard is dropped.
    pub fn runtime_waits(self: &std::sync::Arc<Self>) -> Waiting {
        let mut s = self.lock();
        s.waiting += 1;
        s.settle();
        Waiting(std::sync::Arc::clone(self))
    }
}

/// Signal the environment: its process group when the child leads one (all its processes), else
/// the child alone (never the stack's own group).
pub fn signal_environment(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 0 {
        return;
    }
    // SAFETY: getpgid and kill take plain integers and touch no memory of ours.
    unsafe {
        let target = if libc::getpgid(pid) == pid { -pid } else { pid };
        libc::kill(target, signal);
    }
}

/// Resolves once the process's peak resident memory passes `limit_mb` (polled; see
/// docs/PERFORMANCE.md for what the polling costs).
pub async fn memory_exceeded(memory: &logs::MemoryProbe, limit_mb: u32) {
    // The first check after one period: an invocation shorter than that costs no read here
    // (the REPORT line reads the peak once at its end anyway, and that read is checked too).
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + MEMORY_POLL, MEMORY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if memory
            .max_used_mb()
            .is_some_and(|m| m > u64::from(limit_mb))
        {
            return;
        }
    }
}

/// How often the memory of a running invocation is checked.
const MEMORY_POLL: Duration = Duration::from_millis(10);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The process's state letter in `/proc/<pid>/stat` once it is `want` (or what it is after
    /// a second of waiting): `T` stopped, `S` sleeping.
    fn state(pid: u32, want: char) -> char {
        let read = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name.chars().next().unwrap()
        };
        for _ in 0..100 {
            if read() == want {
                return want;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        read()
    }

    #[test]
    fn frozen_only_while_the_runtime_waits_with_nothing_to_do() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let freezer = Arc::new(Freezer::default());
        freezer.arm(pid);
        freezer.begin();
        // The runtime asks for its next event while an invocation is still being answered.
        let waiting = freezer.runtime_waits();
        assert_eq!(state(pid, 'S'), 'S', "an invocation is not over yet");
        freezer.end();
        assert_eq!(state(pid, 'T'), 'T', "done and waiting: frozen");
        freezer.begin();
        assert_eq!(state(pid, 'S'), 'S', "thawed for the next invocation");
        drop(waiting);
        freezer.end();
        assert_eq!(
            state(pid, 'S'),
            'S',
            "over, but the runtime has not asked for more yet"
        );
        let again = freezer.runtime_waits();
        assert_eq!(state(pid, 'T'), 'T', "it asked: frozen");
        freezer.disarm();
        freezer.begin();
        assert_eq!(state(pid, 'S'), 'T', "a disarmed freezer signals nothing");
        drop(again);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
