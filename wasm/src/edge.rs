//! The pure-Rust layer under the bindings: everything here runs natively in unit tests.

use chrono::{DateTime, Utc};
use edge_persist_core::{Config, EdgeError, Environment, Injector, handle_event};

/// A failure the JS side sees as an `Error` with `name = kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable name: `EdgeError::kind()` for event errors, so it equals edge-fn's `errorType`.
    pub kind: &'static str,
    pub message: String,
}

impl Failure {
    fn argument(message: String) -> Self {
        Self {
            kind: "InvalidArgument",
            message,
        }
    }
}

impl From<EdgeError> for Failure {
    fn from(e: EdgeError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// One execution environment: a validated injector and the environment's state.
#[derive(Debug)]
pub struct Edge {
    injector: Injector,
    env: Environment,
}

impl Edge {
    pub fn new(config_json: &str, environment_id: &str, now_ms: f64) -> Result<Self, Failure> {
        let injector = Config::from_json(config_json)
            .and_then(Config::validate)
            .map_err(|e| Failure {
                kind: "ConfigError",
                message: e.to_string(),
            })?;
        let env = Environment::new(check_id(environment_id)?, time(now_ms)?);
        Ok(Self { injector, env })
    }

    /// The request CloudFront should forward, as JSON.
    pub fn handle(&self, event_json: &str, now_ms: f64) -> Result<String, Failure> {
        let now = time(now_ms)?;
        // Parse errors are `InvalidEvent`, worded as edge-fn words a body it cannot parse.
        let event =
            serde_json::from_str(event_json).map_err(|e| EdgeError::InvalidEvent(e.to_string()))?;
        let handled = handle_event(&self.injector, &self.env, event, now)?;
        serde_json::to_string(&handled.request).map_err(|e| Failure {
            kind: "InvalidEvent",
            message: e.to_string(),
        })
    }

    pub fn reset(&self, environment_id: &str, now_ms: f64) -> Result<(), Failure> {
        self.env.reset(check_id(environment_id)?, time(now_ms)?);
        Ok(())
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    pub fn config_json(&self) -> String {
        serde_json::to_string(self.injector.config()).unwrap_or_default()
    }
}

/// `Date.now()` milliseconds; NaN, infinities and out-of-range values are caller bugs.
fn time(now_ms: f64) -> Result<DateTime<Utc>, Failure> {
    // Messages avoid formatting the f64 itself: float formatting alone is ~15 KB of wasm.
    if !now_ms.is_finite() {
        return Err(Failure::argument(
            "now must be a finite number of milliseconds (Date.now())".into(),
        ));
    }
    let ms = now_ms as i64; // saturating: out-of-range values fail just below
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        Failure::argument(format!(
            "now {ms} ms is outside the representable time range"
        ))
    })
}

/// The id ends up in a header value, so it must be non-empty visible ASCII.
fn check_id(id: &str) -> Result<&str, Failure> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::argument(format!(
            "environment id must be non-empty visible ASCII, got {id:?}"
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const T0: f64 = 1_795_737_600_000.0; // 2026-11-27T00:00:00Z

    fn event(event_type: &str) -> String {
        serde_json::json!({"Records": [{"cf": {
            "config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1",
                       "eventType": event_type, "requestId": "r1"},
            "request": {"clientIp": "203.0.113.1", "method": "GET", "uri": "/", "querystring": "",
                        "headers": {"custom_header": [{"key": "Custom_Header", "value": "spoofed"}]}}
        }}]})
        .to_string()
    }

    fn header(request: &str, name: &str) -> String {
        let v: Value = serde_json::from_str(request).unwrap();
        v["headers"][name][0]["value"].as_str().unwrap().to_owned()
    }

    #[test]
    fn persists_the_first_time_and_counts_invocations() {
        let edge = Edge::new("", "abc", T0).unwrap();
        let first = edge.handle(&event("origin-request"), T0 + 7.0).unwrap();
        let second = edge.handle(&event("viewer-request"), T0 + 1000.0).unwrap();
        assert_eq!(header(&first, "custom_header"), "2026-11-27T00:00:00.007Z");
        assert_eq!(header(&second, "custom_header"), "2026-11-27T00:00:00.007Z");
        assert_eq!(header(&first, "x-persist-start"), "cold");
        assert_eq!(header(&second, "x-persist-start"), "warm");
        assert_eq!(header(&second, "x-persist-invocation"), "2");
        assert_eq!(header(&second, "x-persist-env-age-ms"), "1000");
        assert_eq!(edge.environment().invocations(), 2);
    }

    #[test]
    fn errors_carry_the_core_kind() {
        let edge = Edge::new("{}", "abc", T0).unwrap();
        let e = edge.handle(&event("origin-response"), T0).unwrap_err();
        assert_eq!(e.kind, "UnsupportedEventType");
        assert_eq!(
            e.message,
            EdgeError::UnsupportedEventType("origin-response").to_string()
        );
        assert_eq!(
            edge.handle("not json", T0).unwrap_err().kind,
            "InvalidEvent"
        );
        assert_eq!(edge.handle("{}", T0).unwrap_err().kind, "InvalidEvent");
        assert_eq!(
            edge.environment().invocations(),
            0,
            "failed events are not invocations"
        );
    }

    #[test]
    fn bad_config_time_and_id_are_errors_not_panics() {
        assert_eq!(
            Edge::new(r#"{"persisted_header":"x-edge-no"}"#, "a", T0)
                .unwrap_err()
                .kind,
            "ConfigError"
        );
        assert_eq!(Edge::new("[", "a", T0).unwrap_err().kind, "ConfigError");
        assert_eq!(Edge::new("", "", T0).unwrap_err().kind, "InvalidArgument");
        assert_eq!(
            Edge::new("", "a\nb", T0).unwrap_err().kind,
            "InvalidArgument"
        );
        let edge = Edge::new("", "a", T0).unwrap();
        for bad in [f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(
                edge.handle(&event("origin-request"), bad).unwrap_err().kind,
                "InvalidArgument"
            );
        }
    }

    #[test]
    fn reset_starts_cold_with_a_new_id() {
        let edge = Edge::new("", "a", T0).unwrap();
        edge.handle(&event("origin-request"), T0).unwrap();
        edge.reset("b", T0 + 5.0).unwrap();
        let r = edge.handle(&event("origin-request"), T0 + 9.0).unwrap();
        assert_eq!(header(&r, "x-persist-env-id"), "b");
        assert_eq!(header(&r, "x-persist-start"), "cold");
        assert_eq!(header(&r, "custom_header"), "2026-11-27T00:00:00.009Z");
    }
}
