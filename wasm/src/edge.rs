//! The pure-Rust layer under the bindings: everything here runs natively in unit tests.

use chrono::{DateTime, Utc};
use edge_persist_core::cloudfront::{CompactString, Headers};
use edge_persist_core::{Config, EdgeError, EdgeFunction, Environment, Init, format_time};
use serde::Serialize;

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

/// What the JS host knows at init (Lambda's reserved variables, its RNG, its clock); core has
/// none of these itself.
#[derive(Debug, Clone)]
pub struct HostInit<'a> {
    pub config_json: &'a str,
    pub environment_id: &'a str,
    /// 16 random bytes: the key of the session-token hash.
    pub session_secret: &'a [u8],
    pub function_name: &'a str,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, when known: sets the default session budget.
    pub memory_mb: Option<f64>,
    pub now_ms: f64,
}

/// What the wrapper applies to the event's request object, in place: delete the keys of
/// `removed` from its `headers`, then set every key of `set` to its entries.
#[derive(Serialize)]
struct Changes<'a> {
    removed: &'a [CompactString],
    set: SetHeaders<'a>,
}

/// The `set` keys with their entries from the handled request, as one JSON object.
struct SetHeaders<'a> {
    keys: &'a [CompactString],
    headers: &'a Headers,
}

impl Serialize for SetHeaders<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.keys
                .iter()
                .filter_map(|k| self.headers.get(k.as_str()).map(|entries| (k, entries))),
        )
    }
}

/// The per-invocation log line, the fields (and their order) edge-fn logs: one JSON object, the
/// shape CloudWatch Logs Insights parses.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationLog<'a> {
    timestamp: &'a str,
    level: &'static str,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    cf_request_id: &'a str,
    event_type: &'static str,
    environment_id: &'a str,
    start: &'static str,
    invocation: u64,
    persisted: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_hits: Option<u64>,
}

/// One execution environment: core's [`EdgeFunction`], fed from JS values.
#[derive(Debug)]
pub struct Edge {
    inner: EdgeFunction,
}

impl Edge {
    pub fn new(init: HostInit<'_>) -> Result<Self, Failure> {
        let config = Config::from_json(init.config_json).map_err(|e| Failure {
            kind: "ConfigError",
            message: e.to_string(),
        })?;
        let session_secret: [u8; 16] = init.session_secret.try_into().map_err(|_| {
            Failure::argument(format!(
                "session secret must be 16 bytes, got {}",
                init.session_secret.len()
            ))
        })?;
        let memory_mb = match init.memory_mb {
            None => None,
            Some(mb) if (1.0..=10_240.0).contains(&mb) => Some(mb as u64),
            Some(_) => {
                return Err(Failure::argument(
                    "memory must be 1 to 10,240 MB (Lambda's range)".into(),
                ));
            }
        };
        let core_init = Init {
            function_name: init.function_name.to_owned(),
            environment_id: check_id(init.environment_id)?.to_owned(),
            session_secret,
            memory_mb,
            now: time(init.now_ms)?,
        };
        let inner = EdgeFunction::new(config, core_init).map_err(|e| Failure {
            kind: "ConfigError",
            message: e.to_string(),
        })?;
        Ok(Self { inner })
    }

    /// One event, answered as lines for the wrapper: the header [`Changes`] (JSON), the
    /// invocation's log line, and the EMF line when one is due. JSON never holds a raw newline,
    /// so the lines split on `\n`. `request_id`: Lambda's `awsRequestId`, logged.
    pub fn handle(
        &self,
        event_json: &str,
        now_ms: f64,
        request_id: Option<&str>,
    ) -> Result<String, Failure> {
        let now = time(now_ms)?;
        // The same typed parse as edge-fn: the same errors (`InvalidEvent`), worded alike.
        let (handled, changes) = self.inner.handle_json_changes(event_json, now)?;
        let inv = &handled.invocation;
        let mut out = Vec::with_capacity(512);
        let changes = Changes {
            removed: &changes.removed,
            set: SetHeaders {
                keys: &changes.set,
                headers: &handled.request.headers,
            },
        };
        let log = InvocationLog {
            timestamp: &format_time(now),
            level: "INFO",
            message: "invocation",
            request_id,
            cf_request_id: handled.cf_request_id.as_deref().unwrap_or_default(),
            event_type: handled.event_type.as_str(),
            environment_id: &inv.environment_id,
            start: inv.temperature(),
            invocation: inv.number,
            persisted: &inv.persisted,
            session_hits: handled.session.as_ref().map(|v| v.hits),
        };
        // Writing to a Vec fails only on a serializer error, which these types do not raise.
        let written = serde_json::to_writer(&mut out, &changes).and_then(|()| {
            out.push(b'\n');
            serde_json::to_writer(&mut out, &log)
        });
        if let Err(e) = written {
            return Err(Failure {
                kind: "InvalidEvent",
                message: e.to_string(),
            });
        }
        if let Some(metrics) = &handled.metrics {
            out.push(b'\n');
            out.extend_from_slice(metrics.as_bytes());
        }
        // serde_json writes UTF-8 and the EMF line is a String: this never fails.
        String::from_utf8(out).map_err(|e| Failure {
            kind: "InvalidEvent",
            message: e.to_string(),
        })
    }

    pub fn reset(&self, environment_id: &str, now_ms: f64) -> Result<(), Failure> {
        self.inner
            .reset(check_id(environment_id)?.to_owned(), time(now_ms)?);
        Ok(())
    }

    pub fn environment(&self) -> &Environment {
        self.inner.environment()
    }

    pub fn config_json(&self) -> String {
        serde_json::to_string(self.inner.injector().config()).unwrap_or_default()
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

    fn init<'a>(config_json: &'a str, id: &'a str) -> HostInit<'a> {
        HostInit {
            config_json,
            environment_id: id,
            session_secret: &[7; 16],
            function_name: "edge-fn",
            memory_mb: Some(128.0),
            now_ms: T0,
        }
    }

    fn event(event_type: &str, cookie: Option<&str>) -> String {
        let mut headers =
            serde_json::json!({"custom_header": [{"key": "Custom_Header", "value": "spoofed"}]});
        if let Some(c) = cookie {
            headers["cookie"] = serde_json::json!([{"key": "Cookie", "value": c}]);
        }
        serde_json::json!({"Records": [{"cf": {
            "config": {"distributionDomainName": "d.cloudfront.net", "distributionId": "E1",
                       "eventType": event_type, "requestId": "r1"},
            "request": {"clientIp": "203.0.113.1", "method": "GET", "uri": "/", "querystring": "",
                        "headers": headers}
        }}]})
        .to_string()
    }

    /// What the JS wrapper does with an answer: the event's request with the changes applied,
    /// the log line, the EMF line when there is one.
    struct Answer {
        request: Value,
        log: Value,
        metrics: Option<Value>,
    }

    fn answer(edge: &Edge, event: &str, now_ms: f64) -> Answer {
        let out = edge.handle(event, now_ms, Some("req-1")).unwrap();
        let mut lines = out.split('\n');
        let mut line = || {
            lines
                .next()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
        };
        let (changes, log, metrics) = (line().unwrap(), line().unwrap(), line());
        assert!(line().is_none(), "{out}");
        let mut request =
            serde_json::from_str::<Value>(event).unwrap()["Records"][0]["cf"]["request"].take();
        let headers = request["headers"].as_object_mut().unwrap();
        for key in changes["removed"].as_array().unwrap() {
            headers.remove(key.as_str().unwrap());
        }
        for (key, entries) in changes["set"].as_object().unwrap() {
            headers.insert(key.clone(), entries.clone());
        }
        Answer {
            request,
            log,
            metrics,
        }
    }

    fn header(out: &Answer, name: &str) -> String {
        out.request["headers"][name][0]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn persists_the_first_time_and_counts_invocations() {
        let edge = Edge::new(init("", "abc")).unwrap();
        let first = answer(&edge, &event("origin-request", None), T0 + 7.0);
        let second = answer(&edge, &event("viewer-request", None), T0 + 1000.0);
        assert_eq!(header(&first, "custom_header"), "2026-11-27T00:00:00.007Z");
        assert_eq!(header(&second, "custom_header"), "2026-11-27T00:00:00.007Z");
        assert_eq!(header(&first, "x-persist-start"), "cold");
        assert_eq!(header(&second, "x-persist-start"), "warm");
        assert_eq!(header(&second, "x-persist-invocation"), "2");
        assert_eq!(header(&second, "x-persist-env-age-ms"), "1000");
        // The client's spoofed copy is replaced, the rest of the request comes back as sent.
        assert_eq!(
            second.request["headers"]["custom_header"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(second.request["uri"], "/");
        assert_eq!(
            second.log,
            serde_json::json!({
                "timestamp": "2026-11-27T00:00:01.000Z", "level": "INFO",
                "message": "invocation", "requestId": "req-1", "cfRequestId": "r1",
                "eventType": "viewer-request", "environmentId": "abc", "start": "warm",
                "invocation": 2, "persisted": "2026-11-27T00:00:00.007Z"
            })
        );
        // The store's first statistics come with the first invocation, then not before due.
        assert_eq!(
            first.metrics.as_ref().map(|m| m["_aws"].is_object()),
            Some(true)
        );
        assert!(second.metrics.is_none());
        assert_eq!(edge.environment().invocations(), 2);
    }

    #[test]
    fn sessions_are_counted_per_cookie() {
        let edge = Edge::new(init("", "abc")).unwrap();
        let cookie = format!("edge_session={}", "a".repeat(32));
        answer(&edge, &event("origin-request", Some(&cookie)), T0);
        let out = answer(&edge, &event("origin-request", Some(&cookie)), T0 + 1.0);
        assert_eq!(out.log["sessionHits"], 2);
        assert_eq!(header(&out, "x-persist-session-hits"), "2");
    }

    #[test]
    fn errors_carry_the_core_kind() {
        let edge = Edge::new(init("{}", "abc")).unwrap();
        let e = edge
            .handle(&event("origin-response", None), T0, None)
            .unwrap_err();
        assert_eq!(e.kind, "UnsupportedEventType");
        assert_eq!(
            e.message,
            EdgeError::UnsupportedEventType("origin-response").to_string()
        );
        assert_eq!(
            edge.handle("not json", T0, None).unwrap_err().kind,
            "InvalidEvent"
        );
        assert_eq!(
            edge.handle("{}", T0, None).unwrap_err().kind,
            "InvalidEvent"
        );
        assert_eq!(
            edge.environment().invocations(),
            0,
            "failed events are not invocations"
        );
    }

    #[test]
    fn bad_config_time_id_secret_and_memory_are_errors_not_panics() {
        assert_eq!(
            Edge::new(init(r#"{"persisted_header":"x-edge-no"}"#, "a"))
                .unwrap_err()
                .kind,
            "ConfigError"
        );
        assert_eq!(Edge::new(init("[", "a")).unwrap_err().kind, "ConfigError");
        assert_eq!(Edge::new(init("", "")).unwrap_err().kind, "InvalidArgument");
        assert_eq!(
            Edge::new(init("", "a\nb")).unwrap_err().kind,
            "InvalidArgument"
        );
        assert_eq!(
            Edge::new(HostInit {
                session_secret: &[1; 15],
                ..init("", "a")
            })
            .unwrap_err()
            .kind,
            "InvalidArgument"
        );
        for mb in [0.0, -1.0, f64::NAN, 1e9] {
            assert_eq!(
                Edge::new(HostInit {
                    memory_mb: Some(mb),
                    ..init("", "a")
                })
                .unwrap_err()
                .kind,
                "InvalidArgument"
            );
        }
        assert!(
            Edge::new(HostInit {
                memory_mb: None,
                ..init("", "a")
            })
            .is_ok()
        );
        let edge = Edge::new(init("", "a")).unwrap();
        for bad in [f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(
                edge.handle(&event("origin-request", None), bad, None)
                    .unwrap_err()
                    .kind,
                "InvalidArgument"
            );
        }
    }

    #[test]
    fn reset_starts_cold_with_a_new_id() {
        let edge = Edge::new(init("", "a")).unwrap();
        edge.handle(&event("origin-request", None), T0, None)
            .unwrap();
        edge.reset("b", T0 + 5.0).unwrap();
        let r = answer(&edge, &event("origin-request", None), T0 + 9.0);
        assert_eq!(header(&r, "x-persist-env-id"), "b");
        assert_eq!(header(&r, "x-persist-start"), "cold");
        assert_eq!(header(&r, "custom_header"), "2026-11-27T00:00:00.009Z");
    }
}
