//! The edge function's behaviour, shared by `edge-fn` (native) and the wasm package, so both
//! give the same result and the same errors for the same event.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cloudfront::{CloudFrontEvent, EventType, Request};
use crate::environment::{Environment, Invocation};
use crate::headers::HeaderError;
use crate::inject::Injector;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeError {
    #[error("malformed CloudFront event: {0}")]
    InvalidEvent(String),
    #[error(
        "{0} events are not handled: this function takes viewer-request and origin-request events"
    )]
    UnsupportedEventType(&'static str),
    #[error(transparent)]
    Header(#[from] HeaderError),
}

impl EdgeError {
    /// Stable `errorType` for Lambda diagnostics and the JS `Error.name`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::UnsupportedEventType(_) => "UnsupportedEventType",
            Self::Header(h) => h.kind(),
        }
    }
}

/// One handled request event.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The request to return to CloudFront.
    pub request: Request,
    pub invocation: Invocation,
    pub event_type: EventType,
    /// CloudFront's request id (`cf.config.requestId`).
    pub cf_request_id: Option<String>,
}

/// Parse a CloudFront event, count the invocation and inject the headers.
///
/// A malformed event or a response trigger is an error and does not count as an invocation:
/// the persisted value is created by the first request the function actually handles.
pub fn handle_event(
    injector: &Injector,
    env: &Environment,
    event: Value,
    now: DateTime<Utc>,
) -> Result<Handled, EdgeError> {
    let event: CloudFrontEvent =
        serde_json::from_value(event).map_err(|e| EdgeError::InvalidEvent(e.to_string()))?;
    let Some(cf) = event.single() else {
        return Err(EdgeError::InvalidEvent(format!(
            "expected exactly one record, got {}",
            event.records.len()
        )));
    };
    let event_type = cf.config.event_type;
    if !event_type.is_request() {
        return Err(EdgeError::UnsupportedEventType(event_type.as_str()));
    }
    let mut request = cf.request.clone();
    let invocation = env.invoke(now);
    injector.apply(&mut request, &invocation)?;
    Ok(Handled {
        request,
        invocation,
        event_type,
        cf_request_id: cf.config.request_id.clone(),
    })
}
