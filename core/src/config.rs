//! Configuration: one typed struct with defaults, validated once at start.
//!
//! Lambda@Edge has no environment variables, so at the edge the config is compiled in or passed
//! by the wrapper as JSON ([`Config::from_json`]); the native functions also read env vars
//! ([`Config::from_lookup`]).

use serde::{Deserialize, Serialize};

use crate::edge_headers;
use crate::headers::{self, HeaderError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Header that carries the persisted value (the article's `custom_header`).
    pub persisted_header: String,
    /// Also add the environment headers below.
    pub environment_headers: bool,
    /// Execution-environment id (128-bit random hex).
    pub environment_id_header: String,
    /// Invocation number in this environment, from 1.
    pub invocation_header: String,
    /// `cold` on the first invocation of the environment, `warm` after.
    pub temperature_header: String,
    /// Milliseconds since the environment started.
    pub age_header: String,
    pub sessions: SessionConfig,
}

/// Per-session state at the edge (see `session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub enabled: bool,
    /// Cookie holding the session token (alb-fn issues it).
    pub cookie: String,
    /// Header holding the token when there is no cookie (API clients); `None`: cookie only.
    pub token_header: Option<String>,
    /// Hard budget in bytes; `None`: an eighth of the function's memory, 16 MiB if unknown.
    pub budget_bytes: Option<u64>,
    /// Idle time after which a session is forgotten.
    pub ttl_ms: u64,
    /// `new` when this environment had no live entry for the session, else `known`.
    pub state_header: String,
    /// When this environment first saw the session (RFC 3339, ms).
    pub first_seen_header: String,
    /// Requests of the session in this environment, this one included.
    pub hits_header: String,
    /// Store statistics as an EMF line at most once per this many invocations...
    pub metrics_every_invocations: u64,
    /// ...or this many milliseconds.
    pub metrics_every_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            persisted_header: "custom_header".into(),
            environment_headers: true,
            environment_id_header: "x-persist-env-id".into(),
            invocation_header: "x-persist-invocation".into(),
            temperature_header: "x-persist-start".into(),
            age_header: "x-persist-env-age-ms".into(),
            sessions: SessionConfig::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            cookie: "edge_session".into(),
            token_header: None,
            budget_bytes: None,
            ttl_ms: 30 * 60 * 1000,
            state_header: "x-persist-session".into(),
            first_seen_header: "x-persist-session-first-seen".into(),
            hits_header: "x-persist-session-hits".into(),
            metrics_every_invocations: 100,
            metrics_every_ms: 60_000,
        }
    }
}

impl SessionConfig {
    /// The budget in bytes for a function with `memory_mb` of memory (if known).
    pub fn budget_for(&self, memory_mb: Option<u64>) -> u64 {
        self.budget_bytes.unwrap_or(match memory_mb {
            Some(mb) => mb * 1024 * 1024 / 8,
            None => 16 * 1024 * 1024,
        })
    }
}

type Setter = fn(&mut Config, String) -> Result<(), String>;

/// Environment variables read by [`Config::from_lookup`].
pub const ENV_VARS: &[(&str, Setter)] = &[
    ("EDGE_PERSIST_HEADER", |c, v| {
        set(&mut c.persisted_header, v)
    }),
    ("EDGE_PERSIST_ENV_HEADERS", |c, v| {
        set(&mut c.environment_headers, parse_bool(&v)?)
    }),
    ("EDGE_PERSIST_ENV_ID_HEADER", |c, v| {
        set(&mut c.environment_id_header, v)
    }),
    ("EDGE_PERSIST_INVOCATION_HEADER", |c, v| {
        set(&mut c.invocation_header, v)
    }),
    ("EDGE_PERSIST_TEMPERATURE_HEADER", |c, v| {
        set(&mut c.temperature_header, v)
    }),
    ("EDGE_PERSIST_AGE_HEADER", |c, v| set(&mut c.age_header, v)),
    ("EDGE_PERSIST_SESSIONS", |c, v| {
        set(&mut c.sessions.enabled, parse_bool(&v)?)
    }),
    ("EDGE_PERSIST_SESSION_COOKIE", |c, v| {
        set(&mut c.sessions.cookie, v)
    }),
    ("EDGE_PERSIST_SESSION_TOKEN_HEADER", |c, v| {
        set(
            &mut c.sessions.token_header,
            Some(v).filter(|v| !v.is_empty()),
        )
    }),
    ("EDGE_PERSIST_SESSION_BUDGET_BYTES", |c, v| {
        set(&mut c.sessions.budget_bytes, Some(parse_u64(&v)?))
    }),
    ("EDGE_PERSIST_SESSION_TTL_MS", |c, v| {
        set(&mut c.sessions.ttl_ms, parse_u64(&v)?)
    }),
    ("EDGE_PERSIST_METRICS_EVERY_INVOCATIONS", |c, v| {
        set(&mut c.sessions.metrics_every_invocations, parse_u64(&v)?)
    }),
    ("EDGE_PERSIST_METRICS_EVERY_MS", |c, v| {
        set(&mut c.sessions.metrics_every_ms, parse_u64(&v)?)
    }),
];

fn set<T>(field: &mut T, value: T) -> Result<(), String> {
    *field = value;
    Ok(())
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_u64(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| "expected a whole number".into())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config field {field}: {source}")]
    Header {
        field: &'static str,
        source: HeaderError,
    },
    #[error("config fields {0} and {1} name the same header")]
    Duplicate(&'static str, &'static str),
    #[error("{var}={value:?}: {reason}")]
    BadVar {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("config JSON: {0}")]
    Json(String),
    #[error("sessions.cookie {0:?} is not a cookie name (RFC 6265 token)")]
    BadCookieName(String),
    #[error("sessions: {0}")]
    Sessions(String),
}

impl Config {
    /// Defaults overridden by the variables in [`ENV_VARS`]; `lookup` is `std::env::var(..).ok()`
    /// natively (core reads no environment itself).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        for &(var, set) in ENV_VARS {
            if let Some(value) = lookup(var) {
                set(&mut config, value.clone()).map_err(|reason| ConfigError::BadVar {
                    var,
                    value,
                    reason,
                })?;
            }
        }
        Ok(config)
    }

    /// Parse a JSON config (the wasm wrapper's form); missing fields take their defaults.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(json).map_err(|e| ConfigError::Json(e.to_string()))
    }

    /// Validate once, at start: every name a token, not disallowed, not read-only, no two alike.
    /// (`Injector::new` validates: it is the only way to inject.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let names: Vec<(&'static str, &str)> = edge_headers::enabled(self)
            .map(|(h, name)| (h.field, name))
            .collect();
        for (i, &(field, name)) in names.iter().enumerate() {
            headers::validate_settable_name(name)
                .map_err(|source| ConfigError::Header { field, source })?;
            if let Some(&(other, _)) = names[..i]
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
            {
                return Err(ConfigError::Duplicate(other, field));
            }
        }
        let s = &self.sessions;
        if s.enabled {
            if headers::validate_name(&s.cookie).is_err() {
                return Err(ConfigError::BadCookieName(s.cookie.clone()));
            }
            if let Some(h) = &s.token_header {
                headers::validate_name(h).map_err(|source| ConfigError::Header {
                    field: "sessions.token_header",
                    source,
                })?;
            }
            if s.ttl_ms == 0 {
                return Err(ConfigError::Sessions("ttl_ms must be at least 1".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn env_lookup_overrides_and_rejects_bad_values() {
        let c = Config::from_lookup(|k| (k == "EDGE_PERSIST_HEADER").then(|| "x-value".to_owned()))
            .unwrap();
        assert_eq!(c.persisted_header, "x-value");
        let c = Config::from_lookup(|k| {
            (k == "EDGE_PERSIST_SESSION_BUDGET_BYTES").then(|| "4096".to_owned())
        })
        .unwrap();
        assert_eq!(c.sessions.budget_bytes, Some(4096));
        for var in ["EDGE_PERSIST_ENV_HEADERS", "EDGE_PERSIST_SESSION_TTL_MS"] {
            let err = Config::from_lookup(|k| (k == var).then(|| "maybe".to_owned()));
            assert!(matches!(err, Err(ConfigError::BadVar { .. })), "{var}");
        }
    }

    #[test]
    fn duplicate_names_in_any_case_are_refused() {
        let c = Config {
            invocation_header: "Custom_Header".into(),
            ..Config::default()
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Duplicate(
                "persisted_header",
                "invocation_header"
            ))
        );
    }

    #[test]
    fn unused_names_are_not_checked() {
        let mut c = Config {
            environment_headers: false,
            age_header: "x-edge-bad".into(),
            ..Config::default()
        };
        c.sessions.enabled = false;
        c.sessions.hits_header = "connection".into();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn session_names_are_checked() {
        let mut c = Config::default();
        c.sessions.hits_header = "X-Amz-Cf-Hits".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Header {
                field: "sessions.hits_header",
                ..
            })
        ));
        let mut c = Config::default();
        c.sessions.cookie = "bad cookie".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadCookieName(_))));
    }

    #[test]
    fn json_config_rejects_unknown_fields() {
        assert!(matches!(
            Config::from_json(r#"{"persisted_headr":"x"}"#),
            Err(ConfigError::Json(_))
        ));
        assert_eq!(Config::from_json("").unwrap(), Config::default());
        let c = Config::from_json(r#"{"sessions":{"budget_bytes":4096}}"#).unwrap();
        assert_eq!(
            (c.sessions.budget_bytes, c.sessions.enabled),
            (Some(4096), true)
        );
    }

    #[test]
    fn budget_defaults_to_an_eighth_of_memory() {
        let s = SessionConfig::default();
        assert_eq!(s.budget_for(Some(128)), 16 * 1024 * 1024);
        assert_eq!(s.budget_for(None), 16 * 1024 * 1024);
        assert_eq!(s.budget_for(Some(1024)), 128 * 1024 * 1024);
    }
}
