//! Bytes per session entry (counted by a global allocator, so exact) for the store, the raw
//! cache crate and a plain HashMap; and the peak RSS of a process that pushes 1M sessions
//! through a 64 MiB budget.
//!
//! `cargo bench -p edge-persist-core --bench session_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use chrono::{TimeZone, Utc};
use edge_persist_core::session::{ENTRY_OVERHEAD, SessionKey, SessionStore};
use quick_cache::sync::Cache;

/// Live heap bytes as the program asked for them (malloc's own headers are not seen here).
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn keys(store: &SessionStore, n: usize) -> Vec<SessionKey> {
    (0..n)
        .map(|i| store.key(&format!("session-token-{i:018}")))
        .collect()
}

fn per_entry(n: usize, before: isize) -> f64 {
    (live() - before) as f64 / n as f64
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn peak_rss() {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let budget = 64 * 1024 * 1024;
    let base = vm_hwm_kib();
    let store = SessionStore::new(budget, 3_600_000, [2; 16]).unwrap();
    for i in 0..1_000_000usize {
        let k = store.key(&format!("session-token-{i:018}"));
        store.visit(k, now);
    }
    let s = store.stats();
    let hwm = vm_hwm_kib();
    println!(
        "peak-rss: budget {} MiB, 1,000,000 sessions visited: {} entries, {} bytes counted, {} evictions; \
         VmHWM {:.1} MiB (process before the store: {:.1} MiB); limit budget + 20 MiB = {} MiB",
        budget >> 20,
        s.entries,
        s.bytes,
        s.evictions,
        hwm as f64 / 1024.0,
        base as f64 / 1024.0,
        (budget >> 20) + 20
    );
}

fn main() {
    if std::env::args().any(|a| a == "peak-rss") {
        return peak_rss();
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    println!("ENTRY_OVERHEAD (what the store charges an empty session) = {ENTRY_OVERHEAD} bytes");
    println!("key = 16 bytes (hashed token); value = first-seen + hits + expiry + empty data");
    for n in [10_000usize, 100_000, 1_000_000] {
        let budget = n as u64 * ENTRY_OVERHEAD * 2;
        let before = live();
        let store = SessionStore::new(budget, 3_600_000, [1; 16]).unwrap();
        let ks = keys(&store, n);
        let keys_bytes = live();
        for k in &ks {
            store.visit(*k, now);
        }
        let ours = (live() - keys_bytes) as f64 / n as f64;
        let charged = store.stats().bytes as f64 / n as f64;
        drop(store);
        let _ = before;

        let before = live();
        let raw: Cache<SessionKey, Arc<[u64; 3]>> = Cache::new(n);
        for k in &ks {
            raw.insert(*k, Arc::new([0; 3]));
        }
        let raw_bytes = per_entry(n, before);
        drop(raw);

        let before = live();
        let mut map: HashMap<SessionKey, [u64; 3]> = HashMap::new();
        for k in &ks {
            map.insert(*k, [0; 3]);
        }
        let map_bytes = per_entry(n, before);
        drop(map);
        println!(
            "n={n:>9}: store {ours:6.1} B/entry (charged {charged:6.1}), quick_cache<key, Arc<24 B>> {raw_bytes:6.1}, HashMap<key, 24 B> {map_bytes:6.1}"
        );
    }
    let exe = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(exe)
        .arg("peak-rss")
        .output()
        .expect("re-run for peak RSS");
    print!("{}", String::from_utf8_lossy(&out.stdout));
}
