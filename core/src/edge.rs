//! The edge function's behaviour, shared by `edge-fn` (native) and the wasm package, so both
//! give the same result and the same errors for the same event.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cloudfront::{CloudFrontEvent, EventType, Request};
use crate::config::Config;
use crate::environment::{Environment, Invocation};
use crate::headers::HeaderError;
use crate::inject::Injector;
use crate::metrics::MetricsGate;
use crate::session::{SessionError, SessionStore, Visit};
use crate::{ConfigError, token};

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

/// An error building the function at init.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Sessions(#[from] SessionError),
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
    /// The session's visit, when the request carried a well-formed session token.
    pub session: Option<Visit>,
    /// A CloudWatch EMF line of store statistics, when one is due: print it alone on a line.
    pub metrics: Option<String>,
}

/// Everything one execution environment of the edge function keeps between invocations.
/// `Send + Sync`; built once at init, before the first event.
#[derive(Debug)]
pub struct EdgeFunction {
    injector: Injector,
    env: Environment,
    sessions: Option<SessionStore>,
    metrics: MetricsGate,
    name: String,
}

/// What the caller supplies at init: core has no randomness, clock or environment of its own.
#[derive(Debug, Clone)]
pub struct Init {
    /// Function name, the EMF dimension.
    pub function_name: String,
    /// 128 random bits, hex (see [`crate::id_from_bytes`]).
    pub environment_id: String,
    /// 128 random bits that key the session-token hash.
    pub session_secret: [u8; 16],
    /// The function's memory in MB, where known (sets the default session budget).
    pub memory_mb: Option<u64>,
    pub now: DateTime<Utc>,
}

impl EdgeFunction {
    pub fn new(config: Config, init: Init) -> Result<Self, InitError> {
        let injector = Injector::new(config)?;
        let s = &injector.config().sessions;
        let sessions = match s.enabled {
            true => Some(SessionStore::new(
                s.budget_for(init.memory_mb),
                s.ttl_ms,
                init.session_secret,
            )?),
            false => None,
        };
        let metrics = MetricsGate::new(s.metrics_every_invocations, s.metrics_every_ms);
        let env = Environment::new(init.environment_id, init.now);
        Ok(Self {
            injector,
            env,
            sessions,
            metrics,
            name: init.function_name,
        })
    }

    pub fn injector(&self) -> &Injector {
        &self.injector
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    pub fn sessions(&self) -> Option<&SessionStore> {
        self.sessions.as_ref()
    }

    /// New identity after a SnapStart restore: new id, new value, no sessions. The session
    /// secret stays: sessions are cleared, so no old key can match anything.
    pub fn reset(&self, environment_id: String, now: DateTime<Utc>) {
        self.env.reset(environment_id, now);
        if let Some(s) = &self.sessions {
            s.clear();
        }
    }

    /// Parse a CloudFront event, count the invocation, record the session's visit and inject
    /// the headers.
    ///
    /// A malformed event or a response trigger is an error and does not count as an invocation:
    /// the persisted value is created by the first request the function actually handles.
    pub fn handle(&self, event: Value, now: DateTime<Utc>) -> Result<Handled, EdgeError> {
        let event: CloudFrontEvent =
            serde_json::from_value(event).map_err(|e| EdgeError::InvalidEvent(e.to_string()))?;
        self.handle_event(event, now)
    }

    /// [`Self::handle`] from the event's JSON text, parsed straight into the typed event (no
    /// `Value` in between): what edge-fn and the wasm package both call, so both word a malformed
    /// event alike (`serde_json`'s message, with the line and column where the text is wrong).
    pub fn handle_json(&self, text: &str, now: DateTime<Utc>) -> Result<Handled, EdgeError> {
        let event = serde_json::from_str::<CloudFrontEvent>(text)
            .map_err(|e| EdgeError::InvalidEvent(e.to_string()))?;
        self.handle_event(event, now)
    }

    fn handle_event(
        &self,
        event: CloudFrontEvent,
        now: DateTime<Utc>,
    ) -> Result<Handled, EdgeError> {
        let records = event.records.len();
        let Some(cf) = event.into_single() else {
            return Err(EdgeError::InvalidEvent(format!(
                "expected exactly one record, got {records}"
            )));
        };
        let event_type = cf.config.event_type;
        if !event_type.is_request() {
            return Err(EdgeError::UnsupportedEventType(event_type.as_str()));
        }
        let mut request = cf.request;
        let invocation = self.env.invoke(now);
        let session = self.sessions.as_ref().and_then(|store| {
            let token = self.session_token(&request)?;
            Some(store.visit(store.key(token), now))
        });
        self.injector
            .apply(&mut request, &invocation, session.as_ref())?;
        let metrics = self.sessions.as_ref().and_then(|store| {
            self.metrics
                .poll(&self.name, invocation.number, || store.stats(), now)
        });
        Ok(Handled {
            request,
            invocation,
            event_type,
            cf_request_id: cf.config.request_id,
            session,
            metrics,
        })
    }

    /// The session token: the cookie, else the configured header; only well-formed ones.
    fn session_token<'r>(&self, request: &'r Request) -> Option<&'r str> {
        let s = &self.injector.config().sessions;
        token::from_cookies(request.header_values("cookie"), &s.cookie).or_else(|| {
            let name = s.token_header.as_deref()?;
            request
                .header_values(name)
                .next()
                .filter(|t| token::is_well_formed(t))
        })
    }
}
