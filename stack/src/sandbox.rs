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
