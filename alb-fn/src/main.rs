use std::sync::Arc;

use alb_fn::{AlbState, handler, random_id};
use lambda_runtime::{Error, Runtime, layers::TracingLayer, service_fn};

/// The allocator and the runtime are fn-main's (shared with the other function binary).
fn main() -> Result<(), Error> {
    fn_main::runtime()?.block_on(run())
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
