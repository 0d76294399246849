//! Allocations per native edge-fn core call, for docs/PERFORMANCE.md ("Fewer allocations in the
//! event types"), not a test: nothing here is asserted. `cargo bench -p edge-persist-tests
//! --bench allocations` prints a Markdown table.
//!
//! The same steps as the `runtimes` bench's step-by-step table (its `EDGE_PERSIST_BENCH=native`
//! mode), on the same 1.7 KB origin-request fixture, each counted through a global allocator
//! that counts calls and hands them on: to the system allocator (glibc's malloc on this host,
//! what the `runtimes` bench measures time with), or with `--features dlmalloc` to dlmalloc, what
//! the shipped static musl binary uses (fn-main). It then times the whole call under that
//! allocator, as the `runtimes` bench does (median of 7 rounds x 20,000 calls; the counting
//! costs two relaxed atomic adds per allocation in both builds).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::Utc;
use edge_fn::{EdgeState, handle_at};
use edge_persist_core::Config;
use edge_persist_core::cloudfront::CloudFrontEvent;
use edge_persist_tests::{fixtures_dir, init};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::value::RawValue;

#[cfg(not(feature = "dlmalloc"))]
const INNER: std::alloc::System = std::alloc::System;
#[cfg(feature = "dlmalloc")]
const INNER: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
#[cfg(not(feature = "dlmalloc"))]
const INNER_NAME: &str = "the system allocator (glibc malloc)";
#[cfg(feature = "dlmalloc")]
const INNER_NAME: &str = "dlmalloc (as the shipped musl binary)";

/// [`INNER`], counting new blocks (`alloc`, `alloc_zeroed`) and moves (`realloc`).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed unchanged to `INNER`, which upholds `GlobalAlloc`'s contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { INNER.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { INNER.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(
            new_size.saturating_sub(layout.size()) as u64,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { INNER.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, reallocations, bytes) per call of `f`, averaged over `calls` after a warm-up.
fn count(f: &dyn Fn()) -> (f64, f64, f64) {
    const CALLS: u64 = 1000;
    for _ in 0..100 {
        f();
    }
    let read = || {
        (
            ALLOCS.load(Ordering::Relaxed),
            REALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        )
    };
    let (a0, r0, b0) = read();
    for _ in 0..CALLS {
        f();
    }
    let (a1, r1, b1) = read();
    let per = |d: u64| d as f64 / CALLS as f64;
    (per(a1 - a0), per(r1 - r0), per(b1 - b0))
}

fn main() {
    // `cargo test --all-targets` runs bench binaries too: count only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "allocations: a benchmark report; run `cargo bench -p edge-persist-tests --bench allocations`"
        );
        return;
    }
    let state = EdgeState::new(Config::default(), init("bench", Utc::now())).unwrap();
    let bytes = std::fs::read(fixtures_dir().join("cloudfront-origin-request.json")).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    let now = Utc::now();
    let answer = state.edge.handle_json(text, now).unwrap().request;
    let steps: [(&str, &dyn Fn()); 5] = [
        (
            "the whole call: `Box<RawValue>` -> `handle_at` -> `serde_json::to_vec` (the `runtimes` bench's loop)",
            &|| {
                let e: Box<RawValue> = serde_json::from_slice(&bytes).unwrap();
                let req = handle_at(&state, LambdaEvent::new(e, Context::default()), now).unwrap();
                std::hint::black_box(serde_json::to_vec(&req).unwrap());
            },
        ),
        (
            "`serde_json::from_str::<Box<RawValue>>` (the runtime's step)",
            &|| {
                std::hint::black_box(serde_json::from_str::<Box<RawValue>>(text).unwrap());
            },
        ),
        (
            "`serde_json::from_str::<CloudFrontEvent>` (typed parse alone)",
            &|| {
                std::hint::black_box(serde_json::from_str::<CloudFrontEvent>(text).unwrap());
            },
        ),
        (
            "`EdgeFunction::handle_json` (parse, invocation, session, headers)",
            &|| {
                std::hint::black_box(state.edge.handle_json(text, now).unwrap());
            },
        ),
        ("`serde_json::to_vec` of the answer", &|| {
            std::hint::black_box(serde_json::to_vec(&answer).unwrap());
        }),
    ];
    println!(
        "\n| per call, 1.7 KB origin-request (mean of 1,000 calls) | allocations | reallocations | bytes |\n|---|---|---|---|"
    );
    for (step, f) in &steps {
        let (allocs, reallocs, bytes) = count(f);
        println!("| {step} | {allocs:.1} | {reallocs:.1} | {bytes:.0} |");
    }
    let whole = steps[0].1;
    let mut rounds: Vec<f64> = (0..8)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..20_000 {
                whole();
            }
            start.elapsed().as_nanos() as f64 / 20_000.0
        })
        .skip(1)
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!(
        "\nthe whole call under {INNER_NAME}: {:.0} ns/call (median of 7 rounds x 20,000 calls after one warm-up round; rounds {rounds:.0?})",
        rounds[rounds.len() / 2]
    );
}
