//! The article's origin-request function, in Rust, for CloudFront request events.
//!
//! State is one [`EdgeState`] per process, built before the runtime starts: the process is one
//! Lambda execution environment, so the persisted value lives exactly as long as it does.

use chrono::{DateTime, Utc};
use edge_persist_core::cloudfront::Request;
use edge_persist_core::{
    Config, ConfigError, EdgeError, Environment, Injector, handle_event, id_from_bytes,
};
use lambda_runtime::{BoxFuture, Diagnostic, Error, LambdaEvent, SnapStartResource};
use serde_json::Value;

/// Everything one execution environment keeps between invocations. `Send + Sync`: Lambda
/// Managed Instances run several invocations at once in one environment.
#[derive(Debug)]
pub struct EdgeState {
    pub injector: Injector,
    pub env: Environment,
}

impl EdgeState {
    pub fn new(injector: Injector, environment_id: String) -> Self {
        Self {
            injector,
            env: Environment::new(environment_id, Utc::now()),
        }
    }

    /// Config from the `EDGE_PERSIST_*` environment variables; an invalid one fails at start.
    pub fn from_env(environment_id: String) -> Result<Self, ConfigError> {
        let injector = Config::from_lookup(|k| std::env::var(k).ok())?.validate()?;
        Ok(Self::new(injector, environment_id))
    }
}

impl SnapStartResource for EdgeState {
    /// Every environment restored from one snapshot would otherwise share the id made at init.
    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.env.reset(random_id()?, Utc::now());
            tracing::info!(environment_id = %self.env.id(), "SnapStart restore: new environment identity");
            Ok(())
        })
    }
}

/// 128 random bits from the OS as 32 lowercase hex digits.
pub fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(id_from_bytes(bytes))
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

/// The Lambda handler: the event arrives as JSON so that a malformed one becomes an
/// `InvalidEvent` error the caller can read, never a panic.
pub async fn handler(
    state: &EdgeState,
    event: LambdaEvent<Value>,
) -> Result<Request, HandlerError> {
    handle_at(state, event, Utc::now())
}

/// [`handler`] with the clock passed in.
pub fn handle_at(
    state: &EdgeState,
    event: LambdaEvent<Value>,
    now: DateTime<Utc>,
) -> Result<Request, HandlerError> {
    let (payload, context) = event.into_parts();
    match handle_event(&state.injector, &state.env, payload, now) {
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
                "invocation"
            );
            Ok(handled.request)
        }
        Err(e) => {
            tracing::warn!(request_id = %context.request_id, environment_id = %state.env.id(), error_type = e.kind(), error = %e, "invocation failed");
            Err(e.into())
        }
    }
}
