use std::sync::Arc;

use edge_fn::{EdgeState, handler};
use lambda_runtime::{Error, Runtime, layers::TracingLayer, service_fn};

/// The allocator and the runtime are fn-main's (shared with the other function binary).
fn main() -> Result<(), Error> {
    fn_main::runtime()?.block_on(run())
}

async fn run() -> Result<(), Error> {
    // JSON lines when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT, set by Lambda's
    // logging config, by our template and by the local stack).
    lambda_runtime::tracing::init_default_subscriber();
    // Invalid configuration stops the function at init, never at request time.
    let state = Arc::new(EdgeState::from_env()?);
    tracing::info!(environment_id = %state.edge.environment().id(), config = ?state.edge.injector().config(), "init");
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
