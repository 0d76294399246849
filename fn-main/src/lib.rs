//! What both function binaries (edge-fn, alb-fn) set up before their handler runs: the
//! process's allocator and its async runtime, in one place so the two `main`s cannot drift.

/// The static musl build (what Lambda runs from the zip, and what the local stack runs) takes
/// dlmalloc instead of musl's own malloc: musl's returns freed memory to the kernel so eagerly
/// that a warm invocation made 1.3 `mmap` + `munmap` pairs, and cost 80 us against 67 us with
/// dlmalloc (docs/PERFORMANCE.md). The glibc build keeps glibc's malloc, which is faster still.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// One invocation at a time (classic Lambda): a single-threaded runtime, with no worker threads
/// to start at init or to hand each invocation between. Several at once (Lambda Managed
/// Instances): tokio's multi-threaded one. docs/PERFORMANCE.md measures the difference.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    match edge_persist_core::max_concurrency(|k| std::env::var(k).ok()) {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
}
