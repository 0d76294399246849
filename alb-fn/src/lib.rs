//! The article's backend: an ALB target that logs the request headers and says hello.
//!
//! It also reads what the edge added (the persisted value and the edge environment headers)
//! and hands it back in response headers, so a client sees persistence without CloudWatch.

use std::collections::BTreeMap;

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use chrono::{DateTime, Utc};
use edge_persist_core::echo::ORIGIN_ENVIRONMENT_HEADER;
use edge_persist_core::{
    Config, ConfigError, Echoed, Environment, edge_headers, format_time, id_from_bytes, token,
};
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use lambda_runtime::{BoxFuture, Error, SnapStartResource};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Cookie attributes of the session cookie alb-fn issues: not readable by scripts, HTTPS only,
/// sent on top-level navigation from other sites but not on their subrequests.
pub const SESSION_COOKIE_ATTRIBUTES: &str = "Path=/; HttpOnly; Secure; SameSite=Lax";

/// One execution environment of the origin function.
#[derive(Debug)]
pub struct AlbState {
    /// Names of the headers the edge sets (same variables as edge-fn).
    pub config: Config,
    pub env: Environment,
}

impl AlbState {
    pub fn new(config: Config, environment_id: String) -> Self {
        Self {
            config,
            env: Environment::new(environment_id, Utc::now()),
        }
    }

    pub fn from_env(environment_id: String) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(|k| std::env::var(k).ok())?;
        // Same validation as the edge: a name the edge could not set is a configuration error.
        config.validate()?;
        Ok(Self::new(config, environment_id))
    }
}

impl SnapStartResource for AlbState {
    /// Restored copies of one snapshot must not share the id made at init.
    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.env.reset(random_id()?, Utc::now());
            Ok(())
        })
    }
}

/// 128 random bits from the OS as 32 hex digits.
pub fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(id_from_bytes(bytes))
}

#[derive(Debug, thiserror::Error)]
pub enum AlbError {
    #[error("malformed ALB target event: {0}")]
    InvalidEvent(String),
    #[error("request body is marked base64 but is not: {0}")]
    InvalidBase64(String),
}

impl From<AlbError> for Diagnostic {
    fn from(e: AlbError) -> Self {
        let error_type = match e {
            AlbError::InvalidEvent(_) => "InvalidEvent",
            AlbError::InvalidBase64(_) => "InvalidBody",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handler(state: &AlbState, event: LambdaEvent<Value>) -> Result<Value, AlbError> {
    handle_at(state, event, Utc::now())
}

/// [`handler`] with the clock passed in.
pub fn handle_at(
    state: &AlbState,
    event: LambdaEvent<Value>,
    now: DateTime<Utc>,
) -> Result<Value, AlbError> {
    let (payload, context) = event.into_parts();
    // The target group's multi-value attribute decides the mode; the answer must use the same.
    let multi = payload
        .get("multiValueHeaders")
        .is_some_and(|v| !v.is_null());
    let request: AlbTargetGroupRequest =
        serde_json::from_value(payload).map_err(|e| AlbError::InvalidEvent(e.to_string()))?;
    let body_bytes = body_len(&request)?;
    let headers = collect_headers(if multi {
        &request.multi_value_headers
    } else {
        &request.headers
    });
    let first = |name: &str| {
        headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .cloned()
    };

    let c = &state.config;
    let persisted = first(&c.persisted_header);
    // Every other header the edge sets, from core's one table, under its label.
    let edge: BTreeMap<&str, String> = edge_headers::enabled(c)
        .filter(|(h, _)| h.group != edge_headers::Group::Persisted)
        .filter_map(|(h, name)| first(name).map(|v| (h.label, v)))
        .collect();
    let origin = state.env.invoke(now);
    let sessions = &c.sessions;
    let has_session = !sessions.enabled
        || token::from_cookies(
            headers
                .get("cookie")
                .into_iter()
                .flatten()
                .map(String::as_str),
            &sessions.cookie,
        )
        .is_some();

    tracing::info!(
        request_id = %context.request_id,
        environment_id = %origin.environment_id,
        start = origin.temperature(),
        persisted = persisted.as_deref().unwrap_or(""),
        method = %request.http_method,
        path = request.path.as_deref().unwrap_or(""),
        headers = %serde_json::to_string(&redacted(&headers, c)).unwrap_or_default(),
        "request headers"
    );

    let time = format_time(now);
    let wants_json = headers.get("accept").is_some_and(|values| {
        values
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("application/json"))
    });
    let (content_type, body) = if wants_json {
        let shown: Value = if multi {
            json!(headers)
        } else {
            json!(single_values(&headers))
        };
        let doc = json!({
            "message": "Hello from Lambda!",
            "time": time,
            "persisted": persisted,
            "edge": edge,
            "headers": shown,
            "origin": {
                "environment_id": &*origin.environment_id,
                "invocation": origin.number,
                "start": origin.temperature(),
                "persisted": &*origin.persisted,
            },
            "request_body_bytes": body_bytes,
        });
        ("application/json", doc.to_string())
    } else {
        (
            "text/plain; charset=utf-8",
            format!("Hello from Lambda! {time}"),
        )
    };

    let mut out = HeaderMap::new();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Values came in as valid header values; from_str re-checks rather than trusts.
    let echoed = Echoed::ALL
        .into_iter()
        .filter_map(|e| Some((e.response_header(), first(e.request_header(c))?)));
    let own = (ORIGIN_ENVIRONMENT_HEADER, origin.environment_id.to_string());
    for (name, value) in echoed.chain([own]) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    }
    if !has_session {
        // A new 128-bit token; without OS randomness we issue none rather than a guessable one.
        match random_id() {
            Ok(id) => {
                let cookie = format!("{}={id}; {SESSION_COOKIE_ATTRIBUTES}", sessions.cookie);
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    out.insert(SET_COOKIE, v);
                }
            }
            Err(e) => tracing::error!(error = %e, "no OS randomness: no session cookie issued"),
        }
    }
    Ok(response(multi, out, body))
}

fn response(multi: bool, headers: HeaderMap, body: String) -> Value {
    let mut resp = AlbTargetGroupResponse::default();
    resp.status_code = 200;
    resp.status_description = Some("200 OK".to_owned());
    resp.body = Some(Body::Text(body));
    resp.is_base64_encoded = false;
    if multi {
        resp.multi_value_headers = headers;
    } else {
        resp.headers = headers;
    }
    let mut value = serde_json::to_value(resp).unwrap_or_else(|_| json!({"statusCode": 500}));
    // The type serialises both header fields; ALB wants only the one of the current mode.
    if let Value::Object(map) = &mut value {
        map.remove(if multi {
            "headers"
        } else {
            "multiValueHeaders"
        });
    }
    value
}

fn body_len(request: &AlbTargetGroupRequest) -> Result<usize, AlbError> {
    match (&request.body, request.is_base64_encoded) {
        (None, _) => Ok(0),
        (Some(b), false) => Ok(b.len()),
        (Some(b), true) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map(|bytes| bytes.len())
            .map_err(|e| AlbError::InvalidBase64(e.to_string())),
    }
}

/// Lowercase name -> values in order. Non-UTF-8 (obs-text) values are shown lossily.
fn collect_headers(map: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in map {
        out.entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out
}

/// Headers as logged: credentials and session tokens never reach CloudWatch.
fn redacted(
    headers: &BTreeMap<String, Vec<String>>,
    config: &Config,
) -> BTreeMap<String, Vec<String>> {
    let token_header = config.sessions.token_header.as_deref().unwrap_or_default();
    let secret = |name: &str| {
        ["cookie", "authorization", "proxy-authorization"].contains(&name)
            || name.eq_ignore_ascii_case(token_header)
    };
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if secret(k) {
                    vec!["[redacted]".to_owned(); v.len()]
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

fn single_values(headers: &BTreeMap<String, Vec<String>>) -> BTreeMap<&str, &str> {
    headers
        .iter()
        .filter_map(|(k, v)| v.last().map(|last| (k.as_str(), last.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_headers_hide_credentials_and_session_tokens() {
        let mut config = Config::default();
        config.sessions.token_header = Some("X-Session-Id".into());
        let headers: BTreeMap<String, Vec<String>> = [
            ("cookie", "edge_session=0123456789abcdef"),
            ("authorization", "Bearer abc"),
            ("x-session-id", "0123456789abcdef"),
            ("custom_header", "2026-11-27T00:00:00.000Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
        .collect();
        let logged = serde_json::to_string(&redacted(&headers, &config)).unwrap();
        assert!(
            !logged.contains("0123456789abcdef") && !logged.contains("Bearer"),
            "{logged}"
        );
        assert!(
            logged.contains("2026-11-27T00:00:00.000Z"),
            "the persisted value is what the article reads"
        );
    }
}
