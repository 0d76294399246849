//! The article's origin-request function, in Rust, for CloudFront request events.
//!
//! State is one [`EdgeState`] per process, built before the runtime starts: the process is one
//! Lambda execution environment, so the persisted value and the sessions live exactly as long
//! as it does.

use chrono::{DateTime, Utc};
use edge_persist_core::cloudfront::Request;
use edge_persist_core::{Config, EdgeError, EdgeFunction, Handled, Init, InitError, id_from_bytes};
use lambda_runtime::{BoxFuture, Diagnostic, Error, LambdaEvent, SnapStartResource};
use serde_json::Value;
use serde_json::value::RawValue;

/// Everything one execution environment keeps between invocations. `Send + Sync`: Lambda
/// Managed Instances run several invocations at once in one environment.
#[derive(Debug)]
pub struct EdgeState {
    pub edge: EdgeFunction,
}

impl EdgeState {
    pub fn new(config: Config, init: Init) -> Result<Self, InitError> {
        Ok(Self {
            edge: EdgeFunction::new(config, init)?,
        })
    }

    /// Config from the `EDGE_PERSIST_*` environment variables, identity from the OS RNG, memory
    /// from `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`. An invalid config fails here, at init.
    pub fn from_env() -> Result<Self, Error> {
        let config = Config::from_lookup(|k| std::env::var(k).ok())?;
        let init = Init {
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "edge-fn".into()),
            environment_id: id_from_bytes(random_bytes()?),
            session_secret: random_bytes()?,
            memory_mb: std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .ok()
                .and_then(|m| m.parse().ok()),
            now: Utc::now(),
        };
        Ok(Self::new(config, init)?)
    }
}

impl SnapStartResource for EdgeState {
    /// Every environment restored from one snapshot would otherwise share the id made at init.
    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.edge.reset(id_from_bytes(random_bytes()?), Utc::now());
            let id = self.edge.environment().id();
            tracing::info!(environment_id = %id, "SnapStart restore: new environment identity");
            Ok(())
        })
    }
}

/// 128 bits from the OS RNG.
pub fn random_bytes() -> Result<[u8; 16], getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// An [`EdgeError`] as a Lambda error, with the stable `error_type` of [`EdgeError::kind`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct HandlerError(#[from] pub EdgeError);

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.0.kind().to_owned(),
            error_message: e.0.to_string(),
        }
    }
}

/// An event as the handler takes it: its JSON text (what the runtime hands the function), or
/// JSON already parsed (tests, fuzzing). Both give the same result and the same errors.
pub trait EventPayload {
    fn handle(self, edge: &EdgeFunction, now: DateTime<Utc>) -> Result<Handled, EdgeError>;
}

impl EventPayload for Value {
    fn handle(self, edge: &EdgeFunction, now: DateTime<Utc>) -> Result<Handled, EdgeError> {
        edge.handle(self, now)
    }
}

/// The text, parsed straight into the typed event ([`EdgeFunction::handle_json`]).
impl EventPayload for Box<RawValue> {
    fn handle(self, edge: &EdgeFunction, now: DateTime<Utc>) -> Result<Handled, EdgeError> {
        edge.handle_json(self.get(), now)
    }
}

/// The Lambda handler: the event arrives as JSON text so that a malformed one becomes an
/// `InvalidEvent` error the caller can read, never a panic.
pub async fn handler(
    state: &EdgeState,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Request, HandlerError> {
    handle_at(state, event, Utc::now())
}

/// [`handler`] with the clock passed in.
pub fn handle_at(
    state: &EdgeState,
    event: LambdaEvent<impl EventPayload>,
    now: DateTime<Utc>,
) -> Result<Request, HandlerError> {
    let (payload, context) = event.into_parts();
    match payload.handle(&state.edge, now) {
        Ok(handled) => {
            let inv = &handled.invocation;
            tracing::info!(
                request_id = %context.request_id,
                cf_request_id = handled.cf_request_id.as_deref().unwrap_or(""),
                event_type = handled.event_type.as_str(),
                environment_id = %inv.environment_id,
                start = inv.temperature(),
                invocation = inv.number,
                persisted = %inv.persisted,
                session_hits = handled.session.as_ref().map(|v| v.hits),
                "invocation"
            );
            if let Some(line) = &handled.metrics {
                // EMF must be a JSON object alone on its line, not inside a tracing record.
                println!("{line}");
            }
            Ok(handled.request)
        }
        Err(e) => {
            let environment_id = state.edge.environment().id();
            tracing::warn!(request_id = %context.request_id, %environment_id, error_type = e.kind(), error = %e, "invocation failed");
            Err(e.into())
        }
    }
}
