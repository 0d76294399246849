use std::sync::Arc;

use alb_fn::{AlbState, handler, random_id};
use lambda_runtime::{Error, Runtime, layers::TracingLayer, service_fn};

/// One invocation at a time (classic Lambda): a single-threaded runtime, with no worker threads
/// to start at init or to hand each invocation between. Several at once (Lambda Managed
/// Instances): tokio's multi-threaded one. docs/PERFORMANCE.md measures the difference.
fn main() -> Result<(), Error> {
    let runtime = match edge_persist_core::max_concurrency(|k| std::env::var(k).ok()) {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let state = Arc::new(AlbState::from_env(random_id()?)?);
    tracing::info!(environment_id = %state.env.id(), "init");
    let shared = Arc::clone(&state);
    let service = service_fn(move |event| {
        let state = Arc::clone(&shared);
        async move { handler(&state, event).await }
    });
    Runtime::new(service)
        .layer(TracingLayer::new())
        .register_snapstart_resource(state)
        .run_concurrent()
        .await
}
