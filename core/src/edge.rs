//! The edge function's behaviour, shared by `edge-fn` (native) and the wasm package, so both
//! give the same result and the same errors for the same event.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cloudfront::{CloudFrontEvent, CompactString, EventType, Request};
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
    pub cf_request_id: Option<CompactString>,
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
        self.handle_event(parse_event(text)?, now)
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

/// The event's JSON text, typed: the one parse [`EdgeFunction::handle_json`] and
/// [`EdgeFunction::handle_json_changes`] share, so both word a malformed event alike.
fn parse_event(text: &str) -> Result<CloudFrontEvent, EdgeError> {
    serde_json::from_str(text).map_err(|e| EdgeError::InvalidEvent(e.to_string()))
}

/// What handling one event changed in its request's header map, for a host that keeps the event
/// object it passed in and applies the change to it in place (the wasm package's JS wrapper)
/// instead of taking the whole request back: delete every key of `removed`, then set every key
/// of `set` to its entries in [`Handled::request`]. Only the headers of the one table
/// ([`crate::edge_headers`]) ever change, so only their keys are compared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderChanges {
    /// Keys of the event's header map that the returned request no longer has (a client's
    /// spoofed copy under another letter case, a session header on a request without a session).
    pub removed: Vec<CompactString>,
    /// Keys of the returned request's header map that handling set, in its map's order.
    pub set: Vec<CompactString>,
}

impl EdgeFunction {
    /// [`Self::handle_json`], and what it changed in the request's headers.
    pub fn handle_json_changes(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(Handled, HeaderChanges), EdgeError> {
        let event = parse_event(text)?;
        let ours = |key: &str| self.injector.is_ours(key);
        // Before handling: the keys handling may replace or remove (usually none at all).
        let before: Vec<CompactString> = event
            .single()
            .map(|cf| {
                cf.request
                    .headers
                    .keys()
                    .filter(|k| ours(k))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let handled = self.handle_event(event, now)?;
        let headers = &handled.request.headers;
        let changes = HeaderChanges {
            removed: before
                .into_iter()
                .filter(|k| !headers.contains_key(k))
                .collect(),
            set: headers.keys().filter(|k| ours(k)).cloned().collect(),
        };
        Ok((handled, changes))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    fn function() -> EdgeFunction {
        let now = t0();
        let init = Init {
            function_name: "edge-fn".into(),
            environment_id: "0".repeat(32),
            session_secret: [7; 16],
            memory_mb: Some(128),
            now,
        };
        EdgeFunction::new(Config::default(), init).unwrap()
    }

    fn event(headers: serde_json::Value) -> String {
        json!({"Records": [{"cf": {
            "config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1",
                       "eventType": "origin-request", "requestId": "r1"},
            "request": {"clientIp": "203.0.113.1", "method": "GET", "uri": "/",
                        "querystring": "", "headers": headers}
        }}]})
        .to_string()
    }

    /// The original request's headers with `changes` applied, as the JS wrapper applies them.
    fn applied(
        text: &str,
        handled: &Handled,
        changes: &HeaderChanges,
    ) -> crate::cloudfront::Headers {
        let mut headers = parse_event(text)
            .unwrap()
            .into_single()
            .unwrap()
            .request
            .headers;
        for key in &changes.removed {
            headers.remove(key);
        }
        for key in &changes.set {
            headers.insert(key.clone(), handled.request.headers[key].clone());
        }
        headers
    }

    #[test]
    fn changes_applied_to_the_event_give_the_request_handle_json_gives() {
        let token = "a".repeat(32);
        let cases = [
            // Nothing of ours in the event: everything is set, nothing removed.
            json!({"host": [{"key": "Host", "value": "example.com"}]}),
            // A client's spoofs, lowercase and under other letter cases, and session headers
            // on a request without a session.
            json!({
                "custom_header": [{"key": "Custom_Header", "value": "spoofed"}],
                "Custom_Header": [{"key": "Custom_Header", "value": "spoofed"}],
                "X-Persist-Invocation": [{"value": "99"}],
                "x-persist-session-hits": [{"key": "X-Persist-Session-Hits", "value": "7"}],
                "accept": [{"key": "Accept", "value": "*/*"}],
            }),
            // A session: its headers are set, the spoofed one replaced.
            json!({
                "cookie": [{"key": "Cookie", "value": format!("edge_session={token}")}],
                "X-PERSIST-SESSION": [{"key": "X-Persist-Session", "value": "spoofed"}],
            }),
            json!({}),
        ];
        for headers in cases {
            let text = event(headers);
            let (handled, changes) = function().handle_json_changes(&text, t0()).unwrap();
            assert_eq!(
                applied(&text, &handled, &changes),
                handled.request.headers,
                "{text}"
            );
            // Only keys that differ are listed: nothing of the client's own headers.
            assert!(
                changes
                    .set
                    .iter()
                    .all(|k| k.starts_with("x-persist") || k == "custom_header")
            );
        }
        // Without the headers key at all the request gets one.
        let text = event(json!({}))
            .replace(r#","headers":{}"#, "")
            .replace(r#""headers":{},"#, "");
        assert!(!text.contains("headers"), "{text}");
        let (handled, changes) = function().handle_json_changes(&text, t0()).unwrap();
        assert!(changes.removed.is_empty());
        assert_eq!(changes.set.len(), handled.request.headers.len());
    }

    #[test]
    fn changes_and_handle_json_agree_on_the_result_and_on_every_error() {
        let now = t0();
        let good = event(json!({"custom_header": [{"value": "spoofed"}]}));
        let (with_changes, _) = function().handle_json_changes(&good, now).unwrap();
        assert_eq!(with_changes, function().handle_json(&good, now).unwrap());
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            good.replace("origin-request", "origin-response"),
            event(json!({"x-edge-spoof": [{"value": "\u{1}"}]})),
            event(json!({"big": [{"value": "v".repeat(20_480)}]})),
        ] {
            let (a, b) = (function(), function());
            assert_eq!(
                a.handle_json_changes(&bad, now).map(|(h, _)| h),
                b.handle_json(&bad, now),
                "{bad}"
            );
            // Counted alike: parse errors are not invocations, a refused result is.
            assert_eq!(a.environment().invocations(), b.environment().invocations());
        }
    }
}
